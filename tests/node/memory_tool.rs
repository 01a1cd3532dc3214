//! The memory tool route on the real binary: every tool outcome is a 200
//! with the SDK's text (tests/memory_tool/compare.py compares the whole
//! transcript with the SDK itself), concurrent edits of different lines both
//! land, a read-only token gets the tool's permission error and changes
//! nothing, and auth and unknown stores stay HTTP errors.

use cairn_client::{Access, At, Client, CreateTokenRequest, Role};
use serde_json::json;

use crate::{expect_problem, start_single};

async fn call(client: &Client, input: serde_json::Value) -> (String, bool) {
    let result = client.memory_tool("mem", &input).await.unwrap();
    (result.content, result.is_error)
}

#[tokio::test]
async fn memory_tool_transcript_concurrent_edits_and_a_read_only_token() {
    let single = start_single().await;
    let operator = single
        .client
        .clone()
        .with_agent("planner")
        .with_session("s-9");
    operator.create_store("mem").await.unwrap();

    // Phase 1: a short transcript with the SDK's texts.
    let created = call(
        &operator,
        json!({"command": "create", "path": "/memories/n.md", "file_text": "1\n2\n3\n4\n5\n6\n"}),
    )
    .await;
    assert_eq!(
        created,
        ("File created successfully at: /memories/n.md".into(), false)
    );
    let listing = call(&operator, json!({"command": "view", "path": "/memories"})).await;
    assert_eq!(
        listing.0,
        "Here're the files and directories up to 2 levels deep in /memories, excluding hidden items:\n4K\t/memories\n12B\t/memories/n.md"
    );
    let missing = call(&operator, json!({"command": "view", "path": "/memories/x"})).await;
    assert_eq!(
        missing,
        (
            "The path /memories/x does not exist. Please provide a valid path.".into(),
            true
        )
    );
    let escape = call(
        &operator,
        json!({"command": "view", "path": "/memories/../x"}),
    )
    .await;
    assert_eq!(
        escape,
        (
            "Path /memories/../x would escape /memories directory".into(),
            true
        )
    );
    for root in ["/memories", "/memories/", "/memories/."] {
        let refused = call(&operator, json!({"command": "delete", "path": root})).await;
        assert_eq!(
            refused,
            ("Cannot delete the /memories directory itself".into(), true)
        );
    }
    assert_eq!(
        operator
            .read_file("mem", "/n.md", At::Current)
            .await
            .unwrap()
            .content,
        "1\n2\n3\n4\n5\n6\n"
    );

    // Phase 2: two agents edit different lines of one file at once; both land.
    let (a, b) = tokio::join!(
        call(
            &operator,
            json!({"command": "str_replace", "path": "/memories/n.md", "old_str": "2\n", "new_str": "two\n"})
        ),
        call(
            &operator,
            json!({"command": "insert", "path": "/memories/n.md", "insert_line": 5, "insert_text": "five and a half"})
        ),
    );
    assert!(!a.1 && !b.1, "{a:?} {b:?}");
    assert_eq!(
        operator
            .read_file("mem", "/n.md", At::Current)
            .await
            .unwrap()
            .content,
        "1\ntwo\n3\n4\n5\nfive and a half\n6\n"
    );
    let audit = operator.audit("mem", None, None).await.unwrap();
    let last = audit.records.last().unwrap();
    assert_eq!(
        (last.agent.as_str(), last.session.as_str()),
        ("planner", "s-9")
    );

    // Phase 3: a token that may only read gets the tool's error, nothing changes.
    operator
        .create_user("default", "reader", Role::Member)
        .await
        .unwrap();
    operator.grant("mem", "reader", Access::Read).await.unwrap();
    let token = operator
        .create_token("default", "reader", &CreateTokenRequest::default())
        .await
        .unwrap()
        .token;
    let reader = operator.clone().with_token(token);
    let viewed = call(
        &reader,
        json!({"command": "view", "path": "/memories/n.md", "view_range": [2, 2]}),
    )
    .await;
    assert_eq!(
        viewed,
        (
            "Here's the content of /memories/n.md with line numbers:\n     2\ttwo".into(),
            false
        )
    );
    let before = operator
        .read_file("mem", "/n.md", At::Current)
        .await
        .unwrap();
    for input in [
        json!({"command": "create", "path": "/memories/new.md", "file_text": "x"}),
        json!({"command": "str_replace", "path": "/memories/n.md", "old_str": "two", "new_str": "2"}),
        json!({"command": "insert", "path": "/memories/n.md", "insert_line": 0, "insert_text": "x"}),
        json!({"command": "delete", "path": "/memories/n.md"}),
        json!({"command": "rename", "old_path": "/memories/n.md", "new_path": "/memories/m.md"}),
    ] {
        let refused = call(&reader, input).await;
        assert_eq!(
            refused,
            ("PermissionError(13, 'Permission denied')".into(), true)
        );
    }
    // Checks before the write still answer their own text.
    let not_found = call(
        &reader,
        json!({"command": "delete", "path": "/memories/none"}),
    )
    .await;
    assert_eq!(
        not_found,
        ("The path /memories/none does not exist".into(), true)
    );
    let after = operator
        .read_file("mem", "/n.md", At::Current)
        .await
        .unwrap();
    assert_eq!(
        (after.content, after.version),
        (before.content, before.version)
    );
    // Each refused write is an audit event of its own, by the reader.
    let audit = operator.audit("mem", None, None).await.unwrap();
    let refused: Vec<&str> = audit
        .records
        .iter()
        .filter(|event| event.operation == "refused")
        .map(|event| {
            assert_eq!(event.principal, "default/reader");
            event.target.as_deref().unwrap_or_default()
        })
        .collect();
    assert_eq!(
        refused,
        vec![
            "memory_tool.create",
            "memory_tool.str_replace",
            "memory_tool.insert",
            "memory_tool.delete",
            "memory_tool.rename"
        ]
    );

    // Phase 4: no token, an unknown store: HTTP errors, not tool results.
    let base = operator.base_url();
    let anonymous = Client::new(&format!("http://{}{}", base.authority, base.path_prefix)).unwrap();
    expect_problem(
        anonymous
            .memory_tool("mem", &json!({"command": "view", "path": "/memories"}))
            .await,
        401,
        "unauthenticated",
    );
    expect_problem(
        operator
            .memory_tool("nope", &json!({"command": "view", "path": "/memories"}))
            .await,
        404,
        "not_found",
    );
}
