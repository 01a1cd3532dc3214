//! What the simulated agents did and saw: one `Event` per operation, with
//! the simulated times it was invoked and answered. The checkers read these.

/// A precondition as an agent sent it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Precondition {
    None,
    IfVersion(u64),
    IfAbsent,
}

/// An operation on one file of the store (a transaction is recorded as one
/// `Write` event per file it writes, all with the transaction's times).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// A linearizable read.
    Read,
    /// Create or replace the whole content.
    Write {
        content: String,
        precondition: Precondition,
    },
    /// Replace the one occurrence of `old` by `new`.
    StrReplace {
        old: String,
        new: String,
    },
    Delete,
}

/// What the agent was told.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A read found the file at this version with this content.
    Found { version: u64, content: String },
    /// A read or an operation found no such file (`not_found`).
    Absent,
    /// A write, str_replace or delete was applied; `version` is the file's new
    /// version (`None` for a delete).
    Applied { version: Option<u64> },
    /// The precondition failed (`version_conflict`); nothing changed.
    Conflict,
    /// `str_replace` found the old text zero or several times (`no_unique_match`); nothing changed.
    NoUniqueMatch,
    /// No answer, or an answer that does not say (timeout, lost connection,
    /// `unavailable` after forwarding): the operation may or may not have
    /// taken effect, at any time after it was invoked.
    Unknown,
    /// Refused before anything could happen (`not_leader`, `unavailable` with
    /// nothing sent): certainly not applied. Checkers may drop these.
    NotApplied,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Which simulated agent.
    pub client: u32,
    /// The file's path.
    pub path: String,
    pub op: Op,
    pub outcome: Outcome,
    /// Simulated nanoseconds since the start, when the request was sent.
    pub invoked_ns: u64,
    /// When the answer arrived; `None` with `Outcome::Unknown` when none did.
    pub completed_ns: Option<u64>,
}

/// Short constructors for the checkers' tests.
#[cfg(test)]
pub(crate) mod build {
    use super::{Op, Outcome, Precondition};

    pub fn write_if(content: &str, precondition: Precondition) -> Op {
        Op::Write {
            content: content.to_owned(),
            precondition,
        }
    }

    pub fn str_replace(old: &str, new: &str) -> Op {
        Op::StrReplace {
            old: old.to_owned(),
            new: new.to_owned(),
        }
    }

    pub fn found(version: u64, content: &str) -> Outcome {
        Outcome::Found {
            version,
            content: content.to_owned(),
        }
    }

    pub fn applied(version: u64) -> Outcome {
        Outcome::Applied {
            version: Some(version),
        }
    }
}
