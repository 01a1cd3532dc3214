//! Idempotency keys: the first outcome of a keyed command is remembered
//! until its proposal's time plus its `idempotency_window_ms` (each key its
//! own window: the node's own keys are kept briefly, a client's for the
//! configured window), so a retry is answered with it instead of being
//! applied again, and a different command under the same key is refused.
//! Expired records are swept a few at a time (`prune`).

use std::ops::Bound;

use crate::codec::{self, IdempotencyRecord};
use crate::command::{Command, Meta, Outcome};
use crate::error::{CoreError, StorageError};
use crate::hash;
use crate::kv::{KvRead, KvWrite, Table};

/// Records one apply looks at for expiry (`prune`).
pub const IDEMPOTENCY_SWEEP_KEYS: usize = 4;

/// The last key the sweep looked at (`sm_meta`).
pub const META_IDEMPOTENCY_SWEEP: &[u8] = b"idempotency_sweep";

/// The leading field of an `IdempotencyRecord`: all the sweep decodes.
#[derive(serde::Deserialize)]
struct RecordHead {
    expires_ms: u64,
}

/// The key as stored: the principal's scope, NUL, the client's key. Two
/// principals' keys never collide; a client key cannot hold NUL (it is a
/// header value or a label), so no scope can be forged from inside a key.
pub(super) fn scoped_key(scope: &str, key: &str) -> String {
    format!("{scope}\u{0}{key}")
}

/// The client's part of a stored key.
fn client_part(stored: &str) -> &str {
    stored.split_once('\u{0}').map_or(stored, |(_, key)| key)
}

/// What tells a retry (same command) from a reused key (another command).
pub(super) fn fingerprint(command: &Command) -> u64 {
    hash::fnv1a(&codec::encode(command))
}

/// The answer to a command whose key is still remembered: the first outcome
/// for a retry, `idempotency_key_reused` for a different command.
pub(super) fn earlier_outcome(
    kv: &impl KvRead,
    key: &str,
    fingerprint: u64,
    meta: &Meta,
) -> Result<Option<Outcome>, StorageError> {
    let Some(record) = live_record(kv, key, meta)? else {
        return Ok(None);
    };
    Ok(Some(if record.fingerprint == fingerprint {
        record.outcome
    } else {
        Outcome::failed(CoreError::IdempotencyKeyReused {
            key: client_part(key).to_string(),
        })
    }))
}

/// Remembers `outcome` under `key` until this proposal's window ends.
pub(super) fn remember(
    kv: &mut impl KvWrite,
    key: &str,
    fingerprint: u64,
    meta: &Meta,
    outcome: &Outcome,
) -> Result<(), StorageError> {
    let record = IdempotencyRecord {
        expires_ms: meta
            .time_ms
            .saturating_add(meta.limits.idempotency_window_ms),
        fingerprint,
        outcome: outcome.clone(),
    };
    kv.put(Table::Idempotency, key.as_bytes(), &codec::encode(&record))
}

/// A key's record, unless its window ended (the sweep may not have reached
/// it yet).
fn live_record(
    kv: &impl KvRead,
    key: &str,
    meta: &Meta,
) -> Result<Option<IdempotencyRecord>, StorageError> {
    let Some(bytes) = kv.get(Table::Idempotency, key.as_bytes())? else {
        return Ok(None);
    };
    let record: IdempotencyRecord = codec::decode(&bytes)?;
    Ok((!expired(record.expires_ms, meta)).then_some(record))
}

fn expired(expires_ms: u64, meta: &Meta) -> bool {
    expires_ms < meta.time_ms
}

/// Forgets expired keys: each apply looks at the next
/// `IDEMPOTENCY_SWEEP_KEYS` records after the last one the sweep looked at,
/// in key order (past the last key it goes on from the first), and removes
/// those whose window ended before this proposal's time. An apply adds at
/// most one record and looks at four, so the sweep laps the table faster
/// than it grows: an expired record goes within one lap, and the table
/// holds at most 4/3 of its live records.
pub(super) fn prune(kv: &mut impl KvWrite, meta: &Meta) -> Result<(), StorageError> {
    let cursor = kv.get(Table::Meta, META_IDEMPOTENCY_SWEEP)?;
    let mut seen = Vec::with_capacity(IDEMPOTENCY_SWEEP_KEYS);
    let after = match &cursor {
        Some(cursor) => Bound::Excluded(cursor.as_slice()),
        None => Bound::Unbounded,
    };
    look_at(kv, after, Bound::Unbounded, meta, &mut seen)?;
    if let Some(cursor) = &cursor
        && seen.len() < IDEMPOTENCY_SWEEP_KEYS
    {
        // Past the last key: on from the first, up to where this sweep began.
        let upto = Bound::Included(cursor.as_slice());
        look_at(kv, Bound::Unbounded, upto, meta, &mut seen)?;
    }
    let Some((last, _)) = seen.last() else {
        return Ok(());
    };
    kv.put(Table::Meta, META_IDEMPOTENCY_SWEEP, last)?;
    for (key, expired) in &seen {
        if *expired {
            kv.delete(Table::Idempotency, key)?;
        }
    }
    Ok(())
}

/// Adds the records in `(start, end)` to `seen`, each with whether it has
/// expired, until it holds `IDEMPOTENCY_SWEEP_KEYS`.
fn look_at(
    kv: &impl KvRead,
    start: Bound<&[u8]>,
    end: Bound<&[u8]>,
    meta: &Meta,
    seen: &mut Vec<(Vec<u8>, bool)>,
) -> Result<(), StorageError> {
    kv.scan(Table::Idempotency, start, end, false, &mut |key, value| {
        let head: RecordHead = codec::decode_leading(value)?;
        seen.push((key.to_vec(), expired(head.expires_ms, meta)));
        Ok(seen.len() < IDEMPOTENCY_SWEEP_KEYS)
    })
}
