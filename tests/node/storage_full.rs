//! A node whose disk fills: it refuses the writes that would grow its data
//! with `507 storage_full` and changes nothing, serves reads, takes the
//! writes that free space, and writes again once space is back. The data
//! directory is a small tmpfs of its own, which needs root (as CI has); a
//! run without root says so and checks nothing else.

use cairn_client::{At, WriteOptions};
use cairn_tests::{NodeProcess, mount_tmpfs, operator_client};

use crate::expect_problem;

const TMPFS_MIB: u64 = 96;
const RESERVE_BYTES: u64 = 32 * 1024 * 1024;

fn free_bytes(dir: &std::path::Path) -> u64 {
    cairn_tests::free_bytes(dir).expect("df prints the free bytes")
}

#[tokio::test]
async fn a_full_disk_refuses_writes_serves_reads_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = NodeProcess::configure(
        dir.path(),
        1,
        &format!("bootstrap = true\n[storage]\nreserve_bytes = {RESERVE_BYTES}\n"),
    );
    let Some(_mount) = mount_tmpfs(&node.data_dir, TMPFS_MIB) else {
        return;
    };
    node.spawn();
    node.wait_ready().await;
    let client = operator_client(&node.url());
    client.create_store("notes").await.unwrap();
    let kept = client
        .write_file("notes", "/kept.md", "kept", &WriteOptions::default())
        .await
        .unwrap();
    client
        .write_file("notes", "/old.md", "old", &WriteOptions::default())
        .await
        .unwrap();
    let before = client.get_store("notes").await.unwrap();

    // Fill the file system to 8 MiB above nothing: below the reserve.
    let filler = node.data_dir.join("filler");
    let fill = free_bytes(&node.data_dir).saturating_sub(8 * 1024 * 1024);
    std::fs::write(&filler, vec![0u8; fill as usize]).unwrap();
    assert!(free_bytes(&node.data_dir) < RESERVE_BYTES);

    let refused = expect_problem(
        client
            .write_file("notes", "/new.md", "new", &WriteOptions::default())
            .await,
        507,
        "storage_full",
    );
    assert!(refused.detail.contains("reserve_bytes"), "{refused:?}");
    expect_problem(client.create_store("more").await, 507, "storage_full");
    assert_eq!(
        client.get_store("notes").await.unwrap().revision,
        before.revision,
        "a refused write changed nothing"
    );
    // Reads go on; a delete frees space and is taken.
    let read = client
        .read_file("notes", "/kept.md", At::Current)
        .await
        .unwrap();
    assert_eq!(
        (read.content.as_str(), read.version),
        ("kept", kept.version)
    );
    client
        .delete_file("notes", "/old.md", false, None, None)
        .await
        .unwrap();

    // Space comes back: writes resume without a restart.
    std::fs::remove_file(&filler).unwrap();
    let written = client
        .write_file("notes", "/new.md", "new", &WriteOptions::default())
        .await
        .unwrap();
    let read = client
        .read_file("notes", "/new.md", At::Current)
        .await
        .unwrap();
    assert_eq!(
        (read.content.as_str(), read.version),
        ("new", written.version)
    );
    client.create_store("more").await.unwrap();
}
