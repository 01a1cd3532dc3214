//! `/mcp` on the real binary, driven by the official Rust SDK's client over
//! Streamable HTTP: initialize, the tool list, every tool, a version
//! conflict, a write refused on a read-only grant, and a request without a
//! token refused before any session exists.

use std::collections::HashMap;
use std::time::Duration;

use cairn_client::{Access, At, CreateTokenRequest, Role};
use cairn_tests::OPERATOR_TOKEN;
use http::{HeaderName, HeaderValue};
use rmcp::model::{CallToolRequestParams, ClientConfig, ProtocolVersion};
use rmcp::service::RunningService;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{RoleClient, ServiceExt};
use serde_json::{Value, json};

use crate::start_single;

const STORE: &str = "mem";

type McpClient = RunningService<RoleClient, ClientConfig>;

/// An initialized MCP session against `url` presenting `token`, with extra
/// request headers.
async fn connect(
    url: &str,
    token: Option<&str>,
    headers: &[(&'static str, &str)],
) -> Result<McpClient, String> {
    let mut config = StreamableHttpClientTransportConfig::with_uri(format!("{url}/mcp"));
    if let Some(token) = token {
        config = config.auth_header(token);
    }
    let headers: HashMap<HeaderName, HeaderValue> = headers
        .iter()
        .map(|(name, value)| {
            (
                HeaderName::from_static(name),
                HeaderValue::from_str(value).unwrap(),
            )
        })
        .collect();
    let transport = StreamableHttpClientTransport::from_config(config.custom_headers(headers));
    // The newest protocol version that still has `initialize` and sessions,
    // so the MCP session id attribution is exercised.
    ClientConfig::default()
        .with_protocol_version(ProtocolVersion::LATEST_WITH_INITIALIZE)
        .serve(transport)
        .await
        .map_err(|error| error.to_string())
}

/// Calls a tool; answers its text and whether it is a tool error.
async fn call(client: &McpClient, tool: &'static str, arguments: Value) -> (String, bool) {
    let Value::Object(arguments) = arguments else {
        panic!("tool arguments must be an object");
    };
    let result = client
        .call_tool(CallToolRequestParams::new(tool).with_arguments(arguments))
        .await
        .unwrap_or_else(|error| panic!("{tool}: {error}"));
    let text = result
        .content
        .iter()
        .filter_map(|block| block.as_text().map(|text| text.text.clone()))
        .collect::<Vec<_>>()
        .join("\n");
    (text, result.is_error == Some(true))
}

/// Calls a tool that must succeed and answers JSON.
async fn call_json(client: &McpClient, tool: &'static str, arguments: Value) -> Value {
    let (text, is_error) = call(client, tool, arguments).await;
    assert!(!is_error, "{tool} failed: {text}");
    serde_json::from_str(&text).unwrap_or_else(|error| panic!("{tool}: {error}: {text}"))
}

/// A write-like call's new version.
async fn version_of(client: &McpClient, tool: &'static str, arguments: Value) -> u64 {
    call_json(client, tool, arguments).await["version"]
        .as_u64()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_mcp_client_uses_every_tool_under_its_token() {
    let mut single = start_single().await;
    let operator = &single.client;
    let url = single.node.url();
    operator.create_store(STORE).await.unwrap();

    // Phase 1: no token, or a token the node does not know: no session.
    for token in [None, Some("cairn_0123456789abcdef_00ff")] {
        let refused = connect(&url, token, &[]).await;
        assert!(refused.is_err(), "connected with {token:?}");
    }

    // Phase 2: initialize and the tool list.
    let client = connect(
        &url,
        Some(OPERATOR_TOKEN),
        &[("x-cairn-agent", "mcp-agent")],
    )
    .await
    .unwrap();
    let server = client.peer_info().unwrap();
    assert_eq!(
        server.server_info.as_ref().map(|info| info.name.as_str()),
        Some("cairn")
    );
    let tools = client.list_all_tools().await.unwrap();
    let mut names: Vec<&str> = tools.iter().map(|tool| tool.name.as_ref()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "delete",
            "history",
            "insert",
            "list_stores",
            "read",
            "rename",
            "search",
            "str_replace",
            "view",
            "write"
        ]
    );
    for tool in &tools {
        assert!(
            tool.description
                .as_ref()
                .is_some_and(|text| text.len() > 40),
            "{} has no description for a model",
            tool.name
        );
        assert_eq!(tool.input_schema.get("type"), Some(&json!("object")));
    }
    let write_schema = &tools
        .iter()
        .find(|tool| tool.name == "write")
        .unwrap()
        .input_schema;
    let required = write_schema["required"].as_array().unwrap();
    for field in ["store", "path", "content"] {
        assert!(required.contains(&json!(field)), "write requires {field}");
    }

    // Phase 3: every tool.
    let stores = call_json(&client, "list_stores", json!({})).await;
    assert_eq!(stores["stores"][0]["name"], STORE);

    let path = "/notes/a.md";
    let v1 = version_of(
        &client,
        "write",
        json!({"store": STORE, "path": path, "content": "one\ntwo\n", "only_if_absent": true}),
    )
    .await;
    let read = call_json(&client, "read", json!({"store": STORE, "path": path})).await;
    assert_eq!(
        (read["content"].as_str(), read["version"].as_u64()),
        (Some("one\ntwo\n"), Some(v1))
    );

    let (viewed, is_error) = call(&client, "view", json!({"store": STORE, "path": path})).await;
    assert!(!is_error);
    assert_eq!(
        viewed,
        format!(
            "Version {v1}.\nHere's the content of {path} with line numbers:\n     1\tone\n     2\ttwo\n     3\t"
        )
    );
    let (listing, is_error) = call(&client, "view", json!({"store": STORE})).await;
    assert!(!is_error, "{listing}");
    assert!(listing.contains("\n/notes/"), "{listing}");
    assert!(
        listing.contains(&format!("\n/notes/a.md\t(version {v1}, 8 bytes)")),
        "{listing}"
    );

    let (subdir, is_error) =
        call(&client, "view", json!({"store": STORE, "path": "/notes/"})).await;
    assert!(!is_error, "{subdir}");
    assert!(
        subdir.starts_with("Directory /notes of store mem")
            && subdir.ends_with(&format!("\n/notes/a.md\t(version {v1}, 8 bytes)")),
        "{subdir}"
    );

    let (no_slash, is_error) =
        call(&client, "view", json!({"store": STORE, "path": "/notes"})).await;
    assert!(!is_error && no_slash == subdir, "{no_slash}");
    let (missing, is_error) =
        call(&client, "view", json!({"store": STORE, "path": "/nope.md"})).await;
    assert!(is_error && missing.starts_with("not_found: "), "{missing}");

    let v2 = version_of(
        &client,
        "str_replace",
        json!({"store": STORE, "path": path, "old_str": "two", "new_str": "2", "expected_version": v1}),
    )
    .await;
    assert!(v2 > v1);
    let v3 = version_of(
        &client,
        "insert",
        json!({"store": STORE, "path": path, "insert_line": 0, "insert_text": "zero\n"}),
    )
    .await;
    assert!(v3 > v2);
    let read = call_json(&client, "read", json!({"store": STORE, "path": path})).await;
    assert_eq!(read["content"], "zero\none\n2\n");

    // Phase 4: a conflict names the current version and writes nothing.
    let (conflict, is_error) = call(
        &client,
        "write",
        json!({"store": STORE, "path": path, "content": "lost", "expected_version": v1}),
    )
    .await;
    assert!(is_error, "{conflict}");
    assert!(conflict.starts_with("version_conflict: "), "{conflict}");
    assert!(
        conflict.contains(&format!("current version is {v3}")),
        "{conflict}"
    );
    let (absent, is_error) = call(
        &client,
        "write",
        json!({"store": STORE, "path": path, "content": "lost", "only_if_absent": true}),
    )
    .await;
    assert!(
        is_error && absent.contains(&format!("current version is {v3}")),
        "{absent}"
    );
    let read = call_json(&client, "read", json!({"store": STORE, "path": path})).await;
    assert_eq!(
        (read["content"].as_str(), read["version"].as_u64()),
        (Some("zero\none\n2\n"), Some(v3))
    );
    let old = call_json(
        &client,
        "read",
        json!({"store": STORE, "path": path, "version": v1}),
    )
    .await;
    assert_eq!(old["content"], "one\ntwo\n");

    let renamed = "/notes/b.md";
    let v4 = version_of(
        &client,
        "rename",
        json!({"store": STORE, "old_path": path, "new_path": renamed, "expected_version": v3}),
    )
    .await;
    assert!(v4 > v3);
    let (gone, is_error) = call(&client, "read", json!({"store": STORE, "path": path})).await;
    assert!(is_error && gone.starts_with("not_found: "), "{gone}");

    // Search: the renamed file's lines, paged; a bad pattern is a tool error.
    let found = call_json(
        &client,
        "search",
        json!({"store": STORE, "query": "one", "path_prefix": renamed}),
    )
    .await;
    assert_eq!(found["matches"][0]["path"], renamed);
    assert_eq!(found["matches"][0]["version"].as_u64(), Some(v4));
    assert_eq!(found["matches"][0]["line_number"].as_u64(), Some(2));
    assert_eq!(found["matches"][0]["line"], "one");
    let first = call_json(
        &client,
        "search",
        json!({"store": STORE, "query": "^(zero|2)$", "regex": true, "path_prefix": renamed, "limit": 1}),
    )
    .await;
    assert_eq!(first["matches"][0]["line_number"].as_u64(), Some(1));
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = call_json(
        &client,
        "search",
        json!({"store": STORE, "query": "^(zero|2)$", "regex": true, "path_prefix": renamed, "limit": 1, "cursor": cursor}),
    )
    .await;
    assert_eq!(second["matches"][0]["line_number"].as_u64(), Some(3));
    assert!(second.get("next_cursor").is_none(), "{second}");
    let (bad, is_error) = call(
        &client,
        "search",
        json!({"store": STORE, "query": "(", "regex": true}),
    )
    .await;
    assert!(is_error && bad.starts_with("invalid_pattern: "), "{bad}");

    let history = call_json(&client, "history", json!({"store": STORE, "path": renamed})).await;
    let versions = history["versions"].as_array().unwrap();
    assert_eq!(versions[0]["version"].as_u64(), Some(v4));
    assert_eq!(versions[0]["agent"], "mcp-agent");
    // The MCP session id is the Cairn session.
    let mcp_session = versions[0]["session"].as_str().unwrap().to_string();
    assert!(!mcp_session.is_empty());

    let deleted = call_json(&client, "delete", json!({"store": STORE, "path": renamed})).await;
    assert_eq!(deleted["deleted"], json!([renamed]));
    assert!(
        operator
            .read_file(STORE, renamed, At::Current)
            .await
            .is_err()
    );

    // A write retried with its idempotency key applies once.
    let keyed = json!({"store": STORE, "path": "/k.md", "content": "k", "idempotency_key": "k-1"});
    let first = version_of(&client, "write", keyed.clone()).await;
    let again = version_of(&client, "write", keyed).await;
    assert_eq!(first, again);
    let history = call_json(&client, "history", json!({"store": STORE, "path": "/k.md"})).await;
    assert_eq!(history["versions"].as_array().unwrap().len(), 1);
    let unkeyed = json!({"store": STORE, "path": "/k.md", "content": "k"});
    assert!(version_of(&client, "write", unkeyed).await > first);

    // Phase 5: `X-Cairn-Session` overrides the MCP session id.
    let named = connect(
        &url,
        Some(OPERATOR_TOKEN),
        &[("x-cairn-session", "chosen-session")],
    )
    .await
    .unwrap();
    version_of(
        &named,
        "write",
        json!({"store": STORE, "path": "/s.md", "content": "s"}),
    )
    .await;
    let history = call_json(&named, "history", json!({"store": STORE, "path": "/s.md"})).await;
    assert_eq!(history["versions"][0]["session"], "chosen-session");
    named.cancel().await.unwrap();

    // Phase 6: a read-only grant reads, and its writes are refused unapplied.
    operator
        .create_user("default", "reader", Role::Member)
        .await
        .unwrap();
    operator.grant(STORE, "reader", Access::Read).await.unwrap();
    let token = operator
        .create_token("default", "reader", &CreateTokenRequest::default())
        .await
        .unwrap()
        .token;
    let reader = connect(&url, Some(&token), &[]).await.unwrap();
    let read = call_json(&reader, "read", json!({"store": STORE, "path": "/s.md"})).await;
    assert_eq!(read["content"], "s");
    let before = operator.digest().await.unwrap();
    for (tool, arguments) in [
        (
            "write",
            json!({"store": STORE, "path": "/s.md", "content": "x"}),
        ),
        (
            "str_replace",
            json!({"store": STORE, "path": "/s.md", "old_str": "s", "new_str": "x"}),
        ),
        ("delete", json!({"store": STORE, "path": "/s.md"})),
    ] {
        let (denied, is_error) = call(&reader, tool, arguments).await;
        assert!(is_error, "{tool}: {denied}");
        assert!(denied.starts_with("forbidden: "), "{tool}: {denied}");
    }
    assert_eq!(operator.digest().await.unwrap(), before);
    reader.cancel().await.unwrap();

    // Phase 7: the session's event stream (`GET /mcp`, which rmcp's client
    // keeps open) does not hold the node's shutdown: SIGTERM ends it well
    // within the server's 10 s drain timeout.
    single.node.signal("TERM");
    assert!(
        single.node.wait_exit(Duration::from_secs(5)).await,
        "the node did not stop within 5 s of SIGTERM"
    );
    drop(client);
}

/// The Python `mcp` package's interpreter (`scripts/mcp-venv.sh` makes the
/// venv under `target/` on first use).
fn mcp_python() -> std::path::PathBuf {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let output = std::process::Command::new(root.join("scripts/mcp-venv.sh"))
        .output()
        .expect("run scripts/mcp-venv.sh");
    assert!(
        output.status.success(),
        "mcp-venv.sh: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let venv = String::from_utf8(output.stdout).unwrap();
    root.join(venv.trim()).join("bin/python")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_mcp_sdk_uses_every_tool() {
    let single = start_single().await;
    let operator = &single.client;
    operator.create_store(STORE).await.unwrap();
    operator
        .create_user("default", "reader", Role::Member)
        .await
        .unwrap();
    operator.grant(STORE, "reader", Access::Read).await.unwrap();
    let read_only = operator
        .create_token("default", "reader", &CreateTokenRequest::default())
        .await
        .unwrap()
        .token;

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/mcp_session.py");
    let output = std::process::Command::new(mcp_python())
        .arg(script)
        .arg(single.node.url())
        .arg(OPERATOR_TOKEN)
        .arg(&read_only)
        .arg(STORE)
        .output()
        .expect("run the MCP SDK script");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "mcp_session.py failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    let versions: Vec<u64> = report["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|version| version.as_u64().unwrap())
        .collect();

    // What the script did is what the store holds, attributed to it.
    let file = operator
        .read_file(STORE, "/py/b.md", At::Current)
        .await
        .unwrap();
    assert_eq!(file.content, "alpha\nBETA\ngamma\n");
    assert_eq!(Some(&file.version), versions.last());
    assert_eq!(report["read"], "alpha\nBETA\ngamma\n");
    assert!(
        report["denied"]
            .as_str()
            .unwrap()
            .starts_with("forbidden: ")
    );
    let history = operator
        .history(STORE, "/py/b.md", None, None, false)
        .await
        .unwrap();
    let newest = &history.versions[0];
    assert_eq!(newest.agent, "python-mcp");
    assert!(!newest.session.is_empty());
    assert_eq!(report["session"], newest.session.as_str());
    assert!(
        operator
            .read_file(STORE, "/py/tmp.md", At::Current)
            .await
            .is_err()
    );
}

/// A raw `initialize` POST to `/mcp` (no session id): its status and body.
async fn raw_initialize(address: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let body = json!({
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "raw", "version": "0"}
        }
    })
    .to_string();
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = format!(
        "POST /mcp HTTP/1.1\r\nhost: {address}\r\nauthorization: Bearer {OPERATOR_TOKEN}\r\n\
         content-type: application/json\r\naccept: application/json, text/event-stream\r\n\
         connection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut answer))
        .await
        .expect("an answer within 30 s")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("bad answer {answer:?}"));
    (status, answer)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mcp_sessions_are_bounded_and_the_endpoint_can_be_turned_off() {
    let single = crate::start_single_with("[mcp]\nsessions_max = 2\n").await;
    let url = single.node.url();
    let first = connect(&url, Some(OPERATOR_TOKEN), &[]).await.unwrap();
    let second = connect(&url, Some(OPERATOR_TOKEN), &[]).await.unwrap();
    // A third session is refused, clearly and retryably, before rmcp opens it.
    let refused = connect(&url, Some(OPERATOR_TOKEN), &[]).await;
    assert!(refused.is_err(), "a third session opened");
    let (status, answer) = raw_initialize(&single.node.http_addr).await;
    assert_eq!(status, 503, "{answer}");
    assert!(answer.contains("\"unavailable\""), "{answer}");
    assert!(answer.contains("sessions_max"), "{answer}");
    // Requests of the open sessions still go through.
    call_json(&first, "list_stores", json!({})).await;
    // One session ends (the client closes it): a new one opens.
    second.cancel().await.unwrap();
    let mut third = None;
    for _ in 0..100 {
        if let Ok(client) = connect(&url, Some(OPERATOR_TOKEN), &[]).await {
            third = Some(client);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let third = third.expect("a session opens once another has ended");
    call_json(&third, "list_stores", json!({})).await;

    // `[mcp] enabled = false`: `/mcp` is an unknown path, like any other.
    let off = crate::start_single_with("[mcp]\nenabled = false\n").await;
    let (status, answer) = raw_initialize(&off.node.http_addr).await;
    assert_eq!(status, 404, "{answer}");
    assert!(answer.contains("no route /mcp"), "{answer}");
    // The rest of the API is unaffected.
    off.client.create_store(STORE).await.unwrap();
}
