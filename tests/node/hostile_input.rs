//! What a generator from the OpenAPI document does not send: traversal in
//! every path-taking route (plain and percent-encoded), bytes that are not
//! UTF-8 in paths, headers and bodies, oversized headers, deeply nested JSON,
//! bodies that are slow or shorter than announced, a huge `Content-Length`,
//! ten thousand connections at once, and a learner at the node's own address.
//! Each refused request leaves the state digest (`GET /v1/admin/digest`) as
//! it was, and the node keeps serving.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use cairn_client::{Client, DigestView, WriteOptions};

use crate::{Single, expect_problem, start_single, start_single_with};
use cairn_tests::OPERATOR_TOKEN;

const STORE: &str = "hostile";
const KEEP: &str = "/keep.md";

/// The request timeout of the nodes that test slow bodies: short, so that
/// the tests do not wait the default ten seconds.
const REQUEST_TIMEOUT_MS: u64 = 1500;

/// An answer read off a raw connection.
#[derive(Debug)]
struct Answer {
    status: u16,
    head: String,
    body: String,
}

impl Answer {
    /// The problem's `code`, if the answer is a problem.
    fn code(&self) -> Option<String> {
        let problem: serde_json::Value = serde_json::from_str(&self.body).ok()?;
        problem["code"].as_str().map(str::to_string)
    }
}

/// Writes `request` (bytes, as they are) on a new connection and reads until
/// the server closes it. `None` when the server closed without an answer.
async fn exchange(address: &str, request: &[u8]) -> Option<Answer> {
    let mut stream = TcpStream::connect(address).await.unwrap();
    // The server may refuse and close before it has read everything.
    let _ = stream.write_all(request).await;
    read_answer(&mut stream).await
}

async fn read_answer(stream: &mut TcpStream) -> Option<Answer> {
    let mut received = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut received));
    match read.await {
        Ok(Ok(_)) => {}
        // A reset after the answer was sent still leaves the answer to parse.
        Ok(Err(_)) => {}
        Err(_) => panic!("no answer and no close within 30 s: {received:?}"),
    }
    let end = received
        .windows(4)
        .position(|window| window == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&received[..end]).into_owned();
    let status = head.split(' ').nth(1)?.parse().ok()?;
    Some(Answer {
        status,
        head,
        body: String::from_utf8_lossy(&received[end + 4..]).into_owned(),
    })
}

/// A request head (with `connection: close`) and body, as bytes.
fn request(method: &str, target: &[u8], headers: &[(&str, &[u8])], body: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::new();
    bytes.extend_from_slice(method.as_bytes());
    bytes.push(b' ');
    bytes.extend_from_slice(target);
    bytes.extend_from_slice(b" HTTP/1.1\r\nhost: cairn\r\nconnection: close\r\n");
    bytes.extend_from_slice(format!("authorization: Bearer {OPERATOR_TOKEN}\r\n").as_bytes());
    for (name, value) in headers {
        bytes.extend_from_slice(name.as_bytes());
        bytes.extend_from_slice(b": ");
        bytes.extend_from_slice(value);
        bytes.extend_from_slice(b"\r\n");
    }
    bytes.extend_from_slice(format!("content-length: {}\r\n\r\n", body.len()).as_bytes());
    bytes.extend_from_slice(body);
    bytes
}

/// A node with one store holding one file, and its digest.
async fn prepared(single: &Single) -> DigestView {
    let client = &single.client;
    client.create_store(STORE).await.unwrap();
    client
        .write_file(STORE, KEEP, "keep me\n", &WriteOptions::default())
        .await
        .unwrap();
    client.digest().await.unwrap()
}

/// Asserts the answer is one of `statuses`, with one of `codes` when the
/// answer is ours (hyper answers some malformed requests itself, with no
/// body), and that the digest did not move.
async fn assert_refused(
    name: &str,
    answer: Option<Answer>,
    statuses: &[u16],
    codes: &[&str],
    client: &Client,
    before: &DigestView,
) {
    let answer = answer.unwrap_or_else(|| panic!("{name}: closed without an answer"));
    assert!(
        statuses.contains(&answer.status),
        "{name}: status {} not in {statuses:?}: {answer:?}",
        answer.status
    );
    if let Some(code) = answer.code() {
        assert!(
            codes.contains(&code.as_str()),
            "{name}: code {code}: {answer:?}"
        );
        let head = answer.head.to_ascii_lowercase();
        assert!(
            head.contains("content-type: application/problem+json"),
            "{name}: a problem of another type: {answer:?}"
        );
    }
    assert_eq!(
        &client.digest().await.unwrap(),
        before,
        "{name} changed state"
    );
}

/// Every route that takes a file or directory path, as (method, prefix).
const PATH_ROUTES: [(&str, &str); 7] = [
    ("GET", "files"),
    ("PUT", "files"),
    ("DELETE", "files"),
    ("GET", "stat"),
    ("GET", "history"),
    ("GET", "diff"),
    ("GET", "tree"),
];

/// Ways to climb out of a directory, as they appear in a request target.
const TRAVERSALS: [&str; 10] = [
    "../keep.md",
    "a/../../keep.md",
    "./keep.md",
    "a/./b",
    "%2e%2e/keep.md",
    "a/%2E%2E/%2e%2E/keep.md",
    "..%2fkeep.md",
    "a%2f..%2f..%2fkeep.md",
    "%2e/keep.md",
    "..",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn traversal_in_every_path_taking_route_is_refused() {
    let single = start_single().await;
    let before = prepared(&single).await;
    let address = &single.node.http_addr;
    for (method, route) in PATH_ROUTES {
        for traversal in TRAVERSALS {
            // `diff` needs `from` and `to`; without them the query is refused first.
            let query = if route == "diff" { "?from=1&to=1" } else { "" };
            let target = format!("/v1/stores/{STORE}/{route}/{traversal}{query}");
            let answer = exchange(address, &request(method, target.as_bytes(), &[], b"x")).await;
            let name = format!("{method} {target}");
            assert_refused(
                &name,
                answer,
                &[400],
                &["invalid_path"],
                &single.client,
                &before,
            )
            .await;
        }
    }
    for store in ["..", "%2e%2e", ".", "a%2fb"] {
        for (method, target) in [
            ("PUT", format!("/v1/stores/{store}")),
            ("GET", format!("/v1/stores/{store}/files/keep.md")),
        ] {
            let answer = exchange(address, &request(method, target.as_bytes(), &[], b"")).await;
            let name = format!("{method} {target}");
            let codes = ["invalid_store_name"];
            assert_refused(&name, answer, &[400], &codes, &single.client, &before).await;
        }
    }
    let read = single
        .client
        .read_file(STORE, KEEP, cairn_client::At::Current)
        .await;
    assert_eq!(read.unwrap().content, "keep me\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bytes_that_are_not_utf8_are_refused() {
    let single = start_single().await;
    let before = prepared(&single).await;
    let address = &single.node.http_addr;
    let client = &single.client;
    let file = format!("/v1/stores/{STORE}/files/new.md");

    let encoded = format!("/v1/stores/{STORE}/files/a%FF%FEb.md");
    let answer = exchange(address, &request("PUT", encoded.as_bytes(), &[], b"x")).await;
    assert_refused(
        "percent-encoded 0xff in a path",
        answer,
        &[400],
        &["invalid_path", "invalid_request"],
        client,
        &before,
    )
    .await;

    let mut raw = format!("/v1/stores/{STORE}/files/a").into_bytes();
    raw.extend_from_slice(&[0xff, 0xfe]);
    let answer = exchange(address, &request("PUT", &raw, &[], b"x")).await;
    assert_refused(
        "raw 0xff in a path",
        answer,
        &[400],
        &["invalid_path", "invalid_request"],
        client,
        &before,
    )
    .await;

    for header in [
        "x-cairn-agent",
        "x-cairn-session",
        "idempotency-key",
        "if-match",
    ] {
        let headers: [(&str, &[u8]); 1] = [(header, b"caf\xc3\x28\xff")];
        let answer = exchange(address, &request("PUT", file.as_bytes(), &headers, b"x")).await;
        assert_refused(
            header,
            answer,
            &[400],
            &["invalid_request"],
            client,
            &before,
        )
        .await;
    }

    let txn = format!("/v1/stores/{STORE}/txn");
    let json = b"{\"ops\":[{\"op\":\"write\",\"path\":\"/n.md\",\"content\":\"a\xff\"}]}";
    let headers: [(&str, &[u8]); 1] = [("content-type", b"application/json")];
    let answer = exchange(address, &request("POST", txn.as_bytes(), &headers, json)).await;
    assert_refused(
        "0xff in a JSON body",
        answer,
        &[400],
        &["invalid_json"],
        client,
        &before,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn oversized_headers_and_deeply_nested_json_are_refused() {
    let single = start_single().await;
    let before = prepared(&single).await;
    let address = &single.node.http_addr;
    let client = &single.client;
    let file = format!("/v1/stores/{STORE}/files/new.md");

    // hyper answers 431 itself (no problem body) once a head passes its buffer.
    let huge = vec![b'a'; 1024 * 1024];
    let headers: [(&str, &[u8]); 1] = [("x-cairn-agent", &huge)];
    let answer = exchange(address, &request("PUT", file.as_bytes(), &headers, b"x")).await;
    assert_refused("a 1 MiB header", answer, &[431], &[], client, &before).await;

    let names: Vec<String> = (0..200).map(|i| format!("x-filler-{i}")).collect();
    let many: Vec<(&str, &[u8])> = names
        .iter()
        .map(|name| (name.as_str(), &b"1"[..]))
        .collect();
    let answer = exchange(address, &request("PUT", file.as_bytes(), &many, b"x")).await;
    assert_refused("200 headers", answer, &[431], &[], client, &before).await;

    // Over a label's limit but well within hyper's buffer: the service's refusal.
    let label = vec![b'a'; 4096];
    let headers: [(&str, &[u8]); 1] = [("x-cairn-agent", &label)];
    let answer = exchange(address, &request("PUT", file.as_bytes(), &headers, b"x")).await;
    assert_refused(
        "a 4 KiB agent id",
        answer,
        &[422],
        &["limit_exceeded"],
        client,
        &before,
    )
    .await;

    let depth = 100_000;
    let json_headers: [(&str, &[u8]); 1] = [("content-type", b"application/json")];
    for (target, body) in [
        (
            format!("/v1/stores/{STORE}/txn"),
            format!("{{\"ops\":{}{}}}", "[".repeat(depth), "]".repeat(depth)),
        ),
        (
            "/v1/admin/learners".to_string(),
            format!(
                "{{\"tags\":{}1{}}}",
                "{\"a\":".repeat(depth),
                "}".repeat(depth)
            ),
        ),
    ] {
        let request = request("POST", target.as_bytes(), &json_headers, body.as_bytes());
        let answer = exchange(address, &request).await;
        let name = format!("JSON nested {depth} deep to {target}");
        assert_refused(&name, answer, &[400], &["invalid_json"], client, &before).await;
    }
    client.health().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn slow_short_and_huge_bodies_are_refused_in_bounded_time() {
    let single = start_single_with(&format!(
        "[http]\nrequest_timeout_ms = {REQUEST_TIMEOUT_MS}\n"
    ))
    .await;
    let before = prepared(&single).await;
    let address = &single.node.http_addr;
    let client = &single.client;
    let file = format!("/v1/stores/{STORE}/files/new.md");
    let deadline = Duration::from_millis(REQUEST_TIMEOUT_MS * 4);

    // Announces 100 bytes, sends 5, waits.
    let mut short = request("PUT", file.as_bytes(), &[], &[]);
    short.truncate(short.len() - "content-length: 0\r\n\r\n".len());
    short.extend_from_slice(b"content-length: 100\r\n\r\nhello");
    let started = Instant::now();
    let answer = exchange(address, &short).await;
    assert!(
        started.elapsed() < deadline,
        "short body answered after {:?}",
        started.elapsed()
    );
    assert_refused(
        "a body shorter than announced",
        answer,
        &[408],
        &["invalid_request"],
        client,
        &before,
    )
    .await;

    // Sends a byte every 200 ms: each arrives well within any idle timeout,
    // the whole never within the request timeout.
    let mut stream = TcpStream::connect(address).await.unwrap();
    let head = format!(
        "PUT {file} HTTP/1.1\r\nhost: cairn\r\nconnection: close\r\n\
         authorization: Bearer {OPERATOR_TOKEN}\r\ncontent-length: 1000\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    let trickle = async {
        loop {
            if stream.write_all(b"x").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
            if started.elapsed() > deadline {
                return;
            }
        }
    };
    trickle.await;
    let answer = read_answer(&mut stream).await;
    assert_refused(
        "a trickled body",
        answer,
        &[408],
        &["invalid_request"],
        client,
        &before,
    )
    .await;

    // hyper refuses lengths it cannot hold itself (400, or 431 for u64::MAX,
    // which it reserves); the extractor refuses the rest from the header.
    for length in [
        "18446744073709551614",
        "18446744073709551615",
        "99999999999999999999999999",
    ] {
        let mut huge = request("PUT", file.as_bytes(), &[], &[]);
        huge.truncate(huge.len() - "content-length: 0\r\n\r\n".len());
        huge.extend_from_slice(format!("content-length: {length}\r\n\r\nhello").as_bytes());
        let answer = exchange(address, &huge).await;
        let name = format!("content-length {length} with a 5-byte body");
        assert_refused(
            &name,
            answer,
            &[400, 413, 431],
            &["limit_exceeded"],
            client,
            &before,
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_thousand_connections_are_served_or_refused() {
    let single = start_single().await;
    let before = prepared(&single).await;
    let address = single.node.http_addr.clone();
    let connections = 10_000;
    let tasks: Vec<_> = (0..connections)
        .map(|_| {
            let address = address.clone();
            tokio::spawn(async move {
                let mut stream = TcpStream::connect(&address).await.ok()?;
                let request = b"GET /health HTTP/1.1\r\nhost: cairn\r\nconnection: close\r\n\r\n";
                stream.write_all(request).await.ok()?;
                let mut answer = Vec::new();
                stream.read_to_end(&mut answer).await.ok()?;
                Some(answer.starts_with(b"HTTP/1.1 200"))
            })
        })
        .collect();
    let mut outcomes = BTreeMap::new();
    for task in tasks {
        let outcome = match task.await.unwrap() {
            Some(true) => "served",
            Some(false) => "answered otherwise",
            None => "refused or dropped",
        };
        *outcomes.entry(outcome).or_insert(0) += 1;
    }
    println!("{connections} connections: {outcomes:?}");
    assert!(
        outcomes.get("served").copied().unwrap_or(0) > 0,
        "{outcomes:?}"
    );
    assert!(
        single.node.is_running(),
        "the node died:\n{}",
        single.node.log()
    );
    single.client.health().await.unwrap();
    assert_eq!(single.client.digest().await.unwrap(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_learner_at_this_nodes_own_address_is_refused_and_the_node_keeps_serving() {
    let single = start_single().await;
    let before = prepared(&single).await;
    let client = &single.client;
    let own_raft = single.node.raft_addr.clone();
    let refused = client
        .add_learner(2, &own_raft, &single.node.http_addr, BTreeMap::new())
        .await;
    expect_problem(refused, 409, "membership_conflict");
    assert_eq!(client.digest().await.unwrap(), before);

    // The same address spelled differently passes the check; the peer hello,
    // which names the node the leader means to reach, then refuses it, and
    // the leader stays a leader rather than following itself.
    let port = own_raft.rsplit(':').next().unwrap();
    let status = client
        .add_learner(
            3,
            &format!("localhost:{port}"),
            "localhost:1",
            BTreeMap::new(),
        )
        .await
        .unwrap();
    assert!(status.learners.contains(&3), "{status:?}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let written = client
        .write_file(STORE, "/after.md", "still here\n", &WriteOptions::default())
        .await;
    assert!(written.is_ok(), "{written:?}\n{}", single.node.log());
    assert_eq!(client.status().await.unwrap().current_leader, Some(1));
}

/// A client that trickles a request head, a byte at a time well within any
/// idle gap, is cut off by the header read timeout; so is a connection
/// that opens and sends nothing. The node serves others meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn slow_request_heads_are_cut_off_by_the_header_read_timeout() {
    const HEADER_READ_TIMEOUT_MS: u64 = 5_000;
    let single = start_single_with(&format!(
        "[http]\nheader_read_timeout_ms = {HEADER_READ_TIMEOUT_MS}\n"
    ))
    .await;
    let address = single.node.http_addr.clone();
    let deadline = Duration::from_millis(HEADER_READ_TIMEOUT_MS * 4);

    let mut silent = TcpStream::connect(&address).await.unwrap();
    let mut trickling = TcpStream::connect(&address).await.unwrap();
    let started = Instant::now();
    let head = b"GET /health HTTP/1.1\r\nhost: cairn\r\nx-slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let trickle = async {
        for byte in head {
            if trickling.write_all(&[*byte]).await.is_err() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        // The whole head never went out in time: the server must have closed.
        let mut buffer = [0u8; 64];
        matches!(trickling.read(&mut buffer).await, Ok(0) | Err(_))
    };
    let closed = tokio::time::timeout(deadline, trickle).await;
    assert_eq!(closed, Ok(true), "the trickled head was not cut off");
    assert!(
        started.elapsed() >= Duration::from_millis(HEADER_READ_TIMEOUT_MS),
        "cut off before the timeout: {:?}",
        started.elapsed()
    );
    let mut buffer = [0u8; 64];
    let silent_closed = tokio::time::timeout(deadline, silent.read(&mut buffer)).await;
    assert!(
        matches!(silent_closed, Ok(Ok(0)) | Ok(Err(_))),
        "a silent connection stayed open: {silent_closed:?}"
    );
    single.client.health().await.unwrap();
}
