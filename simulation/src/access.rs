//! Tokens and grants under faults: a gatekeeper (the operator) keeps giving
//! and taking away a member's `write` grant on a store of its own, while the
//! member keeps writing to it with its own token. Every write the member was
//! told succeeded must have had the grant at some point while it was in
//! flight: `apply` checks the grant at the write's place in the log, so a
//! write proposed before a revoke and applied after it is refused.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use cairn_client::{Access, Client, ClientError, Role, WriteOptions};

use crate::rng::Rng;
use crate::workload::now_ns;

/// The store the member writes to; nobody else does.
pub const GUARDED: &str = "guarded";
pub const MEMBER: &str = "member";
const ORG: &str = "default";

/// One change of the member's grant, as the gatekeeper saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GrantChange {
    /// `true`: `write` given; `false`: the grant removed (the member reads only).
    pub write: bool,
    pub invoked_ns: u64,
    /// `None` when the answer never came (the change may apply at any time after).
    pub completed_ns: Option<u64>,
    /// Whether it was answered as done (a definite refusal changed nothing).
    pub done: bool,
}

/// One write by the member that was answered as applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberWrite {
    pub path: String,
    pub invoked_ns: u64,
    pub completed_ns: u64,
}

#[derive(Default, Debug)]
pub struct AccessJournal {
    pub changes: Vec<GrantChange>,
    pub applied: Vec<MemberWrite>,
    /// Writes refused as `forbidden`.
    pub forbidden: u64,
}

pub type SharedAccess = Arc<Mutex<AccessJournal>>;

/// Retries `call` until it answers other than a retryable failure, up to `attempts`.
async fn settle<T>(
    clients: &[Client],
    attempts: usize,
    call: impl AsyncFn(&Client) -> Result<T, ClientError>,
) -> Option<T> {
    for attempt in 0..attempts {
        match call(&clients[attempt % clients.len()]).await {
            Ok(value) => return Some(value),
            Err(error) if error.code() == "already_exists" => return None,
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    None
}

/// Sets up the member, its token and the store, then flips the grant until
/// `stop_at`. The member's token goes to `token` once made.
pub async fn gatekeeper(
    clients: Vec<Client>,
    mut rng: Rng,
    journal: SharedAccess,
    token: Arc<Mutex<Option<String>>>,
    stop_at: Duration,
) -> turmoil::Result {
    settle(&clients, 200, async |client| {
        client.create_store(GUARDED).await
    })
    .await;
    settle(&clients, 200, async |client| {
        client.create_user(ORG, MEMBER, Role::Member).await
    })
    .await;
    let created = settle(&clients, 200, async |client| {
        client.create_token(ORG, MEMBER, &Default::default()).await
    })
    .await;
    let Some(created) = created else {
        return Err("the gatekeeper could not make the member's token".into());
    };
    *token.lock().expect("token lock") = Some(created.token);
    let mut write = true;
    while turmoil::sim_elapsed().unwrap_or_default() < stop_at {
        let client = rng
            .pick(&clients)
            .clone()
            .with_timeout(Duration::from_secs(2));
        let invoked_ns = now_ns();
        let answer = match write {
            true => client.grant(GUARDED, MEMBER, Access::Write).await,
            false => client.revoke_grant(GUARDED, MEMBER).await,
        };
        let (completed_ns, done) = match &answer {
            Ok(_) => (Some(now_ns()), true),
            // A definite refusal: nothing changed.
            Err(error) if error.status().is_some_and(|status| status < 500) => {
                (Some(now_ns()), false)
            }
            Err(error) if error.code() == "unavailable" || error.code() == "not_leader" => {
                (Some(now_ns()), false)
            }
            Err(_) => (None, false),
        };
        journal
            .lock()
            .expect("access lock")
            .changes
            .push(GrantChange {
                write,
                invoked_ns,
                completed_ns,
                done,
            });
        write = !write;
        tokio::time::sleep(Duration::from_millis(rng.range(20, 120))).await;
    }
    Ok(())
}

/// Writes to the guarded store with the member's token until `stop_at`.
pub async fn member(
    clients: Vec<Client>,
    mut rng: Rng,
    journal: SharedAccess,
    token: Arc<Mutex<Option<String>>>,
    stop_at: Duration,
) -> turmoil::Result {
    let token = loop {
        if let Some(token) = token.lock().expect("token lock").clone() {
            break token;
        }
        if turmoil::sim_elapsed().unwrap_or_default() >= stop_at {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let clients: Vec<Client> = clients
        .into_iter()
        .map(|client| client.with_token(token.clone()))
        .collect();
    let mut n = 0u64;
    while turmoil::sim_elapsed().unwrap_or_default() < stop_at {
        n += 1;
        let path = format!("/m/{}.md", n % 8);
        let options = WriteOptions {
            idempotency_key: Some(format!("member-{n}")),
            ..WriteOptions::default()
        };
        let invoked_ns = now_ns();
        // One retry with the same key when the outcome is unknown.
        for _ in 0..2 {
            let client = rng.pick(&clients).clone();
            match client
                .write_file(GUARDED, &path, format!("write {n}"), &options)
                .await
            {
                Ok(_) => {
                    journal
                        .lock()
                        .expect("access lock")
                        .applied
                        .push(MemberWrite {
                            path: path.clone(),
                            invoked_ns,
                            completed_ns: now_ns(),
                        });
                    break;
                }
                Err(error) if error.code() == "forbidden" => {
                    journal.lock().expect("access lock").forbidden += 1;
                    break;
                }
                Err(error) if error.status().is_some_and(|status| status < 500) => break,
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        tokio::time::sleep(Duration::from_millis(rng.range(0, 30))).await;
    }
    Ok(())
}
