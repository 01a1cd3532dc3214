//! Bad input is refused with the documented status and stable code, and
//! changes nothing: the store list, the store's revision, its listing and an
//! existing file read the same afterwards.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use cairn_client::At;
use cairn_client::api::StoreList;
use cairn_client::{Client, Problem, RawResponse, WriteOptions};

use crate::start_single;
use cairn_tests::OPERATOR_TOKEN;

const STORE: &str = "bad";
const KEEP: &str = "/keep.md";
const TWICE: &str = "/twice.md";
const MIB: usize = 1024 * 1024;

/// Everything a refused request must leave as it was.
#[derive(Debug, PartialEq, Eq)]
struct Snapshot {
    stores: StoreList,
    listing: cairn_client::Listing,
    keep: cairn_client::FileRead,
}

async fn snapshot(client: &Client) -> Snapshot {
    Snapshot {
        stores: StoreList {
            stores: client.list_stores().await.unwrap(),
        },
        listing: client.list(STORE, "/", None, None).await.unwrap(),
        keep: client.read_file(STORE, KEEP, At::Current).await.unwrap(),
    }
}

struct Case {
    name: &'static str,
    method: &'static str,
    target: String,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
    status: u16,
    code: &'static str,
    /// Further checks of the problem body.
    check: Box<dyn Fn(&Problem)>,
}

fn case(name: &'static str, method: &'static str, target: impl Into<String>) -> Case {
    Case {
        name,
        method,
        target: target.into(),
        headers: Vec::new(),
        body: Vec::new(),
        status: 0,
        code: "",
        check: Box::new(|_| {}),
    }
}

impl Case {
    fn body(mut self, body: impl Into<Vec<u8>>) -> Case {
        self.body = body.into();
        self
    }

    fn header(mut self, name: &'static str, value: impl Into<String>) -> Case {
        self.headers.push((name, value.into()));
        self
    }

    fn expect(mut self, status: u16, code: &'static str) -> Case {
        self.status = status;
        self.code = code;
        self
    }

    fn check(mut self, check: impl Fn(&Problem) + 'static) -> Case {
        self.check = Box::new(check);
        self
    }
}

fn file(path: &str) -> String {
    format!("/v1/stores/{STORE}/files{path}")
}

fn txn() -> String {
    format!("/v1/stores/{STORE}/txn")
}

fn problem_of(name: &str, response: &RawResponse) -> Problem {
    let content_type = response.header("content-type").unwrap_or_default();
    assert!(
        content_type.starts_with("application/problem+json"),
        "{name}: content-type {content_type:?}, body {:?}",
        response.text()
    );
    serde_json::from_slice(&response.body)
        .unwrap_or_else(|error| panic!("{name}: not a problem ({error}): {:?}", response.text()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_input_is_refused_and_changes_nothing() {
    let single = start_single().await;
    let client = &single.client;
    client.create_store(STORE).await.unwrap();
    let keep = client
        .write_file(STORE, KEEP, "keep me\n", &WriteOptions::default())
        .await
        .unwrap();
    client
        .write_file(STORE, TWICE, "dup and dup\n", &WriteOptions::default())
        .await
        .unwrap();
    let keep_version = keep.version;
    let before = snapshot(client).await;

    let long_path = format!("/{}", "a".repeat(1100));
    let deep_path: String = (0..33).map(|i| format!("/d{i}")).collect();
    let cases = vec![
        case("traversal", "PUT", file("/a/../b"))
            .body("x")
            .expect(400, "invalid_path"),
        case("empty segment", "PUT", file("/a//b"))
            .body("x")
            .expect(400, "invalid_path"),
        case("NUL in path", "PUT", file("/a%00b"))
            .body("x")
            .expect(400, "invalid_path"),
        case("NUL in path, read", "GET", file("/a%00b")).expect(400, "invalid_path"),
        case("trailing slash", "PUT", file("/a/"))
            .body("x")
            .expect(400, "invalid_path"),
        // `cairn_core::path` reports these two as the named limits, not as
        // malformed paths; neither is a body size, so 422.
        case("path over path_bytes_max", "PUT", file(&long_path))
            .body("x")
            .expect(422, "limit_exceeded")
            .check(|problem| assert_eq!(problem.limit.as_deref(), Some("path_bytes_max"))),
        case("path over path_depth_max", "PUT", file(&deep_path))
            .body("x")
            .expect(422, "limit_exceeded")
            .check(|problem| assert_eq!(problem.limit.as_deref(), Some("path_depth_max"))),
        case("file over file_bytes_max", "PUT", file("/big.md"))
            .body(vec![b'a'; MIB + 1])
            .expect(413, "limit_exceeded")
            .check(|problem| assert_eq!(problem.limit.as_deref(), Some("file_bytes_max"))),
        case("invalid JSON", "POST", txn())
            .header("content-type", "application/json")
            .body(r#"{"ops": [{"op": "write", "path": "/j.md""#)
            .expect(400, "invalid_json"),
        case("not UTF-8", "PUT", file("/binary.md"))
            .body(vec![b'o', b'k', 0xff, 0xfe, b'!'])
            .expect(400, "not_utf8"),
        case("unknown store, read", "GET", "/v1/stores/nope/files/a.md")
            .expect(404, "not_found"),
        case("unknown store, write", "PUT", "/v1/stores/nope/files/a.md")
            .body("x")
            .expect(404, "not_found"),
        case("invalid store name", "PUT", "/v1/stores/-bad")
            .expect(400, "invalid_store_name"),
        case("str_replace of repeated text", "POST", txn())
            .header("content-type", "application/json")
            .body(format!(
                r#"{{"ops":[{{"op":"str_replace","path":"{TWICE}","old":"dup","new":"once"}}]}}"#
            ))
            .expect(422, "no_unique_match")
            .check(|problem| assert_eq!(problem.occurrences, Some(2))),
        case("If-Match mismatch", "PUT", file(KEEP))
            .header("if-match", format!("\"{}\"", keep_version + 1000))
            .body("overwritten")
            .expect(412, "version_conflict")
            .check(move |problem| assert_eq!(problem.current_version, Some(keep_version))),
        case("If-None-Match on an existing file", "PUT", file(KEEP))
            .header("if-none-match", "*")
            .body("overwritten")
            .expect(412, "version_conflict")
            .check(move |problem| assert_eq!(problem.current_version, Some(keep_version))),
        case("If-Match mismatch on delete", "DELETE", file(KEEP))
            .header("if-match", format!("\"{}\"", keep_version + 1000))
            .expect(412, "version_conflict")
            .check(move |problem| assert_eq!(problem.current_version, Some(keep_version))),
        case("body precondition mismatch", "POST", txn())
            .header("content-type", "application/json")
            .body(format!(
                r#"{{"ops":[{{"op":"write","path":"/new.md","content":"x"}},{{"op":"write","path":"{KEEP}","content":"y","if_version":{}}}]}}"#,
                keep_version + 1000
            ))
            .expect(409, "version_conflict")
            .check(move |problem| {
                assert_eq!(problem.current_version, Some(keep_version));
                assert_eq!(problem.op_index, Some(1));
            }),
    ];

    for case in cases {
        let headers: Vec<(&str, &str)> = case
            .headers
            .iter()
            .map(|(name, value)| (*name, value.as_str()))
            .collect();
        let response = client
            .raw_request(case.method, &case.target, &headers, case.body.clone())
            .await
            .unwrap_or_else(|error| panic!("{}: {error}", case.name));
        let problem = problem_of(case.name, &response);
        assert_eq!(
            (response.status, problem.code.as_str()),
            (case.status, case.code),
            "{}: {problem:?}",
            case.name
        );
        assert_eq!(problem.status, response.status, "{}", case.name);
        (case.check)(&problem);
        assert_eq!(
            snapshot(client).await,
            before,
            "{} changed state",
            case.name
        );
    }

    // A body over request_bytes_max is refused from its Content-Length,
    // unread. Only the head is sent: had the client kept writing, the server's
    // close of a socket with unread data would reset the connection and could
    // discard the answer before the client read it.
    let (status, content_type, body) = send_head_only(
        &single.node.http_addr,
        "PUT",
        &file("/huge.md"),
        4 * MIB as u64 + 1,
    )
    .await;
    assert!(
        content_type.starts_with("application/problem+json"),
        "{content_type}"
    );
    let problem: Problem = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        (status, problem.code.as_str()),
        (413, "limit_exceeded"),
        "{problem:?}"
    );
    assert_eq!(problem.limit.as_deref(), Some("request_bytes_max"));
    assert_eq!(
        snapshot(client).await,
        before,
        "an oversized body changed state"
    );
}

/// Sends a request head announcing `content_length` body bytes, sends no
/// body, and reads the answer: (status, content type, body).
async fn send_head_only(
    address: &str,
    method: &str,
    target: &str,
    content_length: u64,
) -> (u16, String, Vec<u8>) {
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let head = format!(
        "{method} {target} HTTP/1.1\r\nhost: {address}\r\ncontent-type: text/plain\r\n\
         authorization: Bearer {OPERATOR_TOKEN}\r\ncontent-length: {content_length}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    let answer = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            if let Some(end) = find(&received, b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&received[..end]).into_owned();
                let status: u16 = head
                    .split("\r\n")
                    .next()
                    .and_then(|line| line.split(' ').nth(1))
                    .and_then(|code| code.parse().ok())
                    .unwrap_or_else(|| panic!("bad status line in {head:?}"));
                let header = |name: &str| {
                    head.split("\r\n")
                        .skip(1)
                        .filter_map(|line| line.split_once(':'))
                        .find(|(key, _)| key.trim().eq_ignore_ascii_case(name))
                        .map(|(_, value)| value.trim().to_string())
                };
                let length: usize = header("content-length")
                    .and_then(|value| value.parse().ok())
                    .expect("the answer has a content-length");
                while received.len() < end + 4 + length {
                    let read = stream.read(&mut buffer).await.unwrap();
                    assert!(read > 0, "connection closed mid-body");
                    received.extend_from_slice(&buffer[..read]);
                }
                let body = received[end + 4..end + 4 + length].to_vec();
                return (status, header("content-type").unwrap_or_default(), body);
            }
            let read = stream.read(&mut buffer).await.unwrap();
            assert!(read > 0, "connection closed before an answer: {received:?}");
            received.extend_from_slice(&buffer[..read]);
        }
    })
    .await;
    answer.expect("an answer within 30 s")
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}
