//! The deterministic state machine: `apply` turns one committed proposal into
//! table writes and an outcome. It reads no clock and draws no randomness;
//! everything variable came in with the proposal.
//!
//! A transaction is first worked out in a `TxnWork` (reads go through to the
//! tables, writes are staged in memory); only when every operation succeeded
//! are the staged changes written, all at one new store revision. So a failed
//! operation leaves the tables exactly as they were.
//!
//! Files by topic: `idempotency` (remembered outcomes and their expiry),
//! `store` (create and delete), `txn` (a transaction from staging to its
//! writes), `work` (`TxnWork`, one method per `WriteOp` variant), `text`
//! (line and occurrence arithmetic), `audit` (`audit::record`: the one
//! audit event every successful command leaves), `redact` (redactions,
//! checked whole before anything is written).

mod audit;
mod governance;
mod idempotency;
mod import;
mod redact;
mod retention;
mod store;
mod text;
mod txn;
mod work;

use crate::audit::AuditOp;
use crate::auth::{self, Subject};
use crate::check::Refusal;
use crate::codec::{self, META_FORMAT_VERSION};
use crate::command::{Command, Meta, Outcome, Proposal, Proposals};
use crate::error::{CoreError, ReadError, StorageError};
use crate::governance::{Access, TokenOwner};
use crate::kv::{KvWrite, Table};
use txn::TxnAudit;

pub use idempotency::{IDEMPOTENCY_SWEEP_KEYS, META_IDEMPOTENCY_SWEEP};
pub(crate) use import::load_import;
pub use store::DELETED_PATHS_LISTED_MAX;
pub(crate) use store::load_store;
pub use text::{count_occurrences, insert_at_line, line_count};

/// Why applying stopped early: a refusal is an answer to the client (it
/// becomes `Outcome::Failed` and nothing is written); a storage failure means
/// the node cannot go on.
#[derive(Debug)]
enum ApplyError {
    Refused(Refusal),
    Storage(StorageError),
}

type ApplyResult<T> = Result<T, ApplyError>;

impl From<StorageError> for ApplyError {
    fn from(error: StorageError) -> ApplyError {
        ApplyError::Storage(error)
    }
}

impl From<CoreError> for ApplyError {
    fn from(error: CoreError) -> ApplyError {
        ApplyError::Refused(error.into())
    }
}

impl From<ReadError> for ApplyError {
    fn from(error: ReadError) -> ApplyError {
        match error {
            ReadError::Domain(error) => error.into(),
            ReadError::Storage(error) => ApplyError::Storage(error),
        }
    }
}

impl From<Refusal> for ApplyError {
    fn from(refusal: Refusal) -> ApplyError {
        ApplyError::Refused(refusal)
    }
}

impl ApplyError {
    /// Attributes a refusal to operation `index` of a transaction.
    fn at_op(self, index: usize) -> ApplyError {
        match self {
            ApplyError::Refused(refusal) => ApplyError::Refused(refusal.at_op(index)),
            storage @ ApplyError::Storage(_) => storage,
        }
    }
}

/// A proposal's position in the log: its entry's Raft index shifted left by
/// this many bits, plus its place within the entry. Everything the state
/// machine keys by "log index" (audit events and their chains, a store's
/// `created_log_index`, import ids) takes the position, so the proposals of
/// one entry get distinct, increasing ids, and a lone proposal at index `L`
/// has position `L << POSITION_SHIFT`.
pub const POSITION_SHIFT: u32 = 20;

/// Most proposals in one entry: their places must fit below the shift.
pub const PROPOSALS_PER_ENTRY_MAX: usize = 1 << POSITION_SHIFT;

/// The position of the proposal at `place` (from 0) in the entry at `log_index`.
pub fn position(log_index: u64, place: usize) -> u64 {
    assert!(
        place < PROPOSALS_PER_ENTRY_MAX,
        "an entry holds at most {PROPOSALS_PER_ENTRY_MAX} proposals"
    );
    assert!(
        log_index < 1 << (u64::BITS - POSITION_SHIFT),
        "log index {log_index} leaves no room for a position"
    );
    (log_index << POSITION_SHIFT) | place as u64
}

/// The Raft index of the entry that holds the proposal at `position`.
pub fn entry_index_of(position: u64) -> u64 {
    position >> POSITION_SHIFT
}

/// The first and last position the entry holding `position` can hold.
pub fn entry_positions(position: u64) -> (u64, u64) {
    let first = position >> POSITION_SHIFT << POSITION_SHIFT;
    (first, first | ((1 << POSITION_SHIFT) - 1))
}

/// Applies every proposal of the entry committed at `log_index`, in order,
/// each at its own position; one outcome per proposal, in the same order.
/// An `Err` means the storage broke (as for `apply`).
pub fn apply_entry(
    kv: &mut impl KvWrite,
    log_index: u64,
    proposals: &Proposals,
) -> Result<Vec<Outcome>, StorageError> {
    if proposals.0.is_empty() || proposals.0.len() > PROPOSALS_PER_ENTRY_MAX {
        return Err(StorageError::corrupt(format!(
            "entry {log_index} holds {} proposals (1 to {PROPOSALS_PER_ENTRY_MAX} allowed)",
            proposals.0.len()
        )));
    }
    let mut outcomes = Vec::with_capacity(proposals.0.len());
    for (place, proposal) in proposals.0.iter().enumerate() {
        outcomes.push(apply(kv, position(log_index, place), proposal)?);
    }
    Ok(outcomes)
}

/// Applies the proposal committed at `log_index` (a position: see
/// `POSITION_SHIFT`; any unique, increasing number will do). A domain failure is an
/// `Outcome::Failed` and leaves the tables as they were (apart from the
/// idempotency record, which remembers the failure for retries); an `Err`
/// means the storage broke and the node must stop.
pub fn apply(
    kv: &mut impl KvWrite,
    log_index: u64,
    proposal: &Proposal,
) -> Result<Outcome, StorageError> {
    check_format(kv)?;
    // Stateless refusals are not remembered under the idempotency key: the
    // same proposal is refused the same way every time it is applied.
    if let Err(refusal) = proposal.check() {
        return Ok(refusal.into_outcome());
    }
    let meta = &proposal.meta;
    idempotency::prune(kv, meta)?;
    let remembered = match meta.idempotency_key.as_deref() {
        Some(key) => Some((
            idempotency::scoped_key(&idempotency_scope(kv, meta)?, key),
            idempotency::fingerprint(&proposal.command),
        )),
        None => None,
    };
    if let Some((key, fingerprint)) = &remembered
        && let Some(outcome) = idempotency::earlier_outcome(kv, key, *fingerprint, meta)?
    {
        return Ok(outcome);
    }

    let outcome = match execute(kv, log_index, proposal) {
        Ok(outcome) => outcome,
        Err(ApplyError::Refused(refusal)) => refusal.into_outcome(),
        Err(ApplyError::Storage(error)) => return Err(error),
    };

    if let Some((key, fingerprint)) = remembered {
        idempotency::remember(kv, &key, fingerprint, meta, &outcome)?;
    }
    Ok(outcome)
}

/// Whose idempotency keys a proposal's key lives among: its principal's
/// (every token of one user shares them).
fn idempotency_scope(kv: &impl KvWrite, meta: &Meta) -> Result<String, StorageError> {
    let Some(id) = &meta.principal else {
        return Ok("node".to_string());
    };
    Ok(match auth::load_token(kv, id)? {
        Some(token) => match token.owner {
            TokenOwner::Operator => "operator".to_string(),
            TokenOwner::User { org_id, user } => format!("{org_id}/{user}"),
        },
        None => format!("token/{id}"),
    })
}

/// Authorizes the command against its principal as the tables are at this
/// entry, then carries it out.
fn execute(kv: &mut impl KvWrite, log_index: u64, proposal: &Proposal) -> ApplyResult<Outcome> {
    let meta = &proposal.meta;
    if let (Command::Bootstrap { token_id, hash }, None) = (&proposal.command, &meta.principal) {
        return governance::bootstrap(kv, log_index, meta, token_id, *hash);
    }
    let subject = principal(kv, meta)?;
    match &proposal.command {
        Command::CreateStore { store, owner } => {
            store::create_store(kv, log_index, meta, &subject, store, owner.as_ref())
        }
        Command::DeleteStore { store } => store::delete_store(kv, log_index, meta, &subject, store),
        Command::Txn { store, ops } => {
            let info = auth::authorize_store(kv, &subject, store, Access::Write)?;
            txn::txn(
                kv,
                log_index,
                meta,
                &subject,
                info,
                ops,
                TxnAudit::op(AuditOp::Txn),
            )
        }
        Command::RecordRefusal {
            store,
            operation,
            reason,
        } => {
            // Only a store the caller can see: no one writes events into
            // stores that do not exist for them.
            let info = auth::authorize_store(kv, &subject, store, Access::Read)?;
            let event = audit::Event::store(AuditOp::Refused, &info)
                .target(operation.clone())
                .detail(reason.clone());
            audit::record(kv, log_index, meta, Some(&subject), event)?;
            Ok(Outcome::RefusalRecorded)
        }
        Command::SetStorePolicy { store, policy } => {
            store::set_policy(kv, log_index, meta, &subject, store, *policy)
        }
        Command::Rollback { store, ops, .. } => {
            let info = auth::authorize_store(kv, &subject, store, Access::Admin)?;
            txn::txn(
                kv,
                log_index,
                meta,
                &subject,
                info,
                ops,
                TxnAudit::op(AuditOp::Rollback),
            )
        }
        Command::CreateOrg { org } => governance::create_org(kv, log_index, meta, &subject, org),
        Command::CreateUser { org_id, user, role } => {
            governance::create_user(kv, log_index, meta, &subject, *org_id, user, *role)
        }
        Command::CreateToken {
            id,
            hash,
            owner,
            agent,
            expires_ms,
        } => governance::create_token(
            kv,
            log_index,
            meta,
            &subject,
            governance::NewToken {
                id,
                hash: *hash,
                owner,
                agent: agent.as_deref(),
                expires_ms: *expires_ms,
            },
        ),
        Command::RevokeToken { id } => governance::revoke_token(kv, log_index, meta, &subject, id),
        Command::SetGrant {
            store,
            user,
            access,
        } => governance::set_grant(kv, log_index, meta, &subject, store, user, *access),
        Command::Redact {
            store,
            reason,
            targets,
        } => {
            let info = auth::authorize_store(kv, &subject, store, Access::Admin)?;
            redact::redact(kv, log_index, meta, &subject, info, reason, targets)
        }
        Command::TxnWithMessage {
            store,
            ops,
            message,
        } => {
            let info = auth::authorize_store(kv, &subject, store, Access::Write)?;
            let audited_as = TxnAudit {
                op: AuditOp::Txn,
                detail: Some(message.as_str()),
            };
            txn::txn(kv, log_index, meta, &subject, info, ops, audited_as)
        }
        Command::ImportBegin { store } => import::begin(kv, log_index, meta, &subject, store),
        Command::ImportChunk { import_id, chunk } => {
            import::chunk(kv, log_index, meta, &subject, *import_id, chunk)
        }
        Command::ImportCommit { import_id } => {
            import::commit(kv, log_index, meta, &subject, *import_id)
        }
        Command::ImportAbort { import_id } => {
            import::abort(kv, log_index, meta, &subject, *import_id)
        }
        Command::Bootstrap { .. } => Err(CoreError::forbidden(
            "only a node bootstraps the cluster, never a request with a token",
        )
        .into()),
    }
}

/// The live subject behind the proposal's token. A token bound to an agent
/// only ever writes as that agent.
fn principal(kv: &impl KvWrite, meta: &Meta) -> ApplyResult<Subject> {
    let Some(id) = &meta.principal else {
        return Err(CoreError::unauthenticated("the command carries no token").into());
    };
    let subject = auth::subject(kv, id, meta.time_ms)?;
    if let Some(agent) = &subject.token.agent
        && meta.agent != *agent
    {
        return Err(CoreError::forbidden(format!(
            "token {id} may only write as agent {agent:?}, not {:?}",
            meta.agent
        ))
        .into());
    }
    Ok(subject)
}

/// Writes the format version into a fresh state, and refuses a state written
/// by a different format. (`cairn-storage` refuses such a file when it opens
/// it; this check keeps every `KvWrite`, `MemoryKv` included, honest.)
fn check_format(kv: &mut impl KvWrite) -> Result<(), StorageError> {
    match kv.get(Table::Meta, META_FORMAT_VERSION)? {
        None => kv.put(
            Table::Meta,
            META_FORMAT_VERSION,
            &codec::encode(&codec::FORMAT_VERSION),
        ),
        Some(bytes) => {
            let found: u32 = codec::decode(&bytes)?;
            if found == codec::FORMAT_VERSION {
                Ok(())
            } else {
                Err(StorageError::corrupt(format!(
                    "state format version {found}, this build reads {}",
                    codec::FORMAT_VERSION
                )))
            }
        }
    }
}

#[cfg(test)]
mod audit_tests;
#[cfg(test)]
mod entry_tests;
#[cfg(test)]
mod import_tests;
#[cfg(test)]
mod tests;
