//! Many writers at once on three nodes: the leader puts the proposals that
//! queue up while it writes the log into shared entries, and each one still
//! has its own outcome, version and audit event.

use cairn_client::{At, ClientError, WriteOptions};
use std::collections::BTreeSet;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::Cluster;

const STORE: &str = "batched";
const WRITERS: usize = 32;
const ROUNDS: u64 = 8;

/// `name`'s value in the leader's `/metrics` text.
async fn metric(addr: &str, name: &str) -> u64 {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
        cairn_tests::OPERATOR_TOKEN
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).await.unwrap();
    let line = text
        .lines()
        .find(|line| line.starts_with(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no {name} in /metrics:\n{text}"));
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_share_entries_and_each_keeps_its_outcome() {
    let cluster = Cluster::start(3, "").await;
    cluster.client(1).create_store(STORE).await.unwrap();
    let leader = cluster.leader().await;
    let leader_addr = cluster.node(leader).http_addr.clone();
    let entries_before = metric(&leader_addr, "cairn_raft_proposal_entries_total").await;
    let proposals_before = metric(&leader_addr, "cairn_raft_proposals_total").await;

    // Every writer chains compare-and-swaps on a file of its own, through
    // every node in turn, and once tries to create one contested file.
    let mut writers = Vec::new();
    for writer in 0..WRITERS {
        let clients: Vec<_> = (1..=3).map(|id| cluster.client(id)).collect();
        writers.push(tokio::spawn(async move {
            let path = format!("/w/{writer}.md");
            let mut version = None;
            let mut contested = None;
            for round in 0..ROUNDS {
                let client = &clients[(writer + round as usize) % clients.len()];
                let options = WriteOptions {
                    if_match: version,
                    if_none_match: version.is_none(),
                    ..WriteOptions::default()
                };
                let written = client
                    .write_file(STORE, &path, format!("{writer}:{round}"), &options)
                    .await
                    .unwrap();
                version = Some(written.version);
                if round == ROUNDS / 2 {
                    let only_if_absent = WriteOptions {
                        if_none_match: true,
                        ..WriteOptions::default()
                    };
                    contested = Some(
                        client
                            .write_file(
                                STORE,
                                "/contested.md",
                                format!("{writer}"),
                                &only_if_absent,
                            )
                            .await,
                    );
                }
            }
            (path, version.unwrap(), contested.unwrap())
        }));
    }
    let mut finals = Vec::new();
    let mut winners = Vec::new();
    for writer in writers {
        let (path, version, contested) = writer.await.unwrap();
        match contested {
            Ok(_) => winners.push(path.clone()),
            Err(ClientError::Api(problem)) => assert_eq!(problem.code, "version_conflict"),
            Err(other) => panic!("contested write: {other}"),
        }
        finals.push((path, version));
    }
    assert_eq!(
        winners.len(),
        1,
        "exactly one creation of /contested.md wins"
    );

    // Every acknowledged write is there once: each file's last version holds
    // its last round, and the store's revision counts every write.
    let client = cluster.client(leader);
    for (path, version) in &finals {
        let file = client.read_file(STORE, path, At::Current).await.unwrap();
        assert_eq!(file.version, *version);
        assert!(
            file.content.ends_with(&format!(":{}", ROUNDS - 1)),
            "{path}: {}",
            file.content
        );
        let history = client
            .history(STORE, path, Some(100), None, false)
            .await
            .unwrap();
        assert_eq!(history.versions.len() as u64, ROUNDS, "{path}");
    }
    let writes = WRITERS as u64 * ROUNDS + 1;
    assert_eq!(client.get_store(STORE).await.unwrap().revision, writes);

    // The leader proposed fewer entries than proposals.
    let entries = metric(&leader_addr, "cairn_raft_proposal_entries_total").await - entries_before;
    let proposals = metric(&leader_addr, "cairn_raft_proposals_total").await - proposals_before;
    assert!(
        proposals >= writes,
        "{proposals} proposals for {writes} writes"
    );
    assert!(
        entries < proposals,
        "{entries} entries for {proposals} proposals: no batching"
    );

    // One audit event per write, positions unique and increasing across
    // pages, some entries holding several; the chain holds.
    let mut positions = Vec::new();
    let mut entry_indexes = Vec::new();
    let mut after = None;
    loop {
        let page = client.audit(STORE, after, Some(7)).await.unwrap();
        for event in &page.records {
            assert_eq!(event.log_index, event.position >> 20);
            positions.push(event.position);
            entry_indexes.push(event.log_index);
        }
        match page.next_after {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert_eq!(
        positions.len() as u64,
        writes + 1,
        "the creation and every write"
    );
    assert!(
        positions.windows(2).all(|pair| pair[0] < pair[1]),
        "{positions:?}"
    );
    let distinct: BTreeSet<u64> = entry_indexes.iter().copied().collect();
    assert!(
        distinct.len() < entry_indexes.len(),
        "no entry held two events"
    );
    let verify = client.verify_audit(STORE).await.unwrap();
    assert!(verify.ok, "{verify:?}");

    let digest = cluster.converged(&[1, 2, 3]).await;
    assert!(!digest.is_empty());
}
