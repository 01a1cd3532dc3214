//! `cairn import-dir DIR STORE` and `cairn export-dir STORE DIR`: plain
//! folders (a Claude `/memories` directory, a Letta memory folder, any
//! Markdown tree) in and out of a store, file by file.
//!
//! Neither holds more than one file (export) or one transaction's worth of
//! files (import) in memory. An import is a series of transactions of at
//! most `--txn-ops-max` operations and `--txn-bytes-max` bytes of JSON each
//! (the server's default limits); one the server still finds too large
//! (`limit_exceeded` on `txn_ops_max` or `request_bytes_max`: a node with
//! smaller limits) is split in two and sent again, which is safe because a
//! refused transaction changes nothing. Each transaction's idempotency key
//! is derived from its content, so running an import that stopped part way
//! again answers the transactions already applied from their keys and goes
//! on with the rest.

use std::path::PathBuf;

use cairn_client::{
    At, ClientError, EntryKind, ErrorCode, OpRequest, PreconditionFields, TxnRequest,
};
use cairn_core::Limits;

use crate::cli::ImportDirArgs;
use crate::commands::Context;
use crate::exit::Failure;
use crate::folder::progress;
use crate::folder::{io_failure, is_absent_or_empty, local_path, read_scanned, scan, sha256_hex};

/// `cairn export-dir STORE DIR`: the store's files as of one revision.
pub async fn export_dir(context: Context, store: String, dir: PathBuf) -> Result<Vec<u8>, Failure> {
    if !is_absent_or_empty(&dir)? {
        return Err(Failure::usage(
            "not_empty",
            format!(
                "{} is not empty; export-dir writes only into an empty or new directory",
                dir.display()
            ),
        ));
    }
    let client = &context.client;
    let listing = client.list(&store, "/", None, None).await?;
    let files: Vec<(&str, u64)> = listing
        .entries
        .iter()
        .filter(|entry| entry.kind == EntryKind::File)
        .filter_map(|entry| Some((entry.path.as_str(), entry.version?)))
        .collect();
    std::fs::create_dir_all(&dir).map_err(|error| io_failure("create", &dir, error))?;
    let bar = progress::files_bar(files.len() as u64, "export");
    let mut bytes = 0;
    for (path, version) in &files {
        // The version the listing named: every file as of one revision.
        let read = client
            .read_file(&store, path, At::Version(*version))
            .await?;
        let file = local_path(&dir, path);
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent).map_err(|error| io_failure("create", parent, error))?;
        }
        std::fs::write(&file, read.content.as_bytes())
            .map_err(|error| io_failure("write", &file, error))?;
        bytes += read.content.len() as u64;
        bar.inc(1);
        bar.set_message(progress::bytes(bytes));
    }
    bar.finish_and_clear();
    Ok(format!(
        "exported {} files ({}) of {store} at revision {} into {}\n",
        files.len(),
        progress::bytes(bytes),
        listing.revision,
        dir.display()
    )
    .into_bytes())
}

/// A transaction being filled.
struct Batch {
    ops: Vec<OpRequest>,
    /// The JSON size of `{"ops":[…]}` so far.
    json_bytes: u64,
}

/// What an import did so far.
#[derive(Default)]
struct Imported {
    files: u64,
    bytes: u64,
    transactions: u64,
    revision: Option<u64>,
}

/// `cairn import-dir DIR STORE`: creates STORE if it does not exist.
pub async fn import_dir(context: Context, args: ImportDirArgs) -> Result<Vec<u8>, Failure> {
    let limits = Limits::default();
    let scan = scan(&args.dir, &limits, &|_| false)?;
    if !scan.unstorable.is_empty() && !args.skip_unstorable {
        return Err(Failure::refused(
            "unstorable",
            format!(
                "nothing was imported: {} files cannot be stored (fix or remove them, or pass \
                 --skip-unstorable to import the rest):\n{}",
                scan.unstorable.len(),
                scan.unstorable
                    .iter()
                    .map(|unstorable| format!("  {unstorable}\n"))
                    .collect::<String>()
            ),
        ));
    }
    let client = &context.client;
    match client.get_store(&args.store).await {
        Ok(_) => {}
        Err(error) if error.is(ErrorCode::NotFound) => {
            client.create_store(&args.store).await?;
        }
        Err(error) => return Err(error.into()),
    }

    let bar = progress::files_bar(scan.files.len() as u64, "import");
    let mut imported = Imported::default();
    let mut batch = Batch::new();
    for file in scan.files.values() {
        let content = read_scanned(file)?;
        let precondition = if args.overwrite {
            PreconditionFields::default()
        } else {
            PreconditionFields {
                if_absent: true,
                ..PreconditionFields::default()
            }
        };
        let op = OpRequest::Write {
            path: file.path.clone(),
            content,
            precondition,
        };
        let op_bytes = json_bytes(&op)?;
        if !batch.ops.is_empty()
            && (batch.ops.len() as u64 >= args.txn_ops_max
                || batch.json_bytes + 1 + op_bytes > args.txn_bytes_max)
        {
            let full = std::mem::replace(&mut batch, Batch::new());
            send(&context, &args, full.ops, &mut imported, &bar).await?;
        }
        batch.json_bytes += op_bytes + 1;
        batch.ops.push(op);
    }
    if !batch.ops.is_empty() {
        send(&context, &args, batch.ops, &mut imported, &bar).await?;
    }
    bar.finish_and_clear();

    let mut text = format!(
        "imported {} files ({}) from {} into {} in {} transactions{}\n",
        imported.files,
        progress::bytes(imported.bytes),
        args.dir.display(),
        args.store,
        imported.transactions,
        imported
            .revision
            .map(|revision| format!(", now at revision {revision}"))
            .unwrap_or_default()
    );
    if !scan.unstorable.is_empty() {
        text.push_str(&format!(
            "skipped {} files the store cannot hold:\n",
            scan.unstorable.len()
        ));
        for unstorable in &scan.unstorable {
            text.push_str(&format!("  {unstorable}\n"));
        }
    }
    Ok(text.into_bytes())
}

impl Batch {
    fn new() -> Batch {
        Batch {
            ops: Vec::new(),
            json_bytes: r#"{"ops":[]}"#.len() as u64,
        }
    }
}

fn json_bytes(op: &OpRequest) -> Result<u64, Failure> {
    serde_json::to_vec(op)
        .map(|json| json.len() as u64)
        .map_err(|error| Failure::usage("io", format!("encode an operation: {error}")))
}

/// Sends one batch, split in halves while the server finds it too large.
async fn send(
    context: &Context,
    args: &ImportDirArgs,
    ops: Vec<OpRequest>,
    imported: &mut Imported,
    bar: &indicatif::ProgressBar,
) -> Result<(), Failure> {
    let mut pending = vec![ops];
    while let Some(ops) = pending.pop() {
        let key = batch_key(&args.store, &ops);
        let count = ops.len() as u64;
        let bytes: u64 = ops.iter().map(content_bytes).sum();
        let request = TxnRequest { ops, message: None };
        match context.client.txn(&args.store, &request, Some(&key)).await {
            Ok(result) => {
                imported.files += count;
                imported.bytes += bytes;
                imported.transactions += 1;
                imported.revision = Some(result.revision);
                bar.inc(count);
                bar.set_message(progress::bytes(imported.bytes));
            }
            Err(error) if too_large(&error) && request.ops.len() > 1 => {
                let mut first = request.ops;
                let second = first.split_off(first.len() / 2);
                // Popped first-half first, so files still go in path order.
                pending.push(second);
                pending.push(first);
            }
            Err(error) => {
                let failed_path = error
                    .problem()
                    .and_then(|problem| problem.op_index)
                    .and_then(|index| request.ops.get(index as usize))
                    .map(op_path);
                let hint = if error.is(ErrorCode::VersionConflict) {
                    " already exists in the store (import-dir never overwrites a file unless \
                     --overwrite is given)"
                } else {
                    ""
                };
                eprintln!(
                    "import-dir stopped after {} files in {} transactions{}; that transaction \
                     applied nothing{}. Running the same import again goes on from there.",
                    imported.files,
                    imported.transactions,
                    failed_path
                        .map(|path| format!(": {path}{hint}"))
                        .unwrap_or_default(),
                    if error.is_retryable() {
                        " (or, after a timeout, may have applied: the retry applies it once)"
                    } else {
                        ""
                    }
                );
                return Err(error.into());
            }
        }
    }
    Ok(())
}

fn too_large(error: &ClientError) -> bool {
    error.is(ErrorCode::LimitExceeded)
        && error
            .problem()
            .and_then(|problem| problem.limit.as_deref())
            .is_some_and(|limit| limit == "txn_ops_max" || limit == "request_bytes_max")
}

fn op_path(op: &OpRequest) -> String {
    match op {
        OpRequest::Write { path, .. }
        | OpRequest::Delete { path, .. }
        | OpRequest::StrReplace { path, .. }
        | OpRequest::Insert { path, .. } => path.clone(),
        OpRequest::Rename { from, .. } => from.clone(),
    }
}

fn content_bytes(op: &OpRequest) -> u64 {
    match op {
        OpRequest::Write { content, .. } => content.len() as u64,
        _ => 0,
    }
}

/// The same batch of the same files always has the same key.
fn batch_key(store: &str, ops: &[OpRequest]) -> String {
    let mut canonical = format!("cairn-import-dir-v1\n{store}\n");
    for op in ops {
        if let OpRequest::Write {
            path,
            content,
            precondition,
        } = op
        {
            canonical.push_str(&format!(
                "{path} {} {}\n",
                precondition.if_absent,
                sha256_hex(content.as_bytes())
            ));
        }
    }
    format!("import-dir-{}", &sha256_hex(canonical.as_bytes())[..40])
}
