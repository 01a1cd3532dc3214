//! Human-readable rendering of API answers. Every function returns the text
//! to print; `main` does the printing.

use std::fmt::Write;

use cairn_core::read::AuditEvent;
use cairn_core::read::{AuditPage, EntryKind, FileMeta, HistoryPage, Listing, VersionInfo};
use cairn_core::{Change, OpKind, StoreInfo, TxnResult};

pub fn op_name(op: OpKind) -> &'static str {
    match op {
        OpKind::Write => "write",
        OpKind::Delete => "delete",
        OpKind::Rename => "rename",
        OpKind::StrReplace => "str_replace",
        OpKind::Insert => "insert",
        OpKind::DeleteStore => "delete_store",
    }
}

/// Milliseconds since the Unix epoch as `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC).
pub fn format_time_ms(time_ms: u64) -> String {
    let days = time_ms / 86_400_000;
    let in_day_ms = time_ms % 86_400_000;
    let (year, month, day) = civil_from_days(days as i64);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        in_day_ms / 3_600_000,
        in_day_ms / 60_000 % 60,
        in_day_ms / 1000 % 60,
        in_day_ms % 1000
    )
}

/// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian calendar).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `agent/session`, or `-` when neither was given.
fn attribution(agent: &str, session: &str) -> String {
    match (agent.is_empty(), session.is_empty()) {
        (true, true) => "-".to_string(),
        (false, true) => agent.to_string(),
        _ => format!("{agent}/{session}"),
    }
}

/// Left-aligned columns separated by two spaces; the last column is not padded.
pub fn table(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|column| {
            rows.iter()
                .filter_map(|row| row.get(column))
                .map(|cell| cell.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (column, cell) in row.iter().enumerate() {
            if column + 1 == row.len() {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell:<width$}  ", width = widths[column]);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

pub fn store(info: &StoreInfo) -> String {
    format!(
        "store {} (id {}): revision {}, {} files, {} bytes, created {}\n",
        info.name,
        info.id,
        info.revision,
        info.file_count,
        info.bytes_total,
        format_time_ms(info.created_ms)
    )
}

pub fn stores(stores: &[StoreInfo]) -> String {
    if stores.is_empty() {
        return "no stores\n".to_string();
    }
    let mut rows = vec![vec![
        "NAME".to_string(),
        "REVISION".to_string(),
        "FILES".to_string(),
        "BYTES".to_string(),
    ]];
    for info in stores {
        rows.push(vec![
            info.name.clone(),
            info.revision.to_string(),
            info.file_count.to_string(),
            info.bytes_total.to_string(),
        ]);
    }
    table(&rows)
}

pub fn listing(listing: &Listing) -> String {
    if listing.entries.is_empty() {
        return format!(
            "{} is empty at revision {}\n",
            listing.dir, listing.revision
        );
    }
    let mut rows = vec![vec![
        "VERSION".to_string(),
        "BYTES".to_string(),
        "PATH".to_string(),
    ]];
    for entry in &listing.entries {
        rows.push(match entry.kind {
            EntryKind::Dir => vec!["-".to_string(), "-".to_string(), format!("{}/", entry.path)],
            EntryKind::File => vec![
                entry.version.map_or("-".to_string(), |v| v.to_string()),
                entry.bytes.map_or("-".to_string(), |b| b.to_string()),
                entry.path.clone(),
            ],
        });
    }
    table(&rows)
}

pub fn meta(meta: &FileMeta) -> String {
    let rows = vec![
        vec!["path:".to_string(), meta.path.clone()],
        vec!["version:".to_string(), meta.version.to_string()],
        vec!["bytes:".to_string(), meta.bytes.to_string()],
        vec!["op:".to_string(), op_name(meta.op).to_string()],
        vec!["time:".to_string(), format_time_ms(meta.time_ms)],
        vec!["agent:".to_string(), meta.agent.clone()],
        vec!["session:".to_string(), meta.session.clone()],
        vec![
            "store revision:".to_string(),
            meta.store_revision.to_string(),
        ],
    ];
    table(&rows)
}

pub fn written(path: &str, version: u64, revision: u64) -> String {
    format!("{path} version {version} (revision {revision})\n")
}

fn change(change: &Change, revision: u64) -> String {
    match change.version {
        Some(version) => format!(
            "{} version {version} (revision {revision}, {})\n",
            change.path,
            op_name(change.op)
        ),
        None => format!("{} deleted (revision {revision})\n", change.path),
    }
}

pub fn txn_result(result: &TxnResult) -> String {
    if result.changes.is_empty() {
        return format!("no changes (revision {})\n", result.revision);
    }
    result
        .changes
        .iter()
        .map(|c| change(c, result.revision))
        .collect()
}

fn version_line(version: &VersionInfo) -> Vec<String> {
    let mut what = op_name(version.op).to_string();
    if let Some(from) = &version.renamed_from {
        let _ = write!(what, " from {from}");
    }
    if let Some(to) = &version.renamed_to {
        let _ = write!(what, " to {to}");
    }
    vec![
        version.version.to_string(),
        format_time_ms(version.time_ms),
        attribution(&version.agent, &version.session),
        version.bytes.map_or("-".to_string(), |b| b.to_string()),
        what,
    ]
}

pub fn history(page: &HistoryPage) -> String {
    let header = vec![
        "VERSION".to_string(),
        "TIME".to_string(),
        "BY".to_string(),
        "BYTES".to_string(),
        "OP".to_string(),
    ];
    let mut out = String::new();
    let with_content = page.versions.iter().any(|v| v.content.is_some());
    if with_content {
        // Content breaks table columns: one header line per version instead.
        for version in &page.versions {
            out.push_str(&table(&[version_line(version)]));
            if let Some(content) = &version.content {
                for line in content.lines() {
                    let _ = writeln!(out, "    {line}");
                }
            }
        }
    } else {
        let mut rows = vec![header];
        rows.extend(page.versions.iter().map(version_line));
        out.push_str(&table(&rows));
    }
    if let Some(before) = page.next_before {
        let _ = writeln!(out, "(more: --before {before})");
    }
    out
}

fn audit_line(record: &AuditEvent) -> Vec<String> {
    let changes: Vec<String> = record
        .changes
        .iter()
        .map(|change| match change.version {
            Some(_) => format!("{} {}", op_name(change.op), change.path),
            None => format!("delete {}", change.path),
        })
        .collect();
    vec![
        record.revision.to_string(),
        format_time_ms(record.time_ms),
        attribution(&record.agent, &record.session),
        changes.join(", "),
    ]
}

pub fn audit(page: &AuditPage) -> String {
    let mut rows = vec![vec![
        "REVISION".to_string(),
        "TIME".to_string(),
        "BY".to_string(),
        "CHANGES".to_string(),
    ]];
    rows.extend(page.records.iter().map(audit_line));
    let mut out = table(&rows);
    if let Some(after) = page.next_after {
        let _ = writeln!(out, "(more: --after {after})");
    }
    out
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
    }

    #[test]
    fn tables_align() {
        let out = table(&[
            vec!["A".into(), "BB".into(), "C".into()],
            vec!["long".into(), "x".into(), "y".into()],
        ]);
        assert_eq!(out, "A     BB  C\nlong  x   y\n");
    }

    #[test]
    fn txn_lines() {
        let result = TxnResult {
            revision: 7,
            changes: vec![
                Change {
                    path: "/a".into(),
                    op: OpKind::Rename,
                    version: None,
                },
                Change {
                    path: "/b".into(),
                    op: OpKind::Rename,
                    version: Some(7),
                },
            ],
        };
        assert_eq!(
            txn_result(&result),
            "/a deleted (revision 7)\n/b version 7 (revision 7, rename)\n"
        );
    }
}
