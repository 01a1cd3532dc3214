//! Simulated agents: each talks to a random node per request, as agents
//! behind a load balancer would, and records what it asked and what it was
//! told. Writes carry idempotency keys and are retried once, with the same
//! key, when their outcome is unknown.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use cairn_client::At;
use cairn_client::{Client, ClientError, Consistency, WriteOptions};
use cairn_client::{OpRequest, PreconditionFields, TxnRequest};

use crate::history::{Event, Op, Outcome, Precondition};
use crate::net::ClientConnector;
use crate::node::{HTTP_PORT, host_name};
use crate::rng::Rng;

pub const STORE: &str = "agents";
/// The files whose histories are checked for linearizability.
pub const PATHS: [&str; 4] = ["/k/0.md", "/k/1.md", "/k/2.md", "/k/3.md"];
/// Files that are renamed back and forth (checked by convergence and audit).
pub const RENAMED: [&str; 2] = ["/r/a.md", "/r/b.md"];
/// Marker line that `str_replace` flips.
pub const OPEN: &str = "state: open";

/// A stale read, checked against the file's final history.
#[derive(Clone, Debug)]
pub struct StaleRead {
    pub path: String,
    pub version: u64,
    pub content: String,
}

/// What every agent records into.
#[derive(Default)]
pub struct Journal {
    pub events: Vec<Event>,
    pub stale_reads: Vec<StaleRead>,
    /// Operations (attempted requests) in all.
    pub operations: u64,
    /// Definite answers received after the healing phase began.
    pub answered_after_heal: u64,
}

pub type SharedJournal = Arc<Mutex<Journal>>;

pub fn now_ns() -> u64 {
    turmoil::sim_elapsed().map_or(0, |elapsed| elapsed.as_nanos() as u64)
}

pub fn clients(nodes: &[u64], agent: &str) -> Vec<Client> {
    nodes
        .iter()
        .map(|id| {
            Client::with_connector(
                &format!("http://{}:{HTTP_PORT}", host_name(*id)),
                Arc::new(ClientConnector),
            )
            .expect("simulated node url")
            .with_timeout(Duration::from_secs(4))
            .with_agent(agent.to_string())
            .with_token(crate::node::OPERATOR_TOKEN)
        })
        .collect()
}

/// What an error tells about whether the operation happened.
fn classify(error: &ClientError) -> Outcome {
    match error.code() {
        "version_conflict" => Outcome::Conflict,
        "not_found" => Outcome::Absent,
        "no_unique_match" => Outcome::NoUniqueMatch,
        // Refused before anything was proposed.
        "not_leader" | "unavailable" if error.status() == Some(503) => Outcome::NotApplied,
        _ => Outcome::Unknown,
    }
}

pub struct Agent {
    pub index: u32,
    pub rng: Rng,
    pub clients: Vec<Client>,
    pub journal: SharedJournal,
    pub stop_at: Duration,
    pub heal_at: Duration,
    seq: u64,
}

impl Agent {
    pub fn new(
        index: u32,
        rng: Rng,
        clients: Vec<Client>,
        journal: SharedJournal,
        heal_at: Duration,
        stop_at: Duration,
    ) -> Agent {
        Agent {
            index,
            rng,
            clients,
            journal,
            stop_at,
            heal_at,
            seq: 0,
        }
    }

    fn client(&mut self) -> Client {
        self.rng.pick(&self.clients).clone()
    }

    fn token(&mut self) -> String {
        self.seq += 1;
        format!("agent {} op {}", self.index, self.seq)
    }

    fn record(&self, path: &str, op: Op, outcome: Outcome, invoked_ns: u64) {
        let completed_ns = (outcome != Outcome::Unknown).then(now_ns);
        let mut journal = self.journal.lock().expect("journal lock");
        journal.operations += 1;
        if outcome != Outcome::Unknown
            && outcome != Outcome::NotApplied
            && turmoil::sim_elapsed().unwrap_or_default() >= self.heal_at
        {
            journal.answered_after_heal += 1;
        }
        journal.events.push(Event {
            client: self.index,
            path: path.to_string(),
            op,
            outcome,
            invoked_ns,
            completed_ns,
        });
    }

    /// Runs operations until the stop time.
    pub async fn run(mut self) -> turmoil::Result {
        while turmoil::sim_elapsed().unwrap_or_default() < self.stop_at {
            let roll = self.rng.below(100);
            match roll {
                0..=29 => {
                    self.read().await;
                }
                30..=44 => self.blind_write().await,
                45..=64 => self.cas_write().await,
                65..=74 => self.str_replace().await,
                75..=81 => self.txn().await,
                82..=86 => self.delete().await,
                87..=91 => self.rename().await,
                _ => self.stale_read().await,
            }
            let pause = self.rng.below(30);
            tokio::time::sleep(Duration::from_millis(pause)).await;
        }
        Ok(())
    }

    fn path(&mut self) -> &'static str {
        PATHS[self.rng.below(PATHS.len() as u64) as usize]
    }

    async fn read(&mut self) -> Option<(u64, String)> {
        let path = self.path();
        self.read_path(path).await
    }

    async fn read_path(&mut self, path: &str) -> Option<(u64, String)> {
        let client = self.client();
        let invoked = now_ns();
        match client.read_file(STORE, path, At::Current).await {
            Ok(file) => {
                let found = (file.version, file.content.clone());
                self.record(
                    path,
                    Op::Read,
                    Outcome::Found {
                        version: file.version,
                        content: file.content,
                    },
                    invoked,
                );
                Some(found)
            }
            Err(error) => {
                let outcome = match classify(&error) {
                    Outcome::Absent => Outcome::Absent,
                    // A read that got no answer constrains nothing.
                    _ => Outcome::NotApplied,
                };
                self.record(path, Op::Read, outcome, invoked);
                None
            }
        }
    }

    async fn stale_read(&mut self) {
        let path = self.path();
        let client = self.client().with_consistency(Consistency::Stale);
        if let Ok(file) = client.read_file(STORE, path, At::Current).await {
            let mut journal = self.journal.lock().expect("journal lock");
            journal.operations += 1;
            journal.stale_reads.push(StaleRead {
                path: path.to_string(),
                version: file.version,
                content: file.content,
            });
        }
    }

    /// Writes with an idempotency key; an unknown outcome is retried once
    /// with the same key, and the retry's answer is the operation's.
    async fn write(&mut self, path: &str, content: String, precondition: Precondition) {
        let key = self.key();
        let options = WriteOptions {
            if_match: match precondition {
                Precondition::IfVersion(version) => Some(version),
                _ => None,
            },
            if_none_match: precondition == Precondition::IfAbsent,
            idempotency_key: Some(key),
        };
        let invoked = now_ns();
        let outcome = self
            .keyed(async |client| {
                match client
                    .write_file(STORE, path, content.clone(), &options)
                    .await
                {
                    Ok(written) => Outcome::Applied {
                        version: Some(written.version),
                    },
                    Err(error) => classify(&error),
                }
            })
            .await;
        self.record(
            path,
            Op::Write {
                content,
                precondition,
            },
            outcome,
            invoked,
        );
    }

    /// Runs a keyed write, retried once with the same key when its outcome is
    /// unknown. A refused retry says nothing of the first attempt.
    async fn keyed(&mut self, mut attempt: impl AsyncFnMut(Client) -> Outcome) -> Outcome {
        let mut uncertain = false;
        for _ in 0..2 {
            let client = self.client();
            match attempt(client).await {
                Outcome::Unknown => {
                    uncertain = true;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Outcome::NotApplied if uncertain => return Outcome::Unknown,
                other => return other,
            }
        }
        Outcome::Unknown
    }

    /// The idempotency key of the operation under way (one per `token`).
    fn key(&self) -> String {
        format!("a{}-{}", self.index, self.seq)
    }

    /// Sends a transaction under the current operation's key; answers when it
    /// was invoked and its outcome (the store revision is every file's new version).
    async fn submit_txn(&mut self, request: &TxnRequest) -> (u64, Outcome) {
        let key = self.key();
        let invoked = now_ns();
        let outcome = self
            .keyed(
                async |client| match client.txn(STORE, request, Some(&key)).await {
                    Ok(result) => Outcome::Applied {
                        version: Some(result.revision),
                    },
                    Err(error) => classify(&error),
                },
            )
            .await;
        (invoked, outcome)
    }

    async fn blind_write(&mut self) {
        let path = self.path();
        let content = format!("{}\n{OPEN}\n", self.token());
        self.write(path, content, Precondition::None).await;
    }

    async fn cas_write(&mut self) {
        let path = self.path();
        let precondition = match self.read_path(path).await {
            Some((version, _)) => Precondition::IfVersion(version),
            None => Precondition::IfAbsent,
        };
        let content = format!("{}\n{OPEN}\n", self.token());
        self.write(path, content, precondition).await;
    }

    async fn str_replace(&mut self) {
        let path = self.path();
        let new = format!("state: done by {}", self.token());
        let request = TxnRequest {
            ops: vec![OpRequest::StrReplace {
                path: path.to_string(),
                old: OPEN.to_string(),
                new: new.clone(),
                precondition: PreconditionFields::default(),
            }],
            message: None,
        };
        let (invoked, outcome) = self.submit_txn(&request).await;
        self.record(
            path,
            Op::StrReplace {
                old: OPEN.to_string(),
                new,
            },
            outcome,
            invoked,
        );
    }

    /// Two files written at one revision.
    async fn txn(&mut self) {
        let first = self.path();
        let second = loop {
            let candidate = self.path();
            if candidate != first {
                break candidate;
            }
        };
        let token = self.token();
        let contents = [
            format!("{token} (1 of 2)\n{OPEN}\n"),
            format!("{token} (2 of 2)\n{OPEN}\n"),
        ];
        let request = TxnRequest {
            ops: [first, second]
                .iter()
                .zip(&contents)
                .map(|(path, content)| OpRequest::Write {
                    path: path.to_string(),
                    content: content.clone(),
                    precondition: PreconditionFields::default(),
                })
                .collect(),
            message: None,
        };
        let (invoked, outcome) = self.submit_txn(&request).await;
        for (path, content) in [first, second].iter().zip(contents) {
            self.record(
                path,
                Op::Write {
                    content,
                    precondition: Precondition::None,
                },
                outcome.clone(),
                invoked,
            );
        }
    }

    async fn delete(&mut self) {
        let path = self.path();
        let invoked = now_ns();
        let client = self.client();
        let key = self.token();
        let outcome = match client
            .delete_file(STORE, path, false, None, Some(&key))
            .await
        {
            Ok(_) => Outcome::Applied { version: None },
            Err(error) => classify(&error),
        };
        self.record(path, Op::Delete, outcome, invoked);
    }

    async fn rename(&mut self) {
        let (from, to) = if self.rng.chance(50) {
            (RENAMED[0], RENAMED[1])
        } else {
            (RENAMED[1], RENAMED[0])
        };
        let client = self.client();
        let content = self.token();
        // Make sure there is something to move, then move it.
        let _ = client
            .write_file(STORE, from, content, &WriteOptions::default())
            .await;
        let _ = client.rename(STORE, from, to, true, None, None).await;
        self.journal.lock().expect("journal lock").operations += 2;
    }
}
