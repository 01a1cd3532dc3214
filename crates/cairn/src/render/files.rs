//! Stores, files and transaction results.

use cairn_client::{Change, EntryKind, FileMeta, Listing, StoreInfo, TxnResult, WriteResponse};

use crate::render::{format_time_ms, table};

pub fn store(info: &StoreInfo) -> String {
    let scope = match &info.owner {
        Some(owner) => format!("owner {owner}"),
        None => "organization".to_string(),
    };
    let policy = &info.policy;
    let mut limits = Vec::new();
    if let Some(max) = policy.versions_max {
        limits.push(format!("at most {max} versions per file"));
    }
    if let Some(seconds) = policy.retain_s {
        limits.push(format!("versions kept {seconds} s"));
    }
    if let Some(max) = policy.bytes_max {
        limits.push(format!("quota {max} bytes"));
    }
    let policy = match limits.is_empty() {
        true => String::new(),
        false => format!("; {}", limits.join(", ")),
    };
    format!(
        "store {}/{} (id {}, {scope}): revision {}, {} files, {} bytes, created {}{policy}\n",
        info.org,
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
        "ORG".to_string(),
        "NAME".to_string(),
        "OWNER".to_string(),
        "REVISION".to_string(),
        "FILES".to_string(),
        "BYTES".to_string(),
    ]];
    for info in stores {
        rows.push(vec![
            info.org.clone(),
            info.name.clone(),
            info.owner.clone().unwrap_or_else(|| "-".to_string()),
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
        vec!["op:".to_string(), meta.op.as_str().to_string()],
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

pub fn written(written: &WriteResponse) -> String {
    format!(
        "{} version {} (revision {})\n",
        written.path, written.version, written.revision
    )
}

fn change(change: &Change, revision: u64) -> String {
    match change.version {
        Some(version) => format!(
            "{} version {version} (revision {revision}, {})\n",
            change.path,
            change.op.as_str()
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

#[cfg(test)]
mod tests {
    use cairn_client::OpKind;

    use super::*;

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
