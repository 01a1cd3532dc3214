//! What the CLI prints: pretty JSON of an answer (`--json`), or its human
//! form. Every function returns the text; `exit::finish` prints it.

mod access;
mod cluster;
mod files;
mod history;
mod table;

use serde::Serialize;

use crate::exit::Failure;

pub use access::{orgs, tokens, users};
pub use cluster::{cluster_report, membership_summary};
pub use files::{listing, meta, store, stores, txn_result, written};
pub use history::{audit, audit_verify, history, redaction, rollback};
pub use table::table;

/// One change of the feed: `r5 2025-…Z txn agent/session write /a@5 delete /b`.
pub fn watch_change(change: &cairn_client::WatchChange) -> String {
    let mut line = format!(
        "r{} {} {} {}",
        change.revision,
        format_time_ms(change.time_ms),
        change.operation,
        attribution(&change.agent, &change.session)
    );
    for path in &change.changes {
        line.push(' ');
        line.push_str(path.op.as_str());
        line.push(' ');
        line.push_str(&path.path);
        if let Some(version) = path.version {
            line.push_str(&format!("@{version}"));
        }
    }
    line
}

/// Matches as `PATH:LINE:TEXT`, one a line (grep's `-n` form).
pub fn search_page(page: &cairn_client::SearchPage) -> String {
    let mut text = String::new();
    for found in &page.matches {
        text.push_str(&format!(
            "{}:{}:{}\n",
            found.path, found.line_number, found.line
        ));
    }
    text
}

/// Pretty JSON with a final newline, fields in the wire order.
pub fn json(value: &impl Serialize) -> Result<Vec<u8>, Failure> {
    let mut text = serde_json::to_vec_pretty(value)
        .map_err(|error| Failure::usage("io", format!("encode JSON: {error}")))?;
    text.push(b'\n');
    Ok(text)
}

/// Milliseconds since the Unix epoch as `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC).
/// A time past what the calendar can show (after the year 262143) prints
/// as its milliseconds.
pub fn format_time_ms(time_ms: u64) -> String {
    let time = i64::try_from(time_ms)
        .ok()
        .and_then(chrono::DateTime::from_timestamp_millis);
    match time {
        Some(time) => time.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        None => format!("{time_ms}ms"),
    }
}

/// `agent/session`, or `-` when neither was given.
fn attribution(agent: &str, session: &str) -> String {
    match (agent.is_empty(), session.is_empty()) {
        (true, true) => "-".to_string(),
        (false, true) => agent.to_string(),
        _ => format!("{agent}/{session}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_format_as_utc() {
        assert_eq!(format_time_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_time_ms(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(
            format_time_ms(1_700_000_000_123),
            "2023-11-14T22:13:20.123Z"
        );
        // The last day of a leap year; a century year that is not one.
        assert_eq!(
            format_time_ms(1_735_646_400_000),
            "2024-12-31T12:00:00.000Z"
        );
        assert_eq!(
            format_time_ms(4_107_542_399_001),
            "2100-02-28T23:59:59.001Z"
        );
        assert_eq!(
            format_time_ms(4_107_542_400_000),
            "2100-03-01T00:00:00.000Z"
        );
        assert_eq!(
            format_time_ms(253_402_300_799_999),
            "9999-12-31T23:59:59.999Z"
        );
        assert_eq!(format_time_ms(u64::MAX), "18446744073709551615ms");
    }
}
