//! `cairn export STORE FILE` and `cairn import FILE [STORE]`: whole stores
//! as archives (`docs/export.md`).
//!
//! Both stream: an export writes the body to `FILE.partial` as it arrives,
//! reads it back through the archive reader, and only then renames it to
//! `FILE`; an import reads the archive twice, first to check all of it
//! (every digest, the trailer) before anything is sent, then to send it in
//! chunks of whole records. Neither holds more than one record in memory.
//! A progress bar shows on a terminal (stderr), nowhere else.

use std::fs::File;
use std::io::{BufReader, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use cairn_archive as archive;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use crate::commands::Context;
use crate::exit::Failure;

/// Archive bytes one import chunk carries, about (a chunk is whole records,
/// at least one): far below `request_bytes_max` (4 MiB by default) and a
/// Raft entry's comfortable size.
pub const IMPORT_CHUNK_BYTES: usize = 1024 * 1024;
/// How often one chunk is sent again after a retryable failure (its
/// idempotency key makes a retry stage it once).
const CHUNK_ATTEMPTS_MAX: u32 = 4;

#[derive(Serialize)]
struct Summary {
    store: String,
    file: String,
    bytes: u64,
    versions: u64,
    events: u64,
    content_bytes: u64,
    sha256: String,
}

impl Summary {
    fn human(&self, verb: &str) -> String {
        format!(
            "{verb} store {:?} ({} versions, {} audit events, {} content bytes; archive {} bytes, \
             sha256 {})\n",
            self.store, self.versions, self.events, self.content_bytes, self.bytes, self.sha256
        )
    }
}

fn progress(total: Option<u64>, message: &'static str) -> ProgressBar {
    let target = match std::io::stderr().is_terminal() {
        true => ProgressDrawTarget::stderr(),
        false => ProgressDrawTarget::hidden(),
    };
    let bar = ProgressBar::with_draw_target(total, target);
    let template = match total {
        Some(_) => "{msg:>9} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
        None => "{msg:>9} {spinner} {bytes} {bytes_per_sec}",
    };
    bar.set_style(
        ProgressStyle::with_template(template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message(message);
    bar
}

fn io_failure(what: &str, path: &Path, error: std::io::Error) -> Failure {
    Failure::usage("io", format!("{what} {}: {error}", path.display()))
}

/// Reads the whole archive at `path`, checking every record and the trailer.
fn verify_file(
    path: &Path,
    bar: &ProgressBar,
    mut visit: impl FnMut(&archive::Record),
) -> Result<archive::Position, Failure> {
    let file = File::open(path).map_err(|error| io_failure("open", path, error))?;
    archive::verify(BufReader::new(file), |record, offset| {
        visit(record);
        bar.set_position(offset);
    })
    .map_err(|error| match error {
        archive::ArchiveError::Io(error) => io_failure("read", path, error),
        error => Failure::refused("invalid_archive", format!("{}: {error}", path.display())),
    })
}

pub async fn export(context: Context, store: String, file: PathBuf) -> Result<Vec<u8>, Failure> {
    let partial = PathBuf::from(format!("{}.partial", file.display()));
    let written = {
        let out = File::create(&partial).map_err(|error| io_failure("create", &partial, error))?;
        let mut out = BufWriter::new(out);
        let bar = progress(None, "exporting");
        let streamed = context
            .client
            .export(&store, |bytes| {
                bar.inc(bytes.len() as u64);
                out.write_all(bytes)
            })
            .await;
        bar.finish_and_clear();
        let flushed = out
            .into_inner()
            .map_err(|error| error.into_error())
            .and_then(|file| file.sync_all());
        match (streamed, flushed) {
            (Ok(written), Ok(())) => written,
            (Err(error), _) => {
                let _ = std::fs::remove_file(&partial);
                return Err(error.into());
            }
            (Ok(_), Err(error)) => {
                let _ = std::fs::remove_file(&partial);
                return Err(io_failure("write", &partial, error));
            }
        }
    };
    // An export that stopped part way has no trailer: never keep it.
    let bar = progress(Some(written), "checking");
    let checked = verify_file(&partial, &bar, |_| {});
    bar.finish_and_clear();
    let position = match checked {
        Ok(position) => position,
        Err(failure) => {
            let _ = std::fs::remove_file(&partial);
            return Err(failure);
        }
    };
    std::fs::rename(&partial, &file).map_err(|error| io_failure("rename to", &file, error))?;
    let summary = Summary {
        store,
        file: file.display().to_string(),
        bytes: written,
        versions: position.versions,
        events: position.events,
        content_bytes: position.content_bytes,
        sha256: archive::hex(&position.digest),
    };
    context.show(&summary, |summary| summary.human("exported"))
}

pub async fn import(
    context: Context,
    file: PathBuf,
    store: Option<String>,
) -> Result<Vec<u8>, Failure> {
    let size = std::fs::metadata(&file)
        .map_err(|error| io_failure("open", &file, error))?
        .len();
    // First the whole archive is checked: nothing is sent for one that is
    // truncated or altered.
    let mut source = None;
    let bar = progress(Some(size), "checking");
    let checked = verify_file(&file, &bar, |record| {
        if let archive::Entry::Header(header) = &record.entry {
            source = Some(header.store.name.clone());
        }
    });
    bar.finish_and_clear();
    let position = checked?;
    let Some(store) = store.or(source) else {
        return Err(Failure::refused(
            "invalid_archive",
            "the archive names no store".to_string(),
        ));
    };

    let import = context.client.import_begin(&store).await?;
    let bar = progress(Some(size), "importing");
    let sent = send(&context, import.id, &file, &bar).await;
    bar.finish_and_clear();
    let committed = match sent {
        Ok(()) => context
            .client
            .import_commit(import.id)
            .await
            .map_err(Failure::from),
        Err(failure) => Err(failure),
    };
    if let Err(failure) = committed {
        // Nothing half-imported stays: the staged records go.
        if let Err(error) = context.client.import_abort(import.id).await {
            eprintln!(
                "warning: could not abandon import {} ({}: {}); the node removes it after a day",
                import.id,
                error.code(),
                error.detail()
            );
        }
        return Err(failure);
    }
    let summary = Summary {
        store,
        file: file.display().to_string(),
        bytes: size,
        versions: position.versions,
        events: position.events,
        content_bytes: position.content_bytes,
        sha256: archive::hex(&position.digest),
    };
    context.show(&summary, |summary| summary.human("imported"))
}

/// Sends the archive in chunks of whole records, in order.
async fn send(context: &Context, id: u64, file: &Path, bar: &ProgressBar) -> Result<(), Failure> {
    let input = File::open(file).map_err(|error| io_failure("open", file, error))?;
    let mut reader = archive::Reader::new(BufReader::new(input));
    let mut chunk = Vec::with_capacity(IMPORT_CHUNK_BYTES);
    let mut sequence = 0u64;
    let mut before = archive::DIGEST_START;
    loop {
        let record = reader.next_record().map_err(|error| match error {
            archive::ArchiveError::Io(error) => io_failure("read", file, error),
            error => Failure::refused(
                "invalid_archive",
                format!("{} changed while importing: {error}", file.display()),
            ),
        })?;
        let full = match &record {
            Some(record) => {
                !chunk.is_empty() && chunk.len() + record.bytes.len() > IMPORT_CHUNK_BYTES
            }
            None => !chunk.is_empty(),
        };
        if full {
            let bytes = Bytes::from(std::mem::take(&mut chunk));
            let after = reader.position().digest;
            let after = match &record {
                // The reader is one record ahead of the chunk.
                Some(record) => record.digest_before,
                None => after,
            };
            send_chunk(context, id, sequence, bytes, before, after).await?;
            before = after;
            sequence += 1;
            bar.set_position(reader.offset());
        }
        match record {
            Some(record) => chunk.extend_from_slice(&record.bytes),
            None => break,
        }
    }
    reader.finish().map_err(|error| {
        Failure::refused("invalid_archive", format!("{}: {error}", file.display()))
    })
}

/// Sends one chunk. After a failure that may be retried (the node may or
/// may not have staged it), and after any failure of a chunk sent again (the
/// first sending may have landed meanwhile), the import's digest says what
/// happened: the chunk's `after` (staged: done), its `before` (not staged:
/// send again, under the same idempotency key), or anything else (refused).
async fn send_chunk(
    context: &Context,
    id: u64,
    sequence: u64,
    bytes: Bytes,
    before: [u8; 32],
    after: [u8; 32],
) -> Result<(), Failure> {
    let key = format!("import-{id}-chunk-{sequence}");
    let mut attempt = 1;
    loop {
        let error = match context.client.import_chunk(id, bytes.clone(), &key).await {
            Ok(_) => return Ok(()),
            Err(error) => error,
        };
        let retry = error.is_retryable() && attempt < CHUNK_ATTEMPTS_MAX;
        if !retry && attempt == 1 {
            return Err(error.into());
        }
        attempt += 1;
        tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
        let staged = context
            .client
            .imports()
            .await
            .ok()
            .and_then(|list| list.imports.into_iter().find(|import| import.id == id));
        match staged.map(|import| import.digest) {
            Some(digest) if digest == archive::hex(&after) => return Ok(()),
            // Not staged, or not known now (the node did not answer): send
            // again; the key keeps a second staging out.
            Some(digest) if retry && digest == archive::hex(&before) => {}
            None if retry => {}
            _ => return Err(error.into()),
        }
    }
}
