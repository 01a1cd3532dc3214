//! redb-backed storage. **Architecture invariant:** knows nothing of HTTP.

use cairn_core::kv::{KvRead, Table, Visit};
use cairn_core::StorageError;
use std::ops::Bound;

/// A read-only view of the state machine's tables in one redb read transaction.
pub struct StateReader {
    _private: (),
}

impl KvRead for StateReader {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        let _ = (table, key);
        todo!()
    }

    fn scan(
        &self,
        table: Table,
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
        reverse: bool,
        visit: Visit<'_>,
    ) -> Result<(), StorageError> {
        let _ = (table, start, end, reverse, visit);
        todo!()
    }
}
