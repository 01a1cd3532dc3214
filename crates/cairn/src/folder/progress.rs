//! The progress bar of the commands that move whole folders: drawn on
//! standard error while standard output is a terminal, hidden otherwise
//! (a script's output stays clean).

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

/// A bar counting `files` files, or a hidden one.
pub fn files_bar(files: u64, verb: &str) -> ProgressBar {
    if !std::io::stdout().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(files);
    let template = format!("{verb} {{bar:40}} {{pos}}/{{len}} files, {{msg}} ({{elapsed}})");
    if let Ok(style) = ProgressStyle::with_template(&template) {
        bar.set_style(style);
    }
    bar.set_message(bytes(0));
    bar
}

/// `1.5 MiB`-style sizes for the bar and the summaries.
pub fn bytes(bytes: u64) -> String {
    indicatif::HumanBytes(bytes).to_string()
}
