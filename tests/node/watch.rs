//! The change feed (`GET /v1/stores/{store}/watch`) on the real binary:
//! replay and live changes in revision order, resumption after a
//! disconnect with `Last-Event-ID` (no gap, no repeat), heartbeats, the
//! `too_old` event, access rules, and the end of the stream on shutdown.

use std::time::Duration;

use cairn_client::{
    Client, CreateTokenRequest, Role, WatchChange, WatchEndReason, WatchEvent, WatchQuery,
    WatchStream, WriteOptions,
};

use crate::{expect_problem, start_single_with};

const STORE: &str = "notes";

/// How long a test waits for one event before it fails.
const EVENT_WAIT: Duration = Duration::from_secs(20);

async fn next_event(stream: &mut WatchStream) -> WatchEvent {
    tokio::time::timeout(EVENT_WAIT, stream.next())
        .await
        .expect("an event within the wait")
        .expect("a readable stream")
        .expect("the stream still open")
}

/// The next event, skipping heartbeats.
async fn next_non_heartbeat(stream: &mut WatchStream) -> WatchEvent {
    loop {
        match next_event(stream).await {
            WatchEvent::Heartbeat(_) => continue,
            event => return event,
        }
    }
}

async fn next_change(stream: &mut WatchStream) -> WatchChange {
    match next_non_heartbeat(stream).await {
        WatchEvent::Change(change) => change,
        other => panic!("expected a change, got {other:?}"),
    }
}

async fn write(client: &Client, path: &str, content: &str) -> u64 {
    client
        .write_file(STORE, path, content, &WriteOptions::default())
        .await
        .unwrap()
        .version
}

fn from(revision: u64) -> WatchQuery {
    WatchQuery {
        from_revision: Some(revision),
        ..WatchQuery::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_replay_in_order_and_resume_after_a_disconnect_without_gap_or_repeat() {
    let single = start_single_with("[watch]\nheartbeat_ms = 300\n").await;
    let client = single
        .client
        .clone()
        .with_agent("planner")
        .with_session("s-1");
    client.create_store(STORE).await.unwrap();
    for n in 1..=5u64 {
        assert_eq!(write(&client, &format!("/n/{n}.md"), "x").await, n);
    }

    // Replay from revision 1; read three changes, then drop the connection.
    let mut stream = client.watch(STORE, from(1), None).await.unwrap();
    for revision in 1..=3u64 {
        let change = next_change(&mut stream).await;
        assert_eq!(change.revision, revision);
        assert_eq!(change.operation, "txn");
        assert_eq!(
            (change.agent.as_str(), change.session.as_str()),
            ("planner", "s-1")
        );
        assert_eq!(change.principal, "operator");
        assert_eq!(change.changes.len(), 1);
        assert_eq!(change.changes[0].path, format!("/n/{revision}.md"));
        assert_eq!(change.changes[0].version, Some(revision));
        assert_eq!(change.changes[0].op.as_str(), "write");
    }
    assert_eq!(stream.last_event_id(), Some(3));
    drop(stream);

    // Changes while disconnected, of several kinds.
    client
        .delete_file(STORE, "/n/1.md", false, None, None)
        .await
        .unwrap();
    client
        .rename(STORE, "/n/2.md", "/m/2.md", false, None, None)
        .await
        .unwrap();
    write(&client, "/n/5.md", "y").await;

    // Resume after revision 3, with a from_revision the header overrides.
    let query = WatchQuery {
        until_revision: Some(8),
        ..from(1)
    };
    let mut stream = client.watch(STORE, query, Some(3)).await.unwrap();
    let mut revisions = Vec::new();
    loop {
        match next_non_heartbeat(&mut stream).await {
            WatchEvent::Change(change) => {
                if change.revision == 6 {
                    assert_eq!(change.changes.len(), 1);
                    assert_eq!(change.changes[0].op.as_str(), "delete");
                    assert_eq!(change.changes[0].version, None);
                }
                if change.revision == 7 {
                    let paths: Vec<&str> = change.changes.iter().map(|c| c.path.as_str()).collect();
                    assert!(
                        paths.contains(&"/n/2.md") && paths.contains(&"/m/2.md"),
                        "{paths:?}"
                    );
                }
                revisions.push(change.revision);
            }
            WatchEvent::End(end) => {
                assert_eq!(end.reason, WatchEndReason::UntilRevision);
                assert_eq!(end.last_revision, Some(8));
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(revisions, vec![4, 5, 6, 7, 8]);
    assert!(
        stream.next().await.unwrap().is_none(),
        "the stream ends after `end`"
    );

    // Live: a watch with no start sees only what comes after it, and an idle
    // stream sends heartbeats with the store's revision.
    let mut live = client
        .watch(STORE, WatchQuery::default(), None)
        .await
        .unwrap();
    match next_event(&mut live).await {
        WatchEvent::Heartbeat(beat) => assert_eq!(beat.revision, 8),
        other => panic!("expected a heartbeat, got {other:?}"),
    }
    write(&client, "/live.md", "now").await;
    let change = next_change(&mut live).await;
    assert_eq!(
        (change.revision, change.changes[0].path.as_str()),
        (9, "/live.md")
    );

    // `limit` ends the stream after that many changes.
    let query = WatchQuery {
        limit: Some(2),
        ..from(2)
    };
    let mut limited = client.watch(STORE, query, None).await.unwrap();
    assert_eq!(next_change(&mut limited).await.revision, 2);
    assert_eq!(next_change(&mut limited).await.revision, 3);
    match next_non_heartbeat(&mut limited).await {
        WatchEvent::End(end) => assert_eq!(end.reason, WatchEndReason::Limit),
        other => panic!("expected the end, got {other:?}"),
    }

    // The raw stream: SSE with ids, and never a file's content.
    let response = client
        .raw_request(
            "GET",
            "/v1/stores/notes/watch?from_revision=9&until_revision=9",
            &[],
            "",
        )
        .await
        .unwrap();
    assert_eq!(response.status, 200);
    assert!(
        response
            .header("content-type")
            .unwrap()
            .starts_with("text/event-stream")
    );
    let text = response.text();
    assert!(text.contains("event: change\n"), "{text}");
    assert!(text.contains("id: 9\n"), "{text}");
    assert!(text.contains("event: end\n"), "{text}");
    assert!(
        !text.contains("now"),
        "content leaked into the feed: {text}"
    );

    // The CLI: one line per change, or one JSON object per line; it ends
    // with the stream's `end`.
    let (code, out, err) = single
        .node
        .cli(&["watch", STORE, "--from", "6", "--until", "7"], None);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines[0].starts_with("r6 ") && lines[0].ends_with(" txn planner/s-1 delete /n/1.md"),
        "{out}"
    );
    let (code, out, err) = single.node.cli(
        &["watch", STORE, "--from", "8", "--limit", "2", "--json"],
        None,
    );
    assert_eq!(code, 0, "{err}");
    let changes: Vec<WatchChange> = out
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let revisions: Vec<u64> = changes.iter().map(|change| change.revision).collect();
    assert_eq!(revisions, vec![8, 9]);

    // Bad requests are refused before any stream starts.
    for (target, headers) in [
        (
            "/v1/stores/notes/watch?from_revision=5&until_revision=4",
            vec![],
        ),
        ("/v1/stores/notes/watch?limit=0", vec![]),
        ("/v1/stores/notes/watch?bogus=1", vec![]),
        ("/v1/stores/notes/watch", vec![("last-event-id", "seven")]),
    ] {
        let response = client
            .raw_request("GET", target, &headers, "")
            .await
            .unwrap();
        assert_eq!(response.status, 400, "{target}: {}", response.text());
    }
    expect_problem(
        client.watch("absent", from(1), None).await,
        404,
        "not_found",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_older_than_the_replay_window_gets_too_old() {
    let single = start_single_with("[watch]\nreplay_revisions_max = 3\n").await;
    let client = &single.client;
    client.create_store(STORE).await.unwrap();
    for n in 1..=6u64 {
        write(client, &format!("/{n}.md"), "x").await;
    }
    let mut stream = client.watch(STORE, from(1), None).await.unwrap();
    match next_event(&mut stream).await {
        WatchEvent::TooOld(too_old) => {
            assert_eq!(too_old.from_revision, 1);
            assert_eq!(too_old.oldest_revision, 4);
            assert_eq!(too_old.current_revision, 6);
        }
        other => panic!("expected too_old, got {other:?}"),
    }
    assert!(
        stream.next().await.unwrap().is_none(),
        "too_old ends the stream"
    );
    // So does a Last-Event-ID too far back.
    let mut stream = client
        .watch(STORE, WatchQuery::default(), Some(2))
        .await
        .unwrap();
    assert!(matches!(
        next_event(&mut stream).await,
        WatchEvent::TooOld(_)
    ));

    let (code, _, err) = single.node.cli(&["watch", STORE, "--from", "2"], None);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("too_old") && err.contains("--from 7"), "{err}");

    // The oldest revision in the window replays.
    let query = WatchQuery {
        until_revision: Some(6),
        ..from(4)
    };
    let mut stream = client.watch(STORE, query, None).await.unwrap();
    for revision in 4..=6 {
        assert_eq!(next_change(&mut stream).await.revision, revision);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_readers_may_watch_and_a_revoked_token_ends_the_stream() {
    let single = start_single_with("").await;
    let operator = &single.client;
    operator.create_org("acme").await.unwrap();
    operator.create_org("globex").await.unwrap();
    for (org, user) in [("acme", "bob"), ("acme", "carol"), ("globex", "mallory")] {
        operator.create_user(org, user, Role::Member).await.unwrap();
    }
    let as_user = |org: &'static str, user: &'static str| async move {
        let created = operator
            .create_token(org, user, &CreateTokenRequest::default())
            .await
            .unwrap();
        (
            operator.clone().with_org(org).with_token(&created.token),
            created.view.id,
        )
    };
    let (bob, _) = as_user("acme", "bob").await;
    let (carol, carol_token) = as_user("acme", "carol").await;
    let (mallory, _) = as_user("globex", "mallory").await;
    bob.create_store_owned("bob-notes", Some("bob"))
        .await
        .unwrap();
    bob.write_file("bob-notes", "/a.md", "private", &WriteOptions::default())
        .await
        .unwrap();

    // Bob reads his store; Carol (no grant) and another organization see nothing.
    let mut own = bob.watch("bob-notes", from(1), None).await.unwrap();
    assert_eq!(next_change(&mut own).await.revision, 1);
    expect_problem(
        carol.watch("bob-notes", from(1), None).await,
        404,
        "not_found",
    );
    expect_problem(
        mallory.watch("bob-notes", from(1), None).await,
        404,
        "not_found",
    );
    let anonymous = Client::new(&single.node.url()).unwrap();
    expect_problem(
        anonymous.watch("bob-notes", from(1), None).await,
        401,
        "unauthenticated",
    );

    // A member reads an organization store; when her token is revoked, the
    // stream ends with the problem.
    operator
        .clone()
        .with_org("acme")
        .create_store("shared")
        .await
        .unwrap();
    let mut shared = carol
        .watch("shared", WatchQuery::default(), None)
        .await
        .unwrap();
    operator.revoke_token(&carol_token).await.unwrap();
    // A change wakes the feed, which reads again under the revoked token.
    operator
        .clone()
        .with_org("acme")
        .write_file("shared", "/x.md", "x", &WriteOptions::default())
        .await
        .unwrap();
    match next_non_heartbeat(&mut shared).await {
        WatchEvent::Error(problem) => assert_eq!(problem.code, "unauthenticated"),
        other => panic!("expected an error event, got {other:?}"),
    }
    assert!(shared.next().await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_stream_ends_with_shutdown_and_does_not_hold_the_node() {
    let mut single = start_single_with("").await;
    let client = single.client.clone();
    client.create_store(STORE).await.unwrap();
    write(&client, "/a.md", "a").await;
    let mut stream = client.watch(STORE, from(1), None).await.unwrap();
    assert_eq!(next_change(&mut stream).await.revision, 1);
    single.node.signal("TERM");
    match next_non_heartbeat(&mut stream).await {
        WatchEvent::End(end) => {
            assert_eq!(end.reason, WatchEndReason::Shutdown);
            assert_eq!(end.last_revision, Some(1));
        }
        other => panic!("expected the end, got {other:?}"),
    }
    assert!(
        single.node.wait_exit(Duration::from_secs(5)).await,
        "the node did not stop within 5 s with a watch open:\n{}",
        single.node.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cairn_watch_reconnects_after_its_node_restarts_and_misses_nothing() {
    let mut single = start_single_with("").await;
    let client = single.client.clone();
    client.create_store(STORE).await.unwrap();
    write(&client, "/1.md", "1").await;

    // `cairn watch` until revision 4, in the background.
    let watcher = std::process::Command::new(cairn_tests::cairn_binary())
        .args(["watch", STORE, "--from", "1", "--until", "4", "--json"])
        .env("CAIRN_URL", single.node.url())
        .env("CAIRN_TOKEN", cairn_tests::OPERATOR_TOKEN)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    write(&client, "/2.md", "2").await;
    // Stop the node while the CLI follows it (the stream ends with
    // `shutdown`, then connections are refused), restart it, write on: the
    // CLI reconnects after the last revision it printed.
    let mut seen = client.watch(STORE, from(2), None).await.unwrap();
    assert_eq!(next_change(&mut seen).await.revision, 2);
    drop(seen);
    tokio::time::sleep(Duration::from_millis(500)).await;
    single.node.signal("TERM");
    assert!(single.node.wait_exit(Duration::from_secs(10)).await);
    single.node.spawn();
    single.node.wait_ready().await;
    write(&client, "/3.md", "3").await;
    write(&client, "/4.md", "4").await;

    let output = tokio::task::spawn_blocking(move || watcher.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let revisions: Vec<u64> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str::<WatchChange>(line).unwrap().revision)
        .collect();
    assert_eq!(revisions, vec![1, 2, 3, 4], "{stderr}");
}
