//! The data directory's free space. Raft cannot refuse an entry it has
//! already accepted, and a storage error stops it, so a node refuses the
//! *client* writes that would grow its data while the file system holding
//! its data directory has less than `[storage] reserve_bytes` free: the
//! client gets `507 storage_full` and nothing is proposed. Reads go on, and
//! so do the writes that free space (deletes, redaction, retention, store
//! removal), so an operator can make room through the API; writes resume by
//! themselves once space is back, since every write measures again (one
//! `statvfs`, about a microsecond).
//!
//! What other nodes send is measured too (`cairn_raft::StorageRoom`): below
//! a lower floor, `reserve_bytes / REPLICATION_FLOOR_DIVISOR`, a follower
//! refuses the leader's entries and snapshot chunks (the leader retries;
//! heartbeats and votes still pass), so client writes stop first and the
//! entries Raft already took keep some headroom to be applied. A leader
//! below the reserve refuses the writes other nodes forward to it, as its
//! own service refuses its clients'.
//!
//! A follower refuses its clients' writes only below the replication floor:
//! above it the write would reach its disk anyway, as the leader's entry,
//! and the leader (with room) decides. A leader below the reserve hands
//! leadership over to a voter with room (`cairn_raft`'s `handoff.rs`, asking
//! `below_reserve`), after which its clients' writes go through again.

use std::path::{Path, PathBuf};

use cairn_core::command::{Command, WriteOp};

/// `[storage] reserve_bytes` when the config names none.
pub const RESERVE_BYTES_DEFAULT: u64 = 64 * 1024 * 1024;

/// The replication floor is the reserve divided by this: half of it.
pub const REPLICATION_FLOOR_DIVISOR: u64 = 2;

/// Measures the free space under one directory against a reserve.
#[derive(Clone, Debug)]
pub struct DiskGuard {
    dir: PathBuf,
    reserve_bytes: u64,
}

impl DiskGuard {
    pub fn new(dir: impl Into<PathBuf>, reserve_bytes: u64) -> DiskGuard {
        DiskGuard {
            dir: dir.into(),
            reserve_bytes,
        }
    }

    /// Bytes an unprivileged writer may still use on the file system
    /// holding the data directory.
    pub fn free_bytes(&self) -> std::io::Result<u64> {
        free_bytes(&self.dir)
    }

    /// `Err` with what to do when `command` would grow the data while the
    /// free space is below the reserve (as the leader: `leading`) or below
    /// the replication floor (as a follower, which forwards the write to the
    /// leader and would take it as an entry anyway). A file system that
    /// cannot be measured does not stop writes: Raft's own storage errors
    /// still guard what is acknowledged.
    pub fn admit(&self, command: &Command, leading: bool) -> Result<(), String> {
        if frees_space(command) {
            return Ok(());
        }
        let (limit, name) = if leading {
            (self.reserve_bytes, "reserve")
        } else {
            (
                self.reserve_bytes / REPLICATION_FLOOR_DIVISOR,
                "replication floor (half the reserve)",
            )
        };
        match self.free_bytes() {
            Ok(free) if free < limit => Err(format!(
                "the data directory {} has {free} bytes free, less than the {name} of {limit} bytes ([storage] reserve_bytes = {}): writes are refused until space is freed (deletes, redaction, retention and store removal still work)",
                self.dir.display(),
                self.reserve_bytes
            )),
            Ok(_) => Ok(()),
            Err(error) => {
                tracing::warn!(dir = %self.dir.display(), %error, "cannot measure the data directory's free space");
                Ok(())
            }
        }
    }
}

impl cairn_raft::StorageRoom for DiskGuard {
    fn admit_replication(&self, bytes: u64) -> Result<(), String> {
        let floor = self.reserve_bytes / REPLICATION_FLOOR_DIVISOR;
        match self.free_bytes() {
            Ok(free) if free.saturating_sub(bytes) < floor => Err(format!(
                "the data directory {} has {free} bytes free; taking {bytes} more would leave less than the replication floor of {floor} bytes (half of [storage] reserve_bytes)",
                self.dir.display()
            )),
            Ok(_) => Ok(()),
            Err(error) => {
                tracing::warn!(dir = %self.dir.display(), %error, "cannot measure the data directory's free space");
                Ok(())
            }
        }
    }

    fn admit_proposal(&self, proposal: &cairn_core::Proposal) -> Result<(), String> {
        self.admit(&proposal.command, true)
    }

    fn below_reserve(&self) -> Option<String> {
        match self.free_bytes() {
            Ok(free) if free < self.reserve_bytes => Some(format!(
                "the data directory {} has {free} bytes free, less than the reserve of {} bytes ([storage] reserve_bytes)",
                self.dir.display(),
                self.reserve_bytes
            )),
            _ => None,
        }
    }
}

fn free_bytes(dir: &Path) -> std::io::Result<u64> {
    let stat = rustix::fs::statvfs(dir)?;
    Ok(stat.f_bavail.saturating_mul(stat.f_frsize))
}

/// Commands that shrink the data or only change who may do what: admitted
/// on a full disk so that space can be made.
fn frees_space(command: &Command) -> bool {
    match command {
        Command::DeleteStore { .. }
        | Command::SetStorePolicy { .. }
        | Command::Redact { .. }
        | Command::RevokeToken { .. }
        | Command::ImportAbort { .. } => true,
        Command::Txn { ops, .. }
        | Command::TxnWithMessage { ops, .. }
        | Command::Rollback { ops, .. } => {
            ops.iter().all(|op| matches!(op, WriteOp::Delete { .. }))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reserve_above_the_free_space_refuses_writes_and_admits_deletes() {
        let dir = tempfile::tempdir().unwrap();
        let free = free_bytes(dir.path()).unwrap();
        assert!(free > 0);
        let store = cairn_core::StoreRef::new(1, cairn_core::StoreName::parse("notes").unwrap());
        let write = Command::Txn {
            store: store.clone(),
            ops: vec![WriteOp::Write {
                path: cairn_core::FilePath::parse("/a.md", &cairn_core::Limits::default()).unwrap(),
                content: "a".into(),
                precondition: Default::default(),
            }],
        };
        let delete = Command::DeleteStore { store };
        let full = DiskGuard::new(dir.path(), u64::MAX);
        let error = full.admit(&write, true).unwrap_err();
        assert!(error.contains("reserve_bytes"), "{error}");
        assert_eq!(full.admit(&delete, true), Ok(()));
        use cairn_raft::StorageRoom;
        assert!(full.below_reserve().is_some());
        assert_eq!(DiskGuard::new(dir.path(), 0).below_reserve(), None);
        // An import grows the data; abandoning one frees what it staged.
        let begin = Command::ImportBegin {
            store: cairn_core::StoreRef::new(1, cairn_core::StoreName::parse("copy").unwrap()),
        };
        assert!(full.admit(&begin, true).is_err());
        assert_eq!(
            full.admit(&Command::ImportAbort { import_id: 7 }, true),
            Ok(())
        );
        assert_eq!(DiskGuard::new(dir.path(), 0).admit(&write, true), Ok(()));
        // A follower refuses only below the floor: between it and the
        // reserve it forwards the write to the leader.
        let between = DiskGuard::new(dir.path(), free + free / 4);
        assert!(between.admit(&write, true).is_err());
        assert_eq!(between.admit(&write, false), Ok(()));
        assert!(full.admit(&write, false).is_err());
    }

    #[test]
    fn replication_is_refused_only_below_half_the_reserve() {
        use cairn_raft::StorageRoom;
        let dir = tempfile::tempdir().unwrap();
        let free = free_bytes(dir.path()).unwrap();
        // A reserve a little above the free space: client writes stop, the
        // leader's entries are still taken.
        let guard = DiskGuard::new(dir.path(), free + free / 4);
        assert!(
            guard
                .admit(
                    &Command::ImportBegin {
                        store: cairn_core::StoreRef::new(
                            1,
                            cairn_core::StoreName::parse("copy").unwrap()
                        ),
                    },
                    true
                )
                .is_err()
        );
        assert_eq!(guard.admit_replication(1024), Ok(()));
        // A batch that would take the free space below half the reserve is refused.
        let error = guard.admit_replication(free).unwrap_err();
        assert!(error.contains("replication floor"), "{error}");
        assert!(
            DiskGuard::new(dir.path(), u64::MAX)
                .admit_replication(0)
                .is_err()
        );
    }
}
