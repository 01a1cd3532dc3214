//! openraft's storage conformance suite against our redb log store and state
//! machine: vote, log state, truncation, purging, applying, snapshots.

use std::sync::Arc;

use cairn_storage::{LogDb, StateDb};
use openraft::testing::{StoreBuilder, Suite};

use crate::log_store::LogStore;
use crate::state_machine::StateMachine;
use crate::types::{RaftStorageError, TypeConfig};

struct Builder;

impl StoreBuilder<TypeConfig, LogStore, StateMachine, tempfile::TempDir> for Builder {
    async fn build(&self) -> Result<(tempfile::TempDir, LogStore, StateMachine), RaftStorageError> {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = LogDb::open(dir.path()).expect("open log");
        let state = StateDb::open(&dir.path().join(cairn_storage::STATE_FILE)).expect("open state");
        let disk = Arc::new(cairn_storage::FileDisk::new(dir.path()));
        let sm = StateMachine::new(Arc::new(state), disk).expect("snapshot dir");
        Ok((
            dir,
            LogStore::new(Arc::new(log), crate::IoMode::Thread).expect("log writer"),
            sm,
        ))
    }
}

#[test]
fn openraft_storage_suite() {
    Suite::test_all(Builder).unwrap();
}
