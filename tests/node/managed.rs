//! The Managed Agents memory-store API through Anthropic's own Python SDK
//! (`anthropic`, pinned in scripts/sdk-venv.sh) against the real binary:
//! tests/python/managed_memory.py drives `client.beta.memory_stores` with a
//! Cairn token as `api_key`, then this test checks the results through
//! Cairn's own API and deletes the store through the SDK's shape.

use std::process::Command;

use cairn_client::api::At;

use crate::start_single;

fn sdk_python() -> std::path::PathBuf {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let output = Command::new(root.join("scripts/sdk-venv.sh"))
        .output()
        .expect("run scripts/sdk-venv.sh");
    assert!(
        output.status.success(),
        "sdk-venv.sh: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let venv = String::from_utf8(output.stdout).unwrap();
    root.join(venv.trim()).join("bin/python")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_anthropic_sdk_drives_memory_stores_on_cairn() {
    let single = start_single().await;
    let sync_dir = tempfile::tempdir().unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/managed_memory.py");
    let output = Command::new(sdk_python())
        .arg(script)
        .arg(single.node.url())
        .arg(cairn_tests::OPERATOR_TOKEN)
        .arg(sync_dir.path())
        .output()
        .expect("run the SDK script");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let result: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    let store = result["store"].as_str().unwrap();

    // The same store through Cairn's own API: the renamed memory, its
    // history with the redacted version, the metadata file.
    let client = &single.client;
    let file = client
        .read_file(store, "/archive/a.md", At::Current)
        .await
        .unwrap();
    let history = client
        .history(store, "/notes/a.md", None, None, false)
        .await
        .unwrap();
    assert!(
        history.versions.iter().any(|v| v.redaction.is_some()),
        "{history:?}"
    );
    assert!(
        client
            .read_file(store, "/notes/deep/b.md", At::Current)
            .await
            .is_err()
    );
    // The sandbox sync uploaded the local edit and the new file.
    assert_eq!(result["sync"], "ok", "{result}");
    assert_eq!(file.content, "edited locally\n");
    let made = client
        .read_file(store, "/new.md", At::Current)
        .await
        .unwrap();
    assert_eq!(made.content, "made locally\n");
    let meta = client
        .read_file(store, "/.cairn/memory_store.json", At::Current)
        .await
        .unwrap();
    assert!(meta.content.contains("Renamed Store"), "{}", meta.content);

    // Deleting through the SDK removes the Cairn store.
    let output = Command::new(sdk_python())
        .args([
            script,
            &single.node.url(),
            cairn_tests::OPERATOR_TOKEN,
            "--delete",
            store,
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(client.get_store(store).await.is_err());
}
