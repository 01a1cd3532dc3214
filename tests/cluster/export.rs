//! Export and import through followers of a 3-node cluster: the archive
//! streamed by one follower imports through another (its chunks forwarded to
//! the leader), every replica serves the same histories and a chain that
//! verifies, and the state digests are equal.

use cairn_client::WriteOptions;

use crate::Cluster;

#[tokio::test]
async fn an_archive_exported_from_a_follower_imports_through_another() {
    let cluster = Cluster::start(3, "").await;
    let leader = cluster.leader().await;
    let followers: Vec<u64> = (1..=3).filter(|id| *id != leader).collect();
    let writer = cluster.client(leader).with_agent("writer");
    writer.create_store("notes").await.unwrap();
    for round in 0..20 {
        let path = format!("/notes/{}.md", round % 5);
        writer
            .write_file(
                "notes",
                &path,
                &format!("round {round}\n"),
                &WriteOptions::default(),
            )
            .await
            .unwrap();
    }

    let archive = cluster.dir.path().join("notes.cairn");
    let archive = archive.to_str().unwrap();
    let (code, stdout, stderr) = cluster
        .node(followers[0])
        .cli(&["export", "notes", archive], None);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let (code, stdout, stderr) = cluster
        .node(followers[1])
        .cli(&["import", archive, "copy"], None);
    assert_eq!(code, 0, "{stdout}{stderr}");

    cluster.converged(&[1, 2, 3]).await;
    for id in 1..=3 {
        let client = cluster.client(id);
        for file in 0..5 {
            let path = format!("/notes/{file}.md");
            let original = client
                .history("notes", &path, Some(100), None, true)
                .await
                .unwrap();
            let copy = client
                .history("copy", &path, Some(100), None, true)
                .await
                .unwrap();
            assert_eq!(original, copy, "node {id}: {path}");
        }
        let verified = client.verify_audit("copy").await.unwrap();
        assert!(verified.ok, "node {id}: {verified:?}");
    }
}
