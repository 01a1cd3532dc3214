//! A real `Node` (redb files, openraft, TCP peer listener) in process.

// Test helpers unwrap like the tests they serve: a panic is a failed test
// with its message. (Production code denies `unwrap`.)
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use cairn_core::command::{Command, Meta, Proposal};
use cairn_core::{FilePath, Limits, Outcome, Precondition, StoreName, StoreRef, WriteOp};
use cairn_raft::{Consistency, Node, NodeConfig, RaftSettings, TcpConnector, TcpPeerListener};

async fn start(dir: &std::path::Path) -> Node {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let config = NodeConfig {
        node_id: 1,
        data_dir: dir.to_path_buf(),
        disk: None,
        cache_bytes: cairn_storage::CACHE_BYTES_MIN,
        io: cairn_raft::IoMode::Thread,
        raft_advertise_addr: addr,
        api_advertise_addr: "127.0.0.1:1".into(),
        tags: Default::default(),
        cluster_secret: "secret".into(),
        raft: RaftSettings {
            snapshot_logs_since_last: 20,
            max_in_snapshot_log_to_keep: 5,
            ..RaftSettings::default()
        },
        storage_room: None,
    };
    let node = Node::start(
        config,
        Box::new(TcpPeerListener(listener)),
        Arc::new(TcpConnector),
    )
    .await
    .unwrap();
    node.initialize_single().await.unwrap();
    node
}

/// The operator token the test proposes under, made by the bootstrap.
const OPERATOR: &str = "operator-token-id";

fn proposal(command: Command) -> Proposal {
    let principal = match command {
        Command::Bootstrap { .. } => None,
        _ => Some(OPERATOR.to_string()),
    };
    Proposal {
        meta: Meta {
            time_ms: 7,
            agent: "agent".into(),
            session: "session".into(),
            idempotency_key: None,
            limits: Limits::default(),
            principal,
            request_id: "test".into(),
        },
        command,
    }
}

async fn propose_retrying(node: &Node, command: Command) -> Outcome {
    // Right after start the single node may still be electing itself.
    for _ in 0..100 {
        match node
            .propose(proposal(command.clone()), std::time::Duration::from_secs(5))
            .await
        {
            Ok(outcome) => return outcome,
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
        }
    }
    panic!("no leader");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_node_writes_survive_restart_and_snapshots() {
    let dir = tempfile::tempdir().unwrap();
    let store = StoreRef::new(1, StoreName::parse("notes").unwrap());
    let path = FilePath::parse("/counter", &Limits::default()).unwrap();
    let node = start(dir.path()).await;
    let bootstrap = Command::Bootstrap {
        token_id: OPERATOR.into(),
        hash: [0; 32],
    };
    assert_eq!(
        propose_retrying(&node, bootstrap).await,
        Outcome::Bootstrapped
    );
    let created = propose_retrying(
        &node,
        Command::CreateStore {
            store: store.clone(),
            owner: None,
        },
    )
    .await;
    assert!(matches!(created, Outcome::StoreCreated(_)), "{created:?}");
    for i in 0..50u64 {
        let outcome = propose_retrying(
            &node,
            Command::Txn {
                store: store.clone(),
                ops: vec![WriteOp::Write {
                    path: path.clone(),
                    content: i.to_string(),
                    precondition: Precondition::None,
                }],
            },
        )
        .await;
        assert!(matches!(outcome, Outcome::Txn(_)), "{outcome:?}");
    }
    let digest = node.state_digest().await.unwrap();
    let status = node.status();
    assert_eq!(
        node.state_digest_applied().await.unwrap(),
        (digest, status.last_applied),
        "an idle node's digest is of the state at its applied index"
    );
    assert_eq!(status.state, "Leader");
    // Snapshots are built in the background (`LogPolicy` looks every 250 ms).
    for _ in 0..200 {
        if node.status().snapshot_index.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let status = node.status();
    assert!(status.snapshot_index.is_some(), "{status:?}");
    node.shutdown().await.unwrap();
    drop(node);

    let node = start(dir.path()).await;
    for _ in 0..100 {
        if node.status().current_leader == Some(1) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let content = node
        .read(Consistency::Linearizable, |reader| {
            cairn_core::read::read_file(reader, &store, &path, cairn_core::At::Current)
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(content.content, "49");
    assert_eq!(content.meta.version, 50);
    assert_eq!(node.state_digest().await.unwrap(), digest);
    node.shutdown().await.unwrap();
}
