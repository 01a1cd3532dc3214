//! `cairn log` and `cairn diff`: a file's past.

use serde::Serialize;

use crate::cli::HistoryCommand;
use crate::commands::Context;
use crate::exit::Failure;
use crate::render;

/// What `cairn diff --json` prints.
#[derive(Serialize)]
struct DiffOutput {
    diff: String,
}

pub async fn run(context: Context, command: HistoryCommand) -> Result<Vec<u8>, Failure> {
    let client = &context.client;
    match command {
        HistoryCommand::Log {
            store,
            path,
            limit,
            before,
            content,
        } => {
            let page = client
                .history(&store, &path, limit, before, content)
                .await?;
            context.show(&page, render::history)
        }
        HistoryCommand::Diff {
            store,
            path,
            from,
            to,
        } => {
            let diff = client.diff(&store, &path, from, to).await?;
            context.show(&DiffOutput { diff }, |output| output.diff.clone())
        }
    }
}
