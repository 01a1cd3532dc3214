//! A file's versions and a store's audit log.

use std::fmt::Write;

use cairn_client::{AuditEvent, AuditPage, AuditVerify, HistoryPage, VersionInfo};

use crate::render::{attribution, format_time_ms, table};

fn version_line(version: &VersionInfo) -> Vec<String> {
    let mut what = version.op.as_str().to_string();
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
        .map(|change| format!("{} {}", change.op, change.path))
        .collect();
    let mut what = record.operation.clone();
    if let Some(target) = &record.target {
        let _ = write!(what, " {target}");
    }
    if let Some(detail) = &record.detail {
        let _ = write!(what, " ({detail})");
    }
    if !changes.is_empty() {
        let _ = write!(what, ": {}", changes.join(", "));
    }
    let place = match (&record.org, &record.store, record.revision) {
        (_, Some(store), Some(revision)) => format!("{store}@{revision}"),
        (_, Some(store), None) => store.clone(),
        (Some(org), None, _) => org.clone(),
        (None, None, _) => "cluster".to_string(),
    };
    let place = if record.store_deleted {
        format!("{place} (deleted)")
    } else {
        place
    };
    vec![
        record.log_index.to_string(),
        format_time_ms(record.time_ms),
        place,
        record.principal.clone(),
        attribution(&record.agent, &record.session),
        what,
    ]
}

pub fn audit(page: &AuditPage) -> String {
    let mut rows = vec![
        ["LOG", "TIME", "WHERE", "PRINCIPAL", "BY", "WHAT"]
            .map(str::to_string)
            .to_vec(),
    ];
    rows.extend(page.records.iter().map(audit_line));
    let mut out = table(&rows);
    if let Some(after) = page.next_after {
        let _ = writeln!(out, "(more: --after {after})");
    }
    out
}

pub fn rollback(result: &cairn_client::api::RollbackResult) -> String {
    let version = |version: Option<u64>| version.map_or("absent".to_string(), |v| format!("v{v}"));
    let mut text = match (result.applied, result.revision) {
        (true, Some(revision)) => format!(
            "rolled back at revision {revision} (planned at {})\n",
            result.planned_at
        ),
        _ if result.steps.is_empty() => "nothing to roll back\n".to_string(),
        _ => format!("plan at revision {} (not applied)\n", result.planned_at),
    };
    for step in &result.steps {
        text.push_str(&format!(
            "  {}: {} -> {}\n",
            step.path,
            version(step.current_version),
            version(step.restore_version)
        ));
    }
    for conflict in &result.conflicts {
        text.push_str(&format!(
            "  conflict: {} v{} by agent {:?} session {:?}\n",
            conflict.path, conflict.version, conflict.agent, conflict.session
        ));
    }
    text
}

pub fn redaction(result: &cairn_client::api::RedactResult) -> String {
    let Some(revision) = result.revision else {
        return "nothing to redact: no version holds the string\n".to_string();
    };
    let mut rows = vec![vec![
        "PATH".to_string(),
        "VERSION".to_string(),
        "REDACTED".to_string(),
    ]];
    for version in &result.versions {
        rows.push(vec![
            version.path.clone(),
            version.version.to_string(),
            match version.whole {
                true => "whole content".to_string(),
                false => format!("string (now {} bytes)", version.bytes),
            },
        ]);
    }
    for change in &result.rewritten {
        rows.push(vec![
            change.path.clone(),
            change.version.map_or_else(String::new, |v| v.to_string()),
            "new live version without the string".to_string(),
        ]);
    }
    format!("redacted at revision {revision}\n{}", super::table(&rows))
}

pub fn audit_verify(report: &AuditVerify) -> String {
    match &report.first_break {
        None => format!(
            "ok: store {} has {} audit events, chained; head {}\n",
            report.store, report.events, report.head_hash
        ),
        Some(found) => {
            let mut out = format!(
                "store {}: the audit chain breaks at log index {}",
                report.store, found.log_index
            );
            if let Some(revision) = found.revision {
                let _ = write!(out, " (revision {revision})");
            }
            let _ = write!(out, ": {}", found.reason);
            if let (Some(expected), Some(actual)) = (&found.expected, &found.found) {
                let _ = write!(out, "; expected {expected}, found {actual}");
            }
            out.push('\n');
            out
        }
    }
}
