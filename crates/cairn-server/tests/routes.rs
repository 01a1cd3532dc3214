//! The REST adapter in process, over a real one-node cluster (redb files in a
//! temporary directory, openraft, a loopback peer listener): the router and
//! the OpenAPI document describe the same routes, and what wraps every
//! request (ids, problems, metrics) is there.

// Test helpers unwrap like the tests they serve: a panic is a failed test
// with its message. (Production code denies `unwrap`.)
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use cairn_raft::{TcpConnector, TcpPeerListener};
use cairn_server::{Config, SystemClock};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

struct Harness {
    router: Router,
    _dir: tempfile::TempDir,
}

async fn start() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let config = Config {
        data_dir: dir.path().to_path_buf(),
        advertise_raft: Some(listener.local_addr().unwrap().to_string()),
        ..Config::default()
    };
    let node = cairn_server::start_node(
        config.node_config(),
        true,
        Box::new(TcpPeerListener(listener)),
        Arc::new(TcpConnector),
    )
    .await
    .unwrap();
    let state = cairn_server::app(&config, node, Arc::new(SystemClock), None);
    cairn_server::ensure_operator_token(state.service.clone(), TOKEN.to_string());
    let router = cairn_server::router(state);
    let harness = Harness { router, _dir: dir };
    // A fresh single node elects itself and applies its bootstrap within a moment.
    for _ in 0..200 {
        if harness.send(Method::GET, "/v1/whoami", "").await.0 == StatusCode::OK {
            return harness;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("the node never became ready");
}

/// The operator's token the harness's node is given; every request carries it
/// unless it sets its own `Authorization`.
const TOKEN: &str = "routes-test-operator-token";

impl Harness {
    async fn request(
        &self,
        mut request: Request<Body>,
    ) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
        request
            .headers_mut()
            .entry(axum::http::header::AUTHORIZATION)
            .or_insert_with(|| format!("Bearer {TOKEN}").parse().unwrap());
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec();
        (status, headers, body)
    }

    async fn send(&self, method: Method, uri: &str, body: &str) -> (StatusCode, Value) {
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .body(Body::from(body.to_string()))
            .unwrap();
        let (status, _, body) = self.request(request).await;
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }
}

const METHODS: [&str; 5] = ["get", "put", "post", "delete", "patch"];

/// Every (method, path) the document describes.
fn operations(spec: &Value) -> Vec<(String, String, Value)> {
    let mut operations = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for method in METHODS {
            if let Some(operation) = item.get(method) {
                operations.push((method.to_uppercase(), path.clone(), operation.clone()));
            }
        }
    }
    operations
}

fn spec() -> Value {
    serde_json::to_value(cairn_server::openapi()).unwrap()
}

/// A concrete request for a documented route, with a body it can parse.
fn sample_request(method: &str, path: &str) -> (String, String) {
    let uri = path
        .replace("{store}", "sample")
        .replace("{path}", "notes/a.md")
        .replace("{dir}", "notes")
        .replace("{id}", "9");
    // The change feed would stream until the client leaves; a request it
    // refuses (limit=0) shows just as well that the router serves it.
    let uri = if uri.ends_with("/watch") {
        format!("{uri}?limit=0")
    } else {
        uri
    };
    let body = match (method, path) {
        ("PUT", p) if p.contains("/files/") => "text".to_string(),
        ("POST", p) if p.ends_with("/txn") => {
            r#"{"ops":[{"op":"write","path":"/notes/b.md","content":"b"}]}"#.to_string()
        }
        // node_id 0 is refused before any membership change is tried.
        ("POST", "/v1/admin/learners") => {
            r#"{"node_id":0,"raft_addr":"127.0.0.1:1","api_addr":"127.0.0.1:1"}"#.to_string()
        }
        _ => String::new(),
    };
    (uri, body)
}

#[tokio::test]
async fn every_documented_operation_is_served_by_the_router() {
    let harness = start().await;
    let (status, _) = harness.send(Method::PUT, "/v1/stores/sample", "").await;
    assert_eq!(status, StatusCode::CREATED);
    let spec = spec();
    let operations = operations(&spec);
    assert!(operations.len() >= 20, "{operations:?}");
    for (method, path, _) in operations {
        // Deleting the sample store would starve the operations after it.
        if method == "DELETE" && path == "/v1/stores/{store}" {
            let (status, _) = harness.send(Method::DELETE, "/v1/stores/other", "").await;
            assert_eq!(status, StatusCode::NOT_FOUND, "DELETE {path}");
            continue;
        }
        let (uri, body) = sample_request(&method, &path);
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let (status, answer) = harness.send(method.clone(), &uri, &body).await;
        assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {uri}");
        let detail = answer["detail"].as_str().unwrap_or_default();
        assert!(!detail.starts_with("no route"), "{method} {uri}: {answer}");
        assert!(status.as_u16() < 500, "{method} {uri}: {status} {answer}");
    }
}

#[tokio::test]
async fn an_unknown_route_is_a_problem_not_in_the_spec() {
    let harness = start().await;
    let (status, answer) = harness.send(Method::GET, "/v1/nothing-here", "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(answer["code"], "not_found");
    assert!(answer["detail"].as_str().unwrap().starts_with("no route"));
    assert!(spec()["paths"].get("/v1/nothing-here").is_none());
}

#[test]
fn every_operation_documents_its_parameters_bodies_and_problems() {
    let spec = spec();
    assert_eq!(spec["openapi"], "3.1.0");
    for (method, path, operation) in operations(&spec) {
        let name = format!("{method} {path}");
        let responses = operation["responses"].as_object().unwrap();
        let success = responses
            .iter()
            .find(|(status, _)| status.starts_with('2'))
            .unwrap_or_else(|| panic!("{name}: no 2xx answer"));
        assert!(
            success.1.get("content").is_some(),
            "{name}: 2xx without a body schema"
        );
        let probe = ["/health", "/ready", "/openapi.json"].contains(&path.as_str());
        // The memory-store API answers Anthropic's error body, not problems.
        if path.starts_with("/v1/memory_stores") {
            for status in ["400", "401", "404", "409", "500", "503"] {
                let schema = &responses[status]["content"]["application/json"]["schema"];
                assert_eq!(
                    schema["$ref"], "#/components/schemas/AnthropicError",
                    "{name} {status}"
                );
            }
            let takes_body = matches!(method.as_str(), "POST")
                && !path.ends_with("/archive")
                && !path.ends_with("/redact");
            assert_eq!(operation.get("requestBody").is_some(), takes_body, "{name}");
            continue;
        }
        let expected: &[&str] = match (method.as_str(), probe) {
            (_, true) => &[],
            ("GET", _) if path.starts_with("/v1/stores") => &["400", "404", "500", "503"],
            ("GET", _) => &["500"],
            _ if path.starts_with("/v1/admin") => &["400", "409", "500", "503", "504"],
            _ => &[
                "400", "404", "409", "412", "413", "422", "500", "503", "504",
            ],
        };
        for status in expected {
            let answer = responses
                .get(*status)
                .unwrap_or_else(|| panic!("{name}: {status} undocumented"));
            let schema = &answer["content"]["application/problem+json"]["schema"];
            assert_eq!(
                schema["$ref"], "#/components/schemas/Problem",
                "{name} {status}"
            );
        }
        let declared: BTreeSet<String> = operation["parameters"]
            .as_array()
            .map(|parameters| {
                parameters
                    .iter()
                    .filter(|parameter| parameter["in"] == "path")
                    .map(|parameter| parameter["name"].as_str().unwrap().to_string())
                    .collect()
            })
            .unwrap_or_default();
        let in_template: BTreeSet<String> = path
            .split('{')
            .skip(1)
            .map(|rest| rest.split('}').next().unwrap().to_string())
            .collect();
        assert_eq!(declared, in_template, "{name}: path parameters");
        // Every PUT and POST takes a body but those that only name a node
        // or an import.
        let takes_body = matches!(method.as_str(), "PUT" | "POST")
            && path != "/v1/admin/init"
            && path != "/v1/admin/voters/{id}"
            && path != "/v1/imports/{id}/commit";
        assert_eq!(
            operation.get("requestBody").is_some(),
            takes_body,
            "{name}: request body"
        );
    }
    for schema in [
        "Problem",
        "StoreInfo",
        "TxnRequest",
        "OpRequest",
        "NodeStatusView",
        "AuditPage",
    ] {
        assert!(
            spec["components"]["schemas"].get(schema).is_some(),
            "schema {schema}"
        );
    }
}

/// `docs/api.md` lists the same routes as the document.
#[test]
fn docs_api_md_lists_exactly_the_documented_routes() {
    let docs =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/api.md")).unwrap();
    let listed: BTreeSet<(String, String)> = docs
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|rest| rest.split('`').next())
        .filter_map(|route| route.split_once(' '))
        .filter(|(method, _)| METHODS.contains(&method.to_lowercase().as_str()))
        .map(|(method, path)| (method.to_string(), path.to_string()))
        .collect();
    let documented: BTreeSet<(String, String)> = operations(&spec())
        .into_iter()
        .map(|(method, path, _)| (method, path))
        .collect();
    assert_eq!(listed, documented);
}

#[tokio::test]
async fn request_ids_are_echoed_or_made() {
    let harness = start().await;
    let request = |id: Option<&str>| {
        let mut builder = Request::builder().uri("/health");
        if let Some(id) = id {
            builder = builder.header("x-request-id", id);
        }
        builder.body(Body::empty()).unwrap()
    };
    let (_, headers, _) = harness.request(request(Some("trace-me-7"))).await;
    assert_eq!(headers["x-request-id"], "trace-me-7");
    let (_, first, _) = harness.request(request(None)).await;
    let (_, second, _) = harness.request(request(None)).await;
    assert!(first["x-request-id"].to_str().unwrap().starts_with("1-"));
    assert_ne!(first["x-request-id"], second["x-request-id"]);
    let too_long = "x".repeat(200);
    let (_, headers, _) = harness.request(request(Some(&too_long))).await;
    assert_ne!(headers["x-request-id"], too_long.as_str());
    assert!(headers.contains_key("x-cairn-applied-index"));
}

#[tokio::test]
async fn metrics_show_raft_gauges_and_request_series() {
    let harness = start().await;
    harness.send(Method::GET, "/v1/stores", "").await;
    let request = Request::builder()
        .uri("/metrics")
        .body(Body::empty())
        .unwrap();
    let (status, headers, body) = harness.request(request).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    let text = String::from_utf8(body).unwrap();
    for series in [
        "cairn_raft_term ",
        "cairn_raft_leader_id ",
        "cairn_raft_is_leader 1",
        "cairn_raft_last_log_index ",
        "cairn_raft_commit_index ",
        "cairn_raft_applied_index ",
        "cairn_raft_snapshot_index ",
        "cairn_raft_purged_index ",
        "cairn_raft_log_entries ",
        "cairn_raft_log_file_bytes ",
        "cairn_state_file_bytes ",
        "cairn_snapshot_bytes ",
        "cairn_raft_voters 1",
        "cairn_raft_learners 0",
        "cairn_http_requests_total{route=\"/v1/stores\",method=\"GET\",status=\"200\"} 1",
        "cairn_http_request_duration_seconds_bucket{le=\"0.0005\",route=\"/v1/stores\",method=\"GET\",status=\"200\"}",
        "cairn_http_request_duration_seconds_count{route=\"/v1/stores\",method=\"GET\",status=\"200\"} 1",
    ] {
        assert!(text.contains(series), "missing {series:?} in\n{text}");
    }
}
