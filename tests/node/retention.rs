//! A store's retention and quota on the real binary: the CLI sets them,
//! old versions go when their file is written again, and a write past the
//! quota is `422 limit_exceeded` naming it, changing nothing.

use cairn_client::WriteOptions;
use cairn_client::api::StorePolicy;

use crate::{expect_problem, start_single};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_and_quota_hold() {
    let single = start_single().await;
    let client = &single.client;
    client.create_store("kept").await.unwrap();
    for n in 0..5 {
        client
            .write_file("kept", "/a.md", format!("v{n}"), &WriteOptions::default())
            .await
            .unwrap();
    }
    let (code, stdout, stderr) = single.node.cli(
        &[
            "store",
            "policy",
            "kept",
            "--versions-max",
            "2",
            "--bytes-max",
            "10",
        ],
        None,
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("at most 2 versions per file"), "{stdout}");
    client
        .write_file("kept", "/a.md", "v5", &WriteOptions::default())
        .await
        .unwrap();
    let history = client
        .history("kept", "/a.md", None, None, false)
        .await
        .unwrap();
    let versions: Vec<u64> = history.versions.iter().map(|v| v.version).collect();
    assert_eq!(versions, vec![6, 5]);
    let audit = client.audit("kept", None, None).await.unwrap();
    let writes = audit
        .records
        .iter()
        .filter(|event| event.operation == "txn")
        .count();
    assert_eq!(writes, 6, "pruned versions keep their audit events");
    assert!(
        audit
            .records
            .iter()
            .any(|event| event.operation == "set_policy")
    );

    // Refused when applied: the store is as it was (the node remembers the
    // refusal under the write's idempotency key, so a retry gets it again).
    let before = client.get_store("kept").await.unwrap();
    let problem = expect_problem(
        client
            .write_file("kept", "/big.md", "0123456789", &WriteOptions::default())
            .await,
        422,
        "limit_exceeded",
    );
    assert_eq!(problem.limit.as_deref(), Some("store_bytes_max"));
    let info = client.get_store("kept").await.unwrap();
    assert_eq!(info, before);
    expect_problem(
        client
            .read_file("kept", "/big.md", cairn_client::At::Current)
            .await,
        404,
        "not_found",
    );

    assert_eq!(
        info.policy,
        StorePolicy {
            versions_max: Some(2),
            retain_s: None,
            bytes_max: Some(10),
        }
    );
}
