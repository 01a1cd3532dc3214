//! The export archive (`docs/export.md`): one store in one self-describing
//! file, written and read record by record so that neither side holds more
//! than one file's content.
//!
//! An archive is a sequence of records. Each record is one line of JSON with
//! a `type` (`header`, `version`, `event`, `trailer`); a `version` record
//! whose `content_bytes` is set is followed by exactly that many bytes of
//! UTF-8 content and a newline. The order is fixed: the header, the versions
//! in (path, revision) order, the store's audit events in chain order, the
//! trailer. Every record before the trailer continues a digest chain,
//! `d(0) = 32 zero bytes`, `d(i) = SHA-256(d(i-1) ‖ bytes of record i)`, and
//! the trailer holds the counts and `d(n)`: a truncated archive has no
//! trailer, and an altered byte breaks the JSON, a content digest, or the
//! chain. Every JSON object refuses unknown fields, so no byte of an archive
//! is free to change.
//!
//! The chain can be resumed from a [`Position`], so a server that takes an
//! archive in chunks (each a whole number of records) keeps only the
//! position between them.

use std::io::{BufRead, Read};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The header's `format`.
pub const FORMAT: &str = "cairn-archive";
/// The header's `version`: bump on any change of the records or their order.
pub const FORMAT_VERSION: u32 = 1;
/// Longest JSON line of one record, content excluded, in bytes: a bound
/// against a corrupt archive. Lines are short but for the events that list
/// many paths (a redaction of many versions at once).
pub const LINE_BYTES_MAX: usize = 16 * 1024 * 1024;
/// Largest content one version record may announce, in bytes (a bound
/// against a corrupt length; stores hold far smaller files).
pub const CONTENT_BYTES_MAX: u64 = 256 * 1024 * 1024;
/// Where every digest chain starts.
pub const DIGEST_START: [u8; 32] = [0; 32];

/// The first record: what the archive is and the store it holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// Always [`FORMAT`].
    pub format: String,
    /// Always [`FORMAT_VERSION`] for archives this build writes.
    pub version: u32,
    pub store: Store,
    /// When the export began (ms since the Unix epoch, the serving node's clock).
    pub exported_ms: u64,
}

/// The store as it was when the export began.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Store {
    pub name: String,
    pub org: String,
    /// The owner of a user-scoped store.
    pub owner: Option<String>,
    /// The store's id on the exporting cluster (its audit events name it).
    pub id: u64,
    pub created_ms: u64,
    /// The archive holds no version and no event after this revision.
    pub revision: u64,
    pub file_count: u64,
    pub bytes_total: u64,
    pub policy: Policy,
    /// The last log index of the store's own audit events at the export.
    pub audit_last_log_index: u64,
}

/// Retention and quota.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    pub versions_max: Option<u64>,
    pub retain_ms: Option<u64>,
    pub bytes_max: Option<u64>,
}

/// One version of one path.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Version {
    pub path: String,
    /// The store revision that made it.
    pub version: u64,
    /// `write`, `delete`, `rename`, `str_replace`, `insert`, `redact`, …
    pub op: String,
    /// The content's length (what a redaction left of it); `null` for a delete.
    pub bytes: Option<u64>,
    pub time_ms: u64,
    pub agent: String,
    pub session: String,
    /// Who made it, from the audit event that did (`null` if none names it).
    pub principal: Option<String>,
    pub token_id: Option<String>,
    pub renamed_from: Option<String>,
    pub renamed_to: Option<String>,
    pub redaction: Option<Redaction>,
    /// How many content bytes follow the line; `null` when none do (a delete,
    /// a version redacted whole). Set by [`Writer::version`].
    pub content_bytes: Option<u64>,
    /// SHA-256 (hex) of the content that follows. Set by [`Writer::version`].
    pub content_sha256: Option<String>,
}

/// A redaction mark: the content that was removed never leaves the node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Redaction {
    pub revision: u64,
    pub time_ms: u64,
    pub principal: String,
    pub token_id: String,
    pub reason: String,
    /// The whole content was removed; otherwise parts of it were replaced.
    pub whole: bool,
}

/// One audit event of the store's chain, field for field as the exporting
/// node recorded it (`docs/format.md`, "Audit events"), hashes in hex.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Event {
    pub log_index: u64,
    pub time_ms: u64,
    pub op: String,
    pub org_id: Option<u64>,
    pub org: Option<String>,
    pub store_id: Option<u64>,
    pub store: Option<String>,
    pub revision: Option<u64>,
    pub principal: String,
    pub token_id: String,
    pub agent: String,
    pub session: String,
    pub idempotency_key: Option<String>,
    pub request_id: String,
    pub target: Option<String>,
    pub detail: Option<String>,
    pub changes: Vec<Change>,
    pub prev_hash: String,
    pub hash: String,
}

/// One path an event changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Change {
    pub path: String,
    pub op: String,
    pub version: Option<u64>,
    pub content_sha256: Option<String>,
}

/// The last record: what every record before it adds up to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trailer {
    pub versions: u64,
    pub events: u64,
    pub content_bytes: u64,
    /// The digest chain after the last record before the trailer (hex).
    pub sha256: String,
}

/// A record's line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Line {
    Header(Header),
    Version(Version),
    Event(Event),
    Trailer(Trailer),
}

/// One record as read: a version with its content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Entry {
    Header(Header),
    Version(Version, Option<String>),
    Event(Event),
    Trailer(Trailer),
}

/// What the reader expects next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    Header,
    /// Versions, events or the trailer.
    Versions,
    /// Events or the trailer.
    Events,
    /// Nothing: the trailer was read.
    Done,
}

/// Where a reader or writer stands: enough to go on with the next record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    pub digest: [u8; 32],
    /// Records the digest covers (the trailer never is one).
    pub records: u64,
    pub versions: u64,
    pub events: u64,
    pub content_bytes: u64,
    pub stage: Stage,
}

impl Position {
    /// The start of an archive.
    pub fn start() -> Position {
        Position {
            digest: DIGEST_START,
            records: 0,
            versions: 0,
            events: 0,
            content_bytes: 0,
            stage: Stage::Header,
        }
    }

    fn advance(&mut self, bytes: &[u8]) {
        let mut hasher = Sha256::new();
        hasher.update(self.digest);
        hasher.update(bytes);
        self.digest = hasher.finalize().into();
        self.records += 1;
    }
}

/// Why an archive cannot be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ArchiveError {
    #[error("read archive: {0}")]
    Io(#[from] std::io::Error),
    /// The input ended before the trailer, or inside a record.
    #[error("the archive is truncated: {0}")]
    Truncated(String),
    /// A record is malformed, out of order, or does not match its digest.
    #[error("the archive is invalid at byte {offset}: {reason}")]
    Invalid { offset: u64, reason: String },
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0xf)]));
    }
    text
}

/// 32 bytes from 64 lowercase hex digits.
pub fn parse_digest(text: &str) -> Option<[u8; 32]> {
    let bytes = text.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let mut out = [0u8; 32];
    for (at, pair) in bytes.chunks_exact(2).enumerate() {
        out[at] = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    Some(out)
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Writes records in order, keeping the digest chain and the counts. Each
/// method answers the record's bytes; the caller puts them on the wire.
#[derive(Debug)]
pub struct Writer {
    position: Position,
}

impl Default for Writer {
    fn default() -> Self {
        Writer::new()
    }
}

impl Writer {
    pub fn new() -> Writer {
        Writer {
            position: Position::start(),
        }
    }

    pub fn position(&self) -> &Position {
        &self.position
    }

    fn line(&mut self, line: &Line, content: Option<&str>) -> Vec<u8> {
        // Plain data: serializing to a Vec cannot fail.
        let mut bytes = serde_json::to_vec(line).unwrap_or_default();
        bytes.push(b'\n');
        if let Some(content) = content {
            bytes.extend_from_slice(content.as_bytes());
            bytes.push(b'\n');
        }
        if !matches!(line, Line::Trailer(_)) {
            self.position.advance(&bytes);
        }
        bytes
    }

    pub fn header(&mut self, header: &Header) -> Vec<u8> {
        self.position.stage = Stage::Versions;
        self.line(&Line::Header(header.clone()), None)
    }

    /// A version and its content (`content_bytes` and `content_sha256` are
    /// filled from `content`).
    pub fn version(&mut self, mut version: Version, content: Option<&str>) -> Vec<u8> {
        version.content_bytes = content.map(|content| content.len() as u64);
        version.content_sha256 = content.map(|content| sha256_hex(content.as_bytes()));
        self.position.versions += 1;
        self.position.content_bytes += version.content_bytes.unwrap_or(0);
        self.line(&Line::Version(version), content)
    }

    pub fn event(&mut self, event: &Event) -> Vec<u8> {
        self.position.events += 1;
        self.position.stage = Stage::Events;
        self.line(&Line::Event(event.clone()), None)
    }

    pub fn trailer(&mut self) -> Vec<u8> {
        let trailer = Trailer {
            versions: self.position.versions,
            events: self.position.events,
            content_bytes: self.position.content_bytes,
            sha256: hex(&self.position.digest),
        };
        self.position.stage = Stage::Done;
        self.line(&Line::Trailer(trailer), None)
    }
}

/// One record as read, with its bytes exactly as they were in the input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub entry: Entry,
    pub bytes: Vec<u8>,
    /// Where the chain stood before the record (after it: the reader's position).
    pub digest_before: [u8; 32],
}

/// Reads and checks records one at a time.
#[derive(Debug)]
pub struct Reader<R> {
    input: R,
    position: Position,
    offset: u64,
}

impl<R: BufRead> Reader<R> {
    pub fn new(input: R) -> Reader<R> {
        Reader::resume(input, Position::start())
    }

    /// Reads records that come after `position` (the next chunk of an archive).
    pub fn resume(input: R, position: Position) -> Reader<R> {
        Reader {
            input,
            position,
            offset: 0,
        }
    }

    pub fn position(&self) -> &Position {
        &self.position
    }

    /// Bytes read so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    fn invalid(&self, at: u64, reason: impl Into<String>) -> ArchiveError {
        ArchiveError::Invalid {
            offset: at,
            reason: reason.into(),
        }
    }

    /// The next record, checked; `None` where the input ends between two
    /// records (whether the archive was whole there is [`Reader::finish`]'s
    /// to say).
    pub fn next_record(&mut self) -> Result<Option<Record>, ArchiveError> {
        let start = self.offset;
        let mut bytes = Vec::new();
        (&mut self.input)
            .take(LINE_BYTES_MAX as u64 + 1)
            .read_until(b'\n', &mut bytes)?;
        if bytes.is_empty() {
            return Ok(None);
        }
        self.offset += bytes.len() as u64;
        if bytes.last() != Some(&b'\n') {
            if bytes.len() > LINE_BYTES_MAX {
                return Err(self.invalid(
                    start,
                    format!("a record line is longer than {LINE_BYTES_MAX} bytes"),
                ));
            }
            return Err(ArchiveError::Truncated(format!(
                "it ends inside the record at byte {start}"
            )));
        }
        if self.position.stage == Stage::Done {
            return Err(self.invalid(start, "data after the trailer"));
        }
        let line: Line = serde_json::from_slice(&bytes[..bytes.len() - 1])
            .map_err(|error| self.invalid(start, format!("not a record: {error}")))?;
        let entry = match line {
            Line::Header(header) => {
                if self.position.stage != Stage::Header {
                    return Err(self.invalid(start, "a second header"));
                }
                if header.format != FORMAT {
                    return Err(self.invalid(
                        start,
                        format!("format {:?} is not {FORMAT:?}", header.format),
                    ));
                }
                if header.version != FORMAT_VERSION {
                    return Err(self.invalid(
                        start,
                        format!(
                            "archive version {}; this build reads version {FORMAT_VERSION}",
                            header.version
                        ),
                    ));
                }
                self.position.stage = Stage::Versions;
                Entry::Header(header)
            }
            Line::Version(version) => {
                match self.position.stage {
                    Stage::Header => {
                        return Err(self.invalid(start, "the archive must begin with its header"));
                    }
                    Stage::Events => {
                        return Err(self.invalid(start, "a version after the audit events"));
                    }
                    _ => {}
                }
                let content = self.content(start, &version, &mut bytes)?;
                self.position.versions += 1;
                self.position.content_bytes += version.content_bytes.unwrap_or(0);
                Entry::Version(version, content)
            }
            Line::Event(event) => {
                if self.position.stage == Stage::Header {
                    return Err(self.invalid(start, "the archive must begin with its header"));
                }
                self.position.stage = Stage::Events;
                self.position.events += 1;
                Entry::Event(event)
            }
            Line::Trailer(trailer) => {
                if self.position.stage == Stage::Header {
                    return Err(self.invalid(start, "the archive must begin with its header"));
                }
                let counted = (
                    self.position.versions,
                    self.position.events,
                    self.position.content_bytes,
                );
                if (trailer.versions, trailer.events, trailer.content_bytes) != counted {
                    return Err(self.invalid(
                        start,
                        format!(
                            "the trailer counts {} versions, {} events and {} content bytes; \
                             the archive holds {}, {} and {}",
                            trailer.versions,
                            trailer.events,
                            trailer.content_bytes,
                            counted.0,
                            counted.1,
                            counted.2
                        ),
                    ));
                }
                if parse_digest(&trailer.sha256) != Some(self.position.digest) {
                    return Err(self.invalid(
                        start,
                        format!(
                            "the archive's digest is {}, the trailer says {}: it was altered",
                            hex(&self.position.digest),
                            trailer.sha256
                        ),
                    ));
                }
                self.position.stage = Stage::Done;
                return Ok(Some(Record {
                    entry: Entry::Trailer(trailer),
                    bytes,
                    digest_before: self.position.digest,
                }));
            }
        };
        let digest_before = self.position.digest;
        self.position.advance(&bytes);
        Ok(Some(Record {
            entry,
            bytes,
            digest_before,
        }))
    }

    /// Reads the content a version announces (appending it to `bytes`).
    fn content(
        &mut self,
        start: u64,
        version: &Version,
        bytes: &mut Vec<u8>,
    ) -> Result<Option<String>, ArchiveError> {
        let Some(length) = version.content_bytes else {
            if version.content_sha256.is_some() {
                return Err(self.invalid(start, "a content digest without content"));
            }
            return Ok(None);
        };
        if length > CONTENT_BYTES_MAX {
            return Err(self.invalid(
                start,
                format!("content of {length} bytes is over {CONTENT_BYTES_MAX}"),
            ));
        }
        let mut content = Vec::new();
        (&mut self.input)
            .take(length + 1)
            .read_to_end(&mut content)?;
        self.offset += content.len() as u64;
        if content.len() as u64 != length + 1 {
            return Err(ArchiveError::Truncated(format!(
                "it ends inside the content of {}@{} (record at byte {start})",
                version.path, version.version
            )));
        }
        if content.pop() != Some(b'\n') {
            return Err(self.invalid(start, "content is not followed by a newline"));
        }
        if version.content_sha256.as_deref() != Some(sha256_hex(&content).as_str()) {
            return Err(self.invalid(
                start,
                format!(
                    "the content of {}@{} does not match its SHA-256",
                    version.path, version.version
                ),
            ));
        }
        bytes.extend_from_slice(&content);
        bytes.push(b'\n');
        String::from_utf8(content)
            .map(Some)
            .map_err(|_| self.invalid(start, "content is not UTF-8"))
    }

    /// Whether the archive was whole: the trailer was read.
    pub fn finish(&self) -> Result<(), ArchiveError> {
        match self.position.stage {
            Stage::Done => Ok(()),
            _ => Err(ArchiveError::Truncated(format!(
                "it ends after {} records without its trailer",
                self.position.records
            ))),
        }
    }
}

/// Reads a whole archive, calling `visit` for each record: the check the CLI
/// makes before it sends anything.
pub fn verify(
    input: impl BufRead,
    mut visit: impl FnMut(&Record, u64),
) -> Result<Position, ArchiveError> {
    let mut reader = Reader::new(input);
    while let Some(record) = reader.next_record()? {
        visit(&record, reader.offset());
    }
    reader.finish()?;
    Ok(*reader.position())
}

#[cfg(test)]
mod tests;
