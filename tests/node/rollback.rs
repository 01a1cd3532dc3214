//! Rollback on the real binary: a file to a version, a subtree and the
//! store to a revision, a session's and an agent's writes, each one new
//! change; a refused session rollback names every conflicting path and
//! changes nothing; `--force` and `--dry-run`.

use cairn_client::api::RollbackRequest;
use cairn_client::{At, Client, WriteOptions};

use crate::{expect_problem, start_single};

const STORE: &str = "notes";

async fn put(client: &Client, path: &str, content: &str) -> u64 {
    client
        .write_file(STORE, path, content, &WriteOptions::default())
        .await
        .unwrap()
        .version
}

async fn content(client: &Client, path: &str) -> Option<String> {
    match client.read_file(STORE, path, At::Current).await {
        Ok(file) => Some(file.content),
        Err(error) if error.code() == "not_found" => None,
        Err(error) => panic!("read {path}: {error}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rollback_kind_is_one_new_change_and_conflicts_are_named() {
    let single = start_single().await;
    let operator = &single.client;
    operator.create_store(STORE).await.unwrap();
    let s1 = operator.clone().with_agent("agent-a").with_session("s1");
    let s2 = operator.clone().with_agent("agent-b").with_session("s2");
    let a1 = put(&s1, "/a.md", "a1").await;
    put(&s1, "/dir/b.md", "b1").await;
    let a2 = put(&s2, "/a.md", "a2").await;
    put(&s1, "/dir/c.md", "c1").await;
    let before_tree = put(&s2, "/dir/b.md", "b2").await;
    put(&s2, "/dir/b.md", "b3").await;

    // A file to a version: one new change at a new revision.
    let file = RollbackRequest {
        path: Some("/a.md".into()),
        to_version: Some(a1),
        ..RollbackRequest::default()
    };
    let result = operator.rollback(STORE, &file, None).await.unwrap();
    assert!(result.applied);
    assert!(result.revision.unwrap() > before_tree);
    assert_eq!(content(operator, "/a.md").await.as_deref(), Some("a1"));
    let history = operator
        .history(STORE, "/a.md", None, None, false)
        .await
        .unwrap();
    assert_eq!(history.versions.len(), 3, "history is never rewritten");

    // A subtree to a revision.
    let tree = RollbackRequest {
        path: Some("/dir".into()),
        to_revision: Some(before_tree),
        ..RollbackRequest::default()
    };
    operator.rollback(STORE, &tree, None).await.unwrap();
    assert_eq!(content(operator, "/dir/b.md").await.as_deref(), Some("b2"));
    assert_eq!(content(operator, "/a.md").await.as_deref(), Some("a1"));

    // s1's rollback would undo s2's later writes to /dir/b.md: refused,
    // naming it, and nothing changes. (The operator's own rollbacks of
    // /a.md and /dir/b.md count as someone else's changes too.)
    let digest = operator.digest().await.unwrap();
    let session = RollbackRequest {
        session: Some("s1".into()),
        ..RollbackRequest::default()
    };
    let problem = expect_problem(
        operator.rollback(STORE, &session, None).await,
        409,
        "rollback_conflict",
    );
    assert_eq!(
        problem.paths,
        Some(vec!["/a.md".to_string(), "/dir/b.md".to_string()])
    );
    assert_eq!(operator.digest().await.unwrap(), digest);

    // A dry run shows the plan and changes nothing.
    let dry = RollbackRequest {
        dry_run: true,
        ..session.clone()
    };
    let plan = operator.rollback(STORE, &dry, None).await.unwrap();
    assert!(!plan.applied);
    let mut conflicting: Vec<&str> = plan.conflicts.iter().map(|c| c.path.as_str()).collect();
    conflicting.dedup();
    assert_eq!(conflicting, vec!["/a.md", "/dir/b.md"], "{plan:?}");
    assert_eq!(operator.digest().await.unwrap(), digest);

    // Forced, through the CLI: every file s1 created is gone again.
    let (code, stdout, stderr) = single
        .node
        .cli(&["--session", "s1", "rollback", STORE, "--force"], None);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("rolled back"), "{stdout}");
    for path in ["/a.md", "/dir/b.md", "/dir/c.md"] {
        assert_eq!(content(operator, path).await, None, "{path}");
    }
    // The rollback is the operator's change, not attributed to s1.
    let audit = operator.audit(STORE, None, None).await.unwrap();
    let last = audit.records.last().unwrap();
    assert_eq!(
        (last.session.as_str(), last.principal.as_str()),
        ("", "operator")
    );

    // The whole store back to where s2 had written /a.md; then an agent's writes.
    let store = RollbackRequest {
        to_revision: Some(a2),
        ..RollbackRequest::default()
    };
    operator.rollback(STORE, &store, None).await.unwrap();
    assert_eq!(content(operator, "/a.md").await.as_deref(), Some("a2"));
    assert_eq!(content(operator, "/dir/b.md").await.as_deref(), Some("b1"));
    // Nothing left to do is an answer, not a change.
    let again = operator.rollback(STORE, &store, None).await.unwrap();
    assert!(!again.applied && again.steps.is_empty(), "{again:?}");
    let agent = RollbackRequest {
        agent: Some("agent-b".into()),
        force: true,
        ..RollbackRequest::default()
    };
    operator.rollback(STORE, &agent, None).await.unwrap();
    assert_eq!(content(operator, "/a.md").await.as_deref(), Some("a1"));

    // A member without admin access may not roll back.
    operator
        .create_user("default", "mia", cairn_client::Role::Member)
        .await
        .unwrap();
    let token = operator
        .create_token("default", "mia", &Default::default())
        .await
        .unwrap()
        .token;
    let mia = operator.clone().with_token(token);
    expect_problem(mia.rollback(STORE, &file, None).await, 403, "forbidden");
}
