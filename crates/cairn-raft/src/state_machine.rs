//! openraft's state machine over `cairn_storage::StateDb`. Each batch of
//! committed entries is applied in one durable redb transaction, together
//! with the last applied log id and membership, so a crash never leaves the
//! data and the applied index disagreeing (no entry is applied twice).
//!
//! The redb state *is* the snapshot: building one dumps the tables from one
//! read transaction; installing one replaces them in one write transaction.

use std::io::Cursor;
use std::sync::Arc;

use cairn_core::codec;
use cairn_core::{Outcome, StorageError};
use cairn_storage::{SnapshotDump, StateDb, StateReader};
use openraft::storage::RaftStateMachine;
use openraft::{AnyError, EntryPayload, OptionalSend, RaftSnapshotBuilder, StorageIOError};

use crate::types::{
    Entry, LogId, RaftStorageError, Snapshot, SnapshotMeta, StoredMembership, TypeConfig,
};

const APPLIED: &str = "applied";
const MEMBERSHIP: &str = "membership";

fn any(error: impl std::fmt::Display) -> AnyError {
    AnyError::error(error.to_string())
}

/// The last applied log id and membership recorded in the state machine.
pub fn applied_state(
    reader: &StateReader,
) -> Result<(Option<LogId>, StoredMembership), StorageError> {
    let applied = match reader.raft_value(APPLIED)? {
        Some(bytes) => codec::decode(&bytes)?,
        None => None,
    };
    let membership = match reader.raft_value(MEMBERSHIP)? {
        Some(bytes) => codec::decode(&bytes)?,
        None => StoredMembership::default(),
    };
    Ok((applied, membership))
}

#[derive(Clone)]
pub struct StateMachine {
    db: Arc<StateDb>,
}

impl StateMachine {
    pub fn new(db: Arc<StateDb>) -> StateMachine {
        StateMachine { db }
    }

    /// The state machine as it is now, as a snapshot (of nothing, if nothing was applied).
    fn snapshot(&self) -> Result<Snapshot, RaftStorageError> {
        let dump = self
            .db
            .export()
            .map_err(|e| StorageIOError::read_state_machine(any(e)))?;
        let decode = |name: &str| -> Result<Option<Vec<u8>>, RaftStorageError> {
            Ok(dump.raft_value(name).map(<[u8]>::to_vec))
        };
        let applied: Option<LogId> = match decode(APPLIED)? {
            Some(bytes) => {
                codec::decode(&bytes).map_err(|e| StorageIOError::read_state_machine(any(e)))?
            }
            None => None,
        };
        let membership: StoredMembership = match decode(MEMBERSHIP)? {
            Some(bytes) => {
                codec::decode(&bytes).map_err(|e| StorageIOError::read_state_machine(any(e)))?
            }
            None => StoredMembership::default(),
        };
        let snapshot_id = match applied {
            Some(id) => format!("{}-{}", id.leader_id, id.index),
            None => "empty".to_string(),
        };
        let meta = SnapshotMeta {
            last_log_id: applied,
            last_membership: membership,
            snapshot_id,
        };
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(dump.encode())),
        })
    }
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachine {
    async fn build_snapshot(&mut self) -> Result<Snapshot, RaftStorageError> {
        self.snapshot()
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = StateMachine;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<LogId>, StoredMembership), RaftStorageError> {
        let reader = self
            .db
            .reader()
            .map_err(|e| StorageIOError::read_state_machine(any(e)))?;
        applied_state(&reader).map_err(|e| StorageIOError::read_state_machine(any(e)).into())
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Outcome>, RaftStorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let entries: Vec<Entry> = entries.into_iter().collect();
        let Some(last) = entries.last().map(|entry| entry.log_id) else {
            return Ok(Vec::new());
        };
        self.db
            .write(|writer| {
                let mut outcomes = Vec::with_capacity(entries.len());
                for entry in &entries {
                    let outcome = match &entry.payload {
                        EntryPayload::Blank => Outcome::Noop,
                        EntryPayload::Normal(proposal) => {
                            cairn_core::apply(writer, entry.log_id.index, proposal)?
                        }
                        EntryPayload::Membership(membership) => {
                            let stored =
                                StoredMembership::new(Some(entry.log_id), membership.clone());
                            writer.set_raft_value(MEMBERSHIP, &codec::encode(&stored))?;
                            Outcome::Noop
                        }
                    };
                    outcomes.push(outcome);
                }
                writer.set_raft_value(APPLIED, &codec::encode(&Some(last)))?;
                Ok(outcomes)
            })
            .map_err(|e| StorageIOError::apply(last, any(e)).into())
    }

    async fn get_snapshot_builder(&mut self) -> StateMachine {
        self.clone()
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, RaftStorageError> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), RaftStorageError> {
        let fail = |e: StorageError| StorageIOError::write_snapshot(Some(meta.signature()), any(e));
        let mut dump = SnapshotDump::decode(snapshot.get_ref()).map_err(fail)?;
        // The meta is authoritative for what the snapshot covers.
        dump.raft
            .retain(|(name, _)| name != APPLIED && name != MEMBERSHIP);
        dump.raft
            .push((APPLIED.to_string(), codec::encode(&meta.last_log_id)));
        dump.raft
            .push((MEMBERSHIP.to_string(), codec::encode(&meta.last_membership)));
        self.db.import(&dump).map_err(fail)?;
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot>, RaftStorageError> {
        let snapshot = self.snapshot()?;
        Ok(snapshot.meta.last_log_id.is_some().then_some(snapshot))
    }
}
