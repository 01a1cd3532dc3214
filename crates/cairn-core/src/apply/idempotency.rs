//! Idempotency keys: the first outcome of a keyed command is remembered for
//! `idempotency_window_ms`, so a retry is answered with it instead of being
//! applied again, and a different command under the same key is refused.

use std::ops::Bound;

use crate::codec::{self, IdempotencyRecord};
use crate::command::{Command, Meta, Outcome};
use crate::error::{CoreError, StorageError};
use crate::hash;
use crate::kv::{KvRead, KvWrite, Table};

/// Most expired idempotency keys removed by one apply, so that one entry's
/// apply time stays bounded however many keys expire at once.
pub const IDEMPOTENCY_PRUNE_BATCH_MAX: usize = 1024;

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

/// Remembers `outcome` under `key` from this proposal's time on.
pub(super) fn remember(
    kv: &mut impl KvWrite,
    key: &str,
    fingerprint: u64,
    meta: &Meta,
    outcome: &Outcome,
) -> Result<(), StorageError> {
    let record = IdempotencyRecord {
        time_ms: meta.time_ms,
        fingerprint,
        outcome: outcome.clone(),
    };
    kv.put(Table::Idempotency, key.as_bytes(), &codec::encode(&record))?;
    kv.put(
        Table::IdempotencyExpiry,
        &codec::expiry_key(meta.time_ms, key),
        &[],
    )
}

/// A key's record, unless it is older than the window (it may outlive the
/// window by a little when pruning is behind).
fn live_record(
    kv: &impl KvRead,
    key: &str,
    meta: &Meta,
) -> Result<Option<IdempotencyRecord>, StorageError> {
    let Some(bytes) = kv.get(Table::Idempotency, key.as_bytes())? else {
        return Ok(None);
    };
    let record: IdempotencyRecord = codec::decode(&bytes)?;
    let expired = record
        .time_ms
        .saturating_add(meta.limits.idempotency_window_ms)
        < meta.time_ms;
    Ok(if expired { None } else { Some(record) })
}

/// Forgets keys whose window ended before this proposal's time.
pub(super) fn prune(kv: &mut impl KvWrite, meta: &Meta) -> Result<(), StorageError> {
    let cutoff = meta
        .time_ms
        .saturating_sub(meta.limits.idempotency_window_ms);
    let end = cutoff.to_be_bytes();
    let mut expired = Vec::new();
    kv.scan(
        Table::IdempotencyExpiry,
        Bound::Unbounded,
        Bound::Excluded(&end),
        false,
        &mut |key, _| {
            expired.push(key.to_vec());
            Ok(expired.len() < IDEMPOTENCY_PRUNE_BATCH_MAX)
        },
    )?;
    debug_assert!(expired.len() <= IDEMPOTENCY_PRUNE_BATCH_MAX);
    for expiry_key in expired {
        kv.delete(Table::IdempotencyExpiry, &expiry_key)?;
        let (time_bytes, key) = expiry_key
            .split_at_checked(8)
            .ok_or_else(|| StorageError::corrupt("malformed idempotency expiry key"))?;
        // The key may have been reused after it expired; only the record this
        // expiry entry was made for is removed.
        if let Some(bytes) = kv.get(Table::Idempotency, key)? {
            let record: IdempotencyRecord = codec::decode(&bytes)?;
            if record.time_ms.to_be_bytes() == time_bytes {
                kv.delete(Table::Idempotency, key)?;
            }
        }
    }
    Ok(())
}
