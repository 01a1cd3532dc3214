//! Disk encodings of the state machine's tables (see `docs/format.md`).
//!
//! Keys are built by hand, big-endian, so that bytewise order is the order
//! scans need. Values are bincode 2 (standard config: little-endian varints)
//! of the record types below.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::command::{OpKind, Outcome};
use crate::error::StorageError;

/// Bump when any table layout, record or command encoding changes.
/// Format 2 moved version content out of `VersionRecord` into `sm_content`;
/// format 3 added organizations, users, tokens and grants, keyed stores by
/// organization, and made the audit trail one chained event per command
/// (`audit::AuditRecord` by log index, `sm_audit_index`, `sm_audit_chains`);
/// format 4 added redaction (`VersionRecord::redaction`, `Command::Redact`);
/// format 5 made a log entry a batch of proposals (`Proposals`) and keyed
/// audit events, chain heads, import ids and `created_log_index` by a
/// proposal's position (`apply::POSITION_SHIFT`) instead of its log index;
/// format 6 keyed the audit index's chain, organization and label rows by
/// the event's entry (its first position) instead of the event, wrote a
/// time row only for the first event at each time, and replaced the
/// idempotency expiry table by a sweep (`IdempotencyRecord::expires_ms`);
/// format 7 tagged the rows of the tables whose values can outgrow half a
/// page (audit events, idempotency records, imported events) and moved
/// values longer than that to the content file (`cairn-storage`'s
/// `content::Layout`).
pub const FORMAT_VERSION: u32 = 7;

pub const META_FORMAT_VERSION: &[u8] = b"format_version";
pub const META_NEXT_STORE_ID: &[u8] = b"next_store_id";
pub const META_NEXT_ORG_ID: &[u8] = b"next_org_id";

/// Separates a path from the revision in a `Versions` key. Paths never hold
/// NUL, and NUL sorts before `/`, so all versions of `/a` sort together and
/// before those of `/a/b`.
pub const PATH_END: u8 = 0x00;

fn config() -> bincode::config::Configuration {
    bincode::config::standard()
}

pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Encoding into a Vec cannot fail for the plain data types used here.
    bincode::serde::encode_to_vec(value, config()).expect("bincode encodes plain data")
}

/// The leading fields of a value `T` is a prefix of (in declaration order),
/// without decoding the rest.
pub fn decode_leading<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, StorageError> {
    let (value, _) = bincode::serde::decode_from_slice(bytes, config())
        .map_err(|error| StorageError::corrupt(format!("undecodable record: {error}")))?;
    Ok(value)
}

/// The length `encode` gives `value`, counted without building the bytes.
pub fn encoded_len<T: Serialize>(value: &T) -> usize {
    let mut size = bincode::enc::write::SizeWriter::default();
    bincode::serde::encode_into_writer(value, &mut size, config())
        .expect("bincode encodes plain data");
    size.bytes_written
}

pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, StorageError> {
    let (value, read) = bincode::serde::decode_from_slice(bytes, config())
        .map_err(|error| StorageError::corrupt(format!("undecodable record: {error}")))?;
    if read != bytes.len() {
        return Err(StorageError::corrupt(format!(
            "record has {} trailing bytes",
            bytes.len() - read
        )));
    }
    Ok(value)
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    /// The revision that last changed the file.
    pub version: u64,
    pub bytes: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionRecord {
    pub revision: u64,
    pub op: OpKind,
    /// The content's length in bytes after this version; `None` for a delete.
    /// The content itself is in `Table::Content` under the same key, so that
    /// metadata reads (stat, list, history, audit) never load it.
    pub bytes: Option<u64>,
    pub time_ms: u64,
    pub agent: String,
    pub session: String,
    /// For the version a rename created at the new path: the old path.
    pub renamed_from: Option<String>,
    /// For the delete a rename made at the old path: the new path.
    pub renamed_to: Option<String>,
    /// Set when a redaction removed this version's content (`whole`) or
    /// replaced parts of it with `redact::MARKER`; the latest redaction wins.
    pub redaction: Option<RedactionMark>,
}

/// Who redacted a version, when and why. `bytes` in the `VersionRecord` is
/// the length of what is left (the original length for a whole redaction,
/// whose content row is gone).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedactionMark {
    /// The store revision of the redaction (its audit event).
    pub revision: u64,
    pub time_ms: u64,
    /// `operator` or `ORG/USER`.
    pub principal: String,
    pub token_id: String,
    pub reason: String,
    /// The whole content was removed (a version redaction); otherwise parts
    /// of it were replaced by the marker (a string redaction).
    pub whole: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    /// When the key is forgotten: the proposal's time plus its window. First,
    /// so that the sweep decodes it alone (`apply::idempotency::prune`).
    pub expires_ms: u64,
    /// FNV-1a 64 of the encoded command, to tell a retry from a reused key.
    pub fingerprint: u64,
    pub outcome: Outcome,
}

/// A `Stores` key: the organization's id, then the store's name.
pub fn store_key(org_id: u64, name: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(8 + name.len());
    key.extend_from_slice(&org_id.to_be_bytes());
    key.extend_from_slice(name.as_bytes());
    key
}

/// A `Users` key: the organization's id, then the user's name.
pub fn user_key(org_id: u64, name: &str) -> Vec<u8> {
    store_key(org_id, name)
}

/// A `Grants` key: the store's id, then the user's name.
pub fn grant_key(store_id: u64, user: &str) -> Vec<u8> {
    store_key(store_id, user)
}

pub fn store_prefix(store_id: u64) -> [u8; 8] {
    store_id.to_be_bytes()
}

pub fn file_key(store_id: u64, path: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(8 + path.len());
    key.extend_from_slice(&store_id.to_be_bytes());
    key.extend_from_slice(path.as_bytes());
    key
}

/// The path part of a `Files` key.
pub fn file_key_path(key: &[u8]) -> Result<&str, StorageError> {
    key.get(8..)
        .and_then(|path| std::str::from_utf8(path).ok())
        .ok_or_else(|| StorageError::corrupt("malformed files key"))
}

/// The prefix of every `Versions` key of one path.
pub fn versions_prefix(store_id: u64, path: &str) -> Vec<u8> {
    let mut key = file_key(store_id, path);
    key.push(PATH_END);
    key
}

pub fn version_key(store_id: u64, path: &str, revision: u64) -> Vec<u8> {
    let mut key = versions_prefix(store_id, path);
    key.extend_from_slice(&revision.to_be_bytes());
    key
}

/// Splits a `Versions` key into its path and revision.
pub fn version_key_parts(key: &[u8]) -> Result<(&str, u64), StorageError> {
    let malformed = || StorageError::corrupt("malformed versions key");
    if key.len() < 8 + 1 + 8 || key[key.len() - 9] != PATH_END {
        return Err(malformed());
    }
    let path = std::str::from_utf8(&key[8..key.len() - 9]).map_err(|_| malformed())?;
    let revision = u64::from_be_bytes(key[key.len() - 8..].try_into().map_err(|_| malformed())?);
    Ok((path, revision))
}

/// A version's content is keyed exactly like the version itself.
pub fn content_key(store_id: u64, path: &str, revision: u64) -> Vec<u8> {
    version_key(store_id, path, revision)
}

/// Content rows hold the raw UTF-8 bytes, without bincode framing, so reading
/// content costs one copy and a UTF-8 check.
pub fn decode_content(bytes: Vec<u8>) -> Result<String, StorageError> {
    String::from_utf8(bytes).map_err(|error| {
        StorageError::corrupt(format!(
            "content is not UTF-8 (invalid byte at offset {})",
            error.utf8_error().valid_up_to()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_keys_round_trip_and_sort_by_path_then_revision() {
        let a1 = version_key(7, "/a", 1);
        let a2 = version_key(7, "/a", 2);
        let ab = version_key(7, "/a/b", 0);
        let a_bang = version_key(7, "/a!", 0);
        assert!(a1 < a2 && a2 < a_bang && a2 < ab);
        assert_eq!(version_key_parts(&a2).unwrap(), ("/a", 2));
        assert!(version_key_parts(b"short").is_err());
    }

    #[test]
    fn encoded_len_is_the_length_of_the_encoding() {
        let record = FileRecord {
            version: u64::MAX,
            bytes: 300,
        };
        let values: [&[String]; 3] = [&[], &["a".into()], &["x".repeat(70_000), String::new()]];
        for value in values {
            assert_eq!(encoded_len(&value), encode(&value).len());
        }
        assert_eq!(encoded_len(&record), encode(&record).len());
    }

    #[test]
    fn decode_rejects_trailing_and_garbage_bytes() {
        let mut bytes = encode(&FileRecord {
            version: 3,
            bytes: 9,
        });
        assert_eq!(decode::<FileRecord>(&bytes).unwrap().version, 3);
        bytes.push(0);
        assert!(decode::<FileRecord>(&bytes).is_err());
        assert!(decode::<VersionRecord>(&[0xff, 0xff]).is_err());
    }

    #[test]
    fn content_keys_are_version_keys_and_content_must_be_utf8() {
        assert_eq!(content_key(3, "/a", 9), version_key(3, "/a", 9));
        assert_eq!(decode_content(b"caf\xc3\xa9".to_vec()).unwrap(), "café");
        assert!(decode_content(vec![b'a', 0xff]).is_err());
    }
}
