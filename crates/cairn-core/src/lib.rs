//! Cairn's domain core: stores, paths, versions, commands, outcomes, the
//! deterministic `apply`, and reads over a key-value seam.
//!
//! **Architecture invariant:** this crate does no I/O and knows nothing of
//! Raft or HTTP. Time, ids and limits arrive inside a `Proposal`.

pub mod apply;
pub mod audit;
pub mod auth;
pub mod check;
pub mod codec;
pub mod command;
pub mod error;
pub mod governance;
pub mod hash;
pub mod import;
pub mod kv;
pub mod limits;
pub mod path;
pub mod read;
pub mod redact;

pub use apply::{
    POSITION_SHIFT, PROPOSALS_PER_ENTRY_MAX, apply, apply_entry, entry_index_of, position,
};
pub use check::Refusal;
pub use command::{
    Change, Command, Meta, OpKind, Outcome, Precondition, Proposal, Proposals, StoreInfo,
    TxnResult, WriteOp,
};
pub use error::{CoreError, ErrorKind, ReadError, Resource, StorageError};
pub use governance::{Access, OrgInfo, Role, StoreRef, TokenInfo, TokenOwner, UserInfo};
pub use kv::{KvRead, KvWrite, MemoryKv, Table};
pub use limits::Limits;
pub use path::{DirPath, FilePath, OrgName, StoreName, UserName};
pub use read::At;
