//! The audit trail on the real binary: every acknowledged write has exactly
//! one event with its principal, agent, session, idempotency key and request
//! id; `GET /v1/audit?session=` spans stores but shows a caller only what
//! they may read; a deleted store's events stay for its admins; and an event
//! edited on disk is the break `audit verify` reports.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use cairn_client::{
    Access, AuditEvent, AuditQuery, Client, CreateTokenRequest, GlobalAuditQuery, Role,
};
use cairn_tests::{OPERATOR_TOKEN, cairn_binary};
use redb::ReadableTable;

use crate::{expect_problem, start_single, start_single_with};

fn as_token(operator: &Client, token: &str) -> Client {
    let base = operator.base_url();
    Client::new(&format!("http://{}{}", base.authority, base.path_prefix))
        .unwrap()
        .with_token(token)
}

async fn token_for(operator: &Client, user: &str) -> String {
    operator
        .create_user("default", user, Role::Member)
        .await
        .unwrap();
    let request = CreateTokenRequest {
        agent: None,
        expires_in_s: None,
    };
    operator
        .create_token("default", user, &request)
        .await
        .unwrap()
        .token
}

/// A write with every attribution header set; answers its status.
async fn write(
    client: &Client,
    store: &str,
    path: &str,
    (agent, session, key, request_id): (&str, &str, &str, &str),
) -> u16 {
    client
        .raw_request(
            "PUT",
            &format!("/v1/stores/{store}/files{path}"),
            &[
                ("x-cairn-agent", agent),
                ("x-cairn-session", session),
                ("idempotency-key", key),
                ("x-request-id", request_id),
            ],
            format!("content of {request_id}"),
        )
        .await
        .unwrap()
        .status
}

async fn all_pages(client: &Client, mut query: GlobalAuditQuery) -> Vec<AuditEvent> {
    let mut events = Vec::new();
    query.limit = Some(3);
    loop {
        let page = client.audit_all(query.clone()).await.unwrap();
        events.extend(page.records);
        match page.next_after {
            Some(next) => query.after = Some(next),
            None => return events,
        }
    }
}

fn session(name: &str) -> GlobalAuditQuery {
    GlobalAuditQuery {
        session: Some(name.into()),
        ..GlobalAuditQuery::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_write_has_one_event_and_callers_see_only_what_they_may_read() {
    let single = start_single().await;
    let operator = &single.client;

    // Phase 1: two organization stores, and a user store ann cannot see.
    for store in ["alpha", "beta"] {
        operator.create_store(store).await.unwrap();
    }
    let ann = as_token(operator, &token_for(operator, "ann").await);
    let carl = as_token(operator, &token_for(operator, "carl").await);
    carl.create_store_owned("carl-notes", Some("carl"))
        .await
        .unwrap();
    operator.grant("alpha", "ann", Access::Write).await.unwrap();
    let ann_token_id = ann.whoami().await.unwrap().token.id;

    // Phase 2: writes in one session by three principals in three stores,
    // each acknowledged; one of them retried with its key.
    let mut acknowledged = BTreeMap::new();
    let writes = [
        (&ann, "alpha", "/dir/a.md", "planner", "default/ann"),
        (&ann, "alpha", "/dir/b.md", "planner", "default/ann"),
        (&ann, "alpha", "/top.md", "writer", "default/ann"),
        (operator, "beta", "/dir/c.md", "ops", "operator"),
        (operator, "beta", "/d.md", "ops", "operator"),
        (
            &carl,
            "carl-notes",
            "/secret.md",
            "carl-bot",
            "default/carl",
        ),
    ];
    for (n, (client, store, path, agent, principal)) in writes.into_iter().enumerate() {
        let key = format!("key-{n}");
        let request_id = format!("req-audit-{n}");
        let labels = (agent, "s-1", key.as_str(), request_id.as_str());
        assert_eq!(
            write(client, store, path, labels).await,
            200,
            "{request_id}"
        );
        if n == 0 {
            // A retry of an acknowledged write is answered, not applied again.
            assert_eq!(write(client, store, path, labels).await, 200);
        }
        acknowledged.insert(request_id, (store, path, agent, principal, key));
    }
    // Another session's write, which no s-1 query may show.
    let other = ("planner", "s-2", "key-other", "req-other");
    assert_eq!(write(&ann, "alpha", "/x.md", other).await, 200);

    // Phase 3: the operator's view of session s-1, page by page: exactly one
    // event per acknowledged write, with its attribution.
    let events = all_pages(operator, session("s-1")).await;
    assert_eq!(events.len(), acknowledged.len(), "{events:#?}");
    for event in &events {
        let (store, path, agent, principal, key) = &acknowledged[&event.request_id];
        assert_eq!(event.operation, "txn");
        assert_eq!(event.store.as_deref(), Some(*store));
        assert_eq!(event.changes.len(), 1);
        assert_eq!(event.changes[0].path, *path);
        assert_eq!(
            event.changes[0].content_sha256.as_ref().map(String::len),
            Some(64)
        );
        assert_eq!(
            (event.agent.as_str(), event.session.as_str()),
            (*agent, "s-1")
        );
        assert_eq!(event.principal, *principal);
        assert_eq!(event.idempotency_key.as_deref(), Some(key.as_str()));
        if *principal == "default/ann" {
            assert_eq!(event.token_id, ann_token_id);
        }
    }
    let by_request: BTreeMap<_, _> = events.iter().map(|e| (&e.request_id, e)).collect();
    assert_eq!(by_request.len(), events.len(), "one event per request id");

    // Phase 4: ann reads alpha and beta (organization stores) but not carl's
    // store: its events are not hers to see, and the store does not exist
    // for her. Nor are the organization's own events (users, tokens).
    let seen = all_pages(&ann, session("s-1")).await;
    let stores: Vec<_> = seen.iter().filter_map(|e| e.store.as_deref()).collect();
    assert_eq!(stores, ["alpha", "alpha", "alpha", "beta", "beta"]);
    let everything = all_pages(&ann, GlobalAuditQuery::default()).await;
    assert!(
        everything
            .iter()
            .all(|e| e.store.is_some() && e.store.as_deref() != Some("carl-notes"))
    );
    assert!(
        all_pages(operator, GlobalAuditQuery::default())
            .await
            .iter()
            .any(|e| e.operation == "create_token")
    );
    expect_problem(
        ann.store_audit("carl-notes", AuditQuery::default()).await,
        404,
        "not_found",
    );
    let mut other_store = session("s-1");
    other_store.store = Some("carl-notes".into());
    assert!(ann.audit_all(other_store).await.unwrap().records.is_empty());

    // Phase 5: the filters through HTTP: agent, path prefix, principal, time.
    let by_agent = ann
        .store_audit(
            "alpha",
            AuditQuery {
                agent: Some("planner".into()),
                ..AuditQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(by_agent.records.len(), 3, "two in s-1, one in s-2");
    let under_dir = operator
        .audit_all(GlobalAuditQuery {
            store: Some("alpha".into()),
            path: Some("/dir".into()),
            ..GlobalAuditQuery::default()
        })
        .await
        .unwrap();
    let paths: Vec<_> = under_dir
        .records
        .iter()
        .map(|e| e.changes[0].path.as_str())
        .collect();
    assert_eq!(paths, ["/dir/a.md", "/dir/b.md"]);
    let by_principal = all_pages(
        operator,
        GlobalAuditQuery {
            principal: Some("default/carl".into()),
            ..GlobalAuditQuery::default()
        },
    )
    .await;
    let ops: Vec<_> = by_principal.iter().map(|e| e.operation.as_str()).collect();
    assert_eq!(ops, ["create_store", "txn"]);
    let since = events[3].time_ms;
    let later = all_pages(
        operator,
        GlobalAuditQuery {
            since: Some(since),
            ..session("s-1")
        },
    )
    .await;
    assert!(later.len() >= 3 && later.iter().all(|e| e.time_ms >= since));

    // Phase 6: a deleted store's events stay for its organization's admins,
    // marked, ending with the deletion; a member no longer sees them.
    operator.delete_store("beta").await.unwrap();
    let beta = GlobalAuditQuery {
        store: Some("beta".into()),
        ..GlobalAuditQuery::default()
    };
    let kept = all_pages(operator, beta.clone()).await;
    let ops: Vec<_> = kept.iter().map(|e| e.operation.as_str()).collect();
    assert_eq!(ops, ["create_store", "txn", "txn", "delete_store"]);
    assert!(kept.iter().all(|e| e.store_deleted));
    assert_eq!(kept[3].changes.len(), 2, "the files the deletion removed");
    assert!(all_pages(&ann, beta).await.is_empty());
}

/// Finds `name` under `dir`, however deep.
fn find_file(dir: &Path, name: &str) -> Option<PathBuf> {
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if let Some(found) = find_file(&path, name) {
                return Some(found);
            }
        } else if path.file_name().is_some_and(|file| file == name) {
            return Some(path);
        }
    }
    None
}

/// Changes one byte of the audit record at `position` in `state.redb`,
/// inside its `needle`.
fn tamper(state: &Path, position: u64, needle: &[u8]) {
    let table: redb::TableDefinition<&[u8], &[u8]> = redb::TableDefinition::new("sm_audit");
    let db = redb::Database::open(state).unwrap();
    let txn = db.begin_write().unwrap();
    {
        let mut audit = txn.open_table(table).unwrap();
        let key = position.to_be_bytes();
        let mut value = audit
            .get(key.as_slice())
            .unwrap()
            .expect("the event is in the durable state (a snapshot persisted it)")
            .value()
            .to_vec();
        let at = value
            .windows(needle.len())
            .position(|window| window == needle)
            .expect("the event holds the needle");
        value[at] ^= 0x01;
        audit.insert(key.as_slice(), value.as_slice()).unwrap();
    }
    txn.commit().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_edited_on_disk_is_the_break_verify_reports() {
    // Snapshots every few entries make the applied state durable on disk.
    let mut single = start_single_with("[raft]\nsnapshot_logs_since_last = 4\n").await;
    let client = single.client.clone();
    client.create_store("notes").await.unwrap();
    for n in 0..12 {
        let agent = if n == 2 { "tamper-me" } else { "agent" };
        let (key, request_id) = (format!("k-{n}"), format!("r-{n}"));
        let labels = (agent, "s", key.as_str(), request_id.as_str());
        let path = format!("/f{n}.md");
        assert_eq!(write(&client, "notes", &path, labels).await, 200);
    }
    let clean = client.verify_audit("notes").await.unwrap();
    assert!(clean.ok, "{clean:?}");
    assert_eq!(clean.events, 13, "the creation and twelve writes");
    let events = client
        .audit("notes", None, Some(100))
        .await
        .unwrap()
        .records;
    assert_eq!(clean.head_hash, events.last().unwrap().hash);
    let target = events
        .iter()
        .find(|e| e.agent == "tamper-me")
        .unwrap()
        .clone();

    // Snapshots are built in the background (`LogPolicy` looks every
    // 250 ms): wait for one covering that event, so it is on disk.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while client.status().await.unwrap().snapshot_index < Some(target.log_index) {
        assert!(
            std::time::Instant::now() < deadline,
            "no snapshot covered the event"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    // Stop the node, change one byte of that event, start it again.
    single.node.kill();
    let state = find_file(&single.node.data_dir, "state.redb").expect("state.redb");
    tamper(&state, target.position, b"tamper-me");
    single.node.spawn();
    single.node.wait_ready().await;

    let report = client.verify_audit("notes").await.unwrap();
    assert!(!report.ok);
    let found = report.first_break.expect("a break");
    assert_eq!(
        (found.log_index, found.position, found.revision),
        (target.log_index, target.position, target.revision)
    );
    assert_eq!(found.found.as_deref(), Some(target.hash.as_str()));
    assert_ne!(found.expected.as_deref(), Some(target.hash.as_str()));

    // The CLI says so too, with exit code 1.
    let output = Command::new(cairn_binary())
        .args(["--url", &single.node.url(), "--token", OPERATOR_TOKEN])
        .args(["audit", "verify", "notes"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("log index {}", target.log_index)),
        "{stderr}"
    );
}
