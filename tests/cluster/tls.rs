//! Three nodes with TLS everywhere, certificates from
//! `config/cluster-3/make-certs.sh`: the API over https with the local CA,
//! peers over mutual TLS. A write through one node is read from another; a
//! plain-HTTP request to the https port, a client that does not trust the
//! CA, and a node whose certificate another CA signed all get nowhere.

use std::process::Command;
use std::time::{Duration, Instant};

use cairn_client::{At, Client, WriteOptions};
use cairn_tests::{NodeProcess, cairn_binary, make_certs};

use crate::{Cluster, HTTP, RAFT};

const STORE: &str = "notes";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_tls_cluster_serves_https_and_admits_only_peers_its_ca_signed() {
    // Nodes 2 and 3 joined and were promoted: the leader replicated to them,
    // and they voted, over mutual TLS.
    let mut cluster = Cluster::start_tls(3).await;
    let leader = cluster.leader().await;
    let status = cluster.client(leader).status().await.unwrap();
    assert_eq!(status.voters, vec![1, 2, 3]);
    for id in 1..=3 {
        assert!(
            without_colors(&cluster.node(id).log()).contains("tls=true"),
            "node {id} does not say it serves TLS:\n{}",
            cluster.node(id).log()
        );
    }

    // Written through node 1 over https; read from node 3 linearizably, so
    // through a read index the leader gave over the peer protocol.
    cluster.client(1).create_store(STORE).await.unwrap();
    let written = cluster
        .client(1)
        .write_file(STORE, "/tls.md", "over TLS", &WriteOptions::default())
        .await
        .unwrap();
    let read = cluster
        .client(3)
        .read_file(STORE, "/tls.md", At::Current)
        .await
        .unwrap();
    assert_eq!(
        (read.content.as_str(), read.version),
        ("over TLS", written.version)
    );

    // (a) Plain HTTP to the https port gets no answer; the port goes on
    // serving https afterwards (a failed handshake stops no accept loop).
    let https_addr = cluster.node(2).http_addr.clone();
    let plain = Client::new(&format!("http://{https_addr}"))
        .unwrap()
        .with_timeout(Duration::from_secs(10));
    let error = plain.health().await.unwrap_err();
    assert_eq!(error.code(), "transport", "{error}");
    assert_eq!(cluster.client(2).health().await.unwrap().status, "ok");

    // (c) A client that does not trust the CA is refused, saying why and what to do.
    let untrusting = Client::new(&cluster.node(2).url())
        .unwrap()
        .with_timeout(Duration::from_secs(10));
    let error = untrusting.health().await.unwrap_err();
    assert_eq!(error.code(), "tls", "{error}");
    assert!(!error.is_retryable());
    let detail = error.detail();
    assert!(
        detail.contains("not signed by a CA this client trusts"),
        "{detail}"
    );
    assert!(detail.contains("--ca-file"), "{detail}");

    // The CLI: without the CA it fails (exit 3) with that message; with
    // CAIRN_CA_FILE (set by `cli`) it reads the file; an unusable --ca-file
    // is a usage error (exit 2) naming the file.
    let output = Command::new(cairn_binary())
        .args(["cat", STORE, "/tls.md"])
        .env("CAIRN_URL", cluster.node(2).url())
        .env_remove("CAIRN_CA_FILE")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("error: tls:") && stderr.contains("--ca-file"),
        "{stderr}"
    );
    let (code, stdout, stderr) = cluster.node(2).cli(&["cat", STORE, "/tls.md"], None);
    assert_eq!((code, stdout.as_str()), (0, "over TLS"), "{stderr}");
    let missing = cluster.dir.path().join("no-such-ca.pem");
    let missing = missing.to_str().unwrap();
    let (code, _, stderr) = cluster
        .node(2)
        .cli(&["--ca-file", missing, "cat", STORE, "/tls.md"], None);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains(missing), "{stderr}");
    // `cluster status` reaches every member over https with the same CA.
    let (code, stdout, stderr) = cluster.node(1).cli(&["--json", "cluster", "status"], None);
    assert_eq!(code, 0, "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let members = report["members"].as_array().unwrap();
    assert_eq!(members.len(), 3, "{stdout}");
    assert!(
        members.iter().all(|member| member["error"].is_null()),
        "{stdout}"
    );
    // So does `cairn bench` (the CA from `CAIRN_CA_FILE`, as `--ca-file`).
    let (code, stdout, stderr) = cluster.node(2).cli(
        &["--json", "bench", "--duration", "1", "--clients", "1"],
        None,
    );
    assert_eq!(code, 0, "{stderr}");
    let bench: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert!(
        bench["phases"]
            .as_array()
            .is_some_and(|phases| !phases.is_empty()),
        "{stdout}"
    );
    let (code, _, stderr) = cluster.node(2).cli(
        &[
            "--ca-file",
            missing,
            "bench",
            "--duration",
            "1",
            "--clients",
            "1",
        ],
        None,
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains(missing), "{stderr}");

    // (b) Node 4 knows the cluster's secret and trusts its CA, but its own
    // certificate comes from another CA: added as a learner, it is never
    // replicated to, because every handshake with it is refused.
    let rogue_certs = cluster.dir.path().join("rogue-certs");
    make_certs(&rogue_certs, 4);
    let good_ca = cluster.certs.as_ref().unwrap().join("ca.pem");
    let tls = format!(
        "[tls]\ncert_file = {:?}\nkey_file = {:?}\nca_file = {good_ca:?}\n",
        rogue_certs.join("node4.pem"),
        rogue_certs.join("node4.key"),
    );
    let mut rogue = NodeProcess::configure(
        cluster.dir.path(),
        4,
        &format!("bootstrap = false\n{RAFT}{HTTP}{tls}"),
    );
    // Its API serves the rogue certificate; the test trusts that CA to ask it.
    rogue.ca_file = Some(rogue_certs.join("ca.pem"));
    cluster.add_learner_node(rogue).await;
    // The leader dials node 4 to replicate; each attempt fails its handshake.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !cluster.node(4).log().contains("TLS handshake refused") {
        assert!(
            Instant::now() < deadline,
            "node 4 saw no refused handshake:\n{}",
            cluster.node(4).log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A write the three members acknowledge and converge on never reaches node 4.
    cluster
        .client(2)
        .write_file(STORE, "/after.md", "after", &WriteOptions::default())
        .await
        .unwrap();
    cluster.converged(&[1, 2, 3]).await;
    let rogue_status = cluster.client(4).status().await.unwrap();
    assert_eq!(rogue_status.last_applied, None, "{rogue_status:?}");
    assert_eq!(rogue_status.current_leader, None, "{rogue_status:?}");
    let learners = cluster.client(leader).status().await.unwrap().learners;
    assert_eq!(learners, vec![4]);
}

/// The log as text: the nodes' log lines carry ANSI colour codes.
fn without_colors(log: &str) -> String {
    let mut text = String::with_capacity(log.len());
    let mut chars = log.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // Skip `ESC [ … m`.
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            text.push(c);
        }
    }
    text
}
