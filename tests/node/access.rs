//! Organizations, users, tokens and grants on the real binary: every
//! store route answers each kind of caller as the rules say (401 without a
//! valid token, 404 for what the caller cannot see, 403 for what they may
//! see but not change), and a refused request changes nothing.

use std::time::Duration;

use cairn_client::{Access, At, Client, CreateTokenRequest, Role, WriteOptions};

use crate::{expect_problem, start_single};

const SHARED: &str = "shared";
const PRIVATE: &str = "bob-notes";

/// A client for `token` against the same node.
fn as_token(operator: &Client, token: &str) -> Client {
    anonymous(operator).with_token(token)
}

fn anonymous(operator: &Client) -> Client {
    let base = operator.base_url();
    Client::new(&format!("http://{}{}", base.authority, base.path_prefix)).unwrap()
}

async fn token_for(
    operator: &Client,
    org: &str,
    user: &str,
    request: CreateTokenRequest,
) -> String {
    operator
        .create_token(org, user, &request)
        .await
        .unwrap()
        .token
}

/// Every route that names an existing store, as (method, target, body);
/// each would succeed for the store's owner. (Creating a store is not here:
/// the name is free in every other organization.)
fn store_routes(store: &str) -> Vec<(&'static str, String, &'static str)> {
    let s = format!("/v1/stores/{store}");
    vec![
        ("GET", s.clone(), ""),
        ("GET", format!("{s}/files/a.md"), ""),
        ("GET", format!("{s}/stat/a.md"), ""),
        ("GET", format!("{s}/tree"), ""),
        ("GET", format!("{s}/tree/dir"), ""),
        ("GET", format!("{s}/history/a.md"), ""),
        ("GET", format!("{s}/diff/a.md?from=1&to=1"), ""),
        ("GET", format!("{s}/audit"), ""),
        ("GET", format!("{s}/audit/verify"), ""),
        ("GET", format!("{s}/grants"), ""),
        ("PUT", format!("{s}/files/new.md"), "new"),
        ("DELETE", format!("{s}/files/a.md"), ""),
        (
            "POST",
            format!("{s}/txn"),
            r#"{"ops":[{"op":"write","path":"/t.md","content":"t"}]}"#,
        ),
        ("PUT", format!("{s}/grants/carol"), r#"{"access":"write"}"#),
        ("DELETE", format!("{s}/grants/carol"), ""),
        ("DELETE", s, ""),
    ]
}

fn is_read(method: &str, target: &str) -> bool {
    method == "GET" && !target.ends_with("/grants")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_store_route_answers_each_caller_by_the_rules_and_refusals_change_nothing() {
    let single = start_single().await;
    let operator = &single.client;
    operator.create_org("acme").await.unwrap();
    operator.create_org("globex").await.unwrap();
    for (org, user, role) in [
        ("acme", "alice", Role::Admin),
        ("acme", "bob", Role::Member),
        ("acme", "carol", Role::Member),
        ("globex", "mallory", Role::Admin),
    ] {
        operator.create_user(org, user, role).await.unwrap();
    }
    let alice = as_token(
        operator,
        &token_for(operator, "acme", "alice", Default::default()).await,
    );
    let bob = as_token(
        operator,
        &token_for(operator, "acme", "bob", Default::default()).await,
    );
    let carol = as_token(
        operator,
        &token_for(operator, "acme", "carol", Default::default()).await,
    );
    let mallory = as_token(
        operator,
        &token_for(operator, "globex", "mallory", Default::default()).await,
    );

    // An organization store made by its admin, a user store made by its owner.
    alice.create_store(SHARED).await.unwrap();
    let private = bob.create_store_owned(PRIVATE, Some("bob")).await.unwrap();
    assert_eq!(
        (private.org.as_str(), private.owner.as_deref()),
        ("acme", Some("bob"))
    );
    expect_problem(carol.create_store("mine").await, 403, "forbidden");
    expect_problem(
        bob.create_store_owned("alices", Some("alice")).await,
        403,
        "forbidden",
    );
    for (client, store) in [(&alice, SHARED), (&bob, PRIVATE)] {
        for path in ["/a.md", "/dir/b.md"] {
            client
                .write_file(store, path, "one\n", &WriteOptions::default())
                .await
                .unwrap();
        }
    }
    let before = operator.digest().await.unwrap();

    let anonymous = anonymous(operator);
    let forged = as_token(operator, "cairn_0123456789abcdef_00ff");
    let org_hop = mallory.clone().with_org("acme");
    // (who, store, expected status for reads, for writes, for admin routes)
    let cases: Vec<(&str, &Client, &str, u16, u16, u16)> = vec![
        ("no token", &anonymous, SHARED, 401, 401, 401),
        ("an unknown token", &forged, SHARED, 401, 401, 401),
        ("another organization", &mallory, SHARED, 404, 404, 404),
        (
            "another organization, named",
            &org_hop,
            SHARED,
            404,
            404,
            404,
        ),
        (
            "a member, organization store",
            &carol,
            SHARED,
            200,
            403,
            403,
        ),
        (
            "a member, another's user store",
            &carol,
            PRIVATE,
            404,
            404,
            404,
        ),
        (
            "an admin, a member's user store",
            &alice,
            PRIVATE,
            200,
            200,
            200,
        ),
    ];
    for (who, client, store, read, write, admin) in &cases {
        for (method, target, body) in store_routes(store) {
            let expected = if is_read(method, &target) {
                *read
            } else if target.contains("/grants") || target == format!("/v1/stores/{store}") {
                *admin
            } else {
                *write
            };
            if expected == 200 {
                continue; // checked below, where changes are expected
            }
            let response = client
                .raw_request(method, &target, &[], body)
                .await
                .unwrap();
            let code = response
                .problem()
                .map(|problem| problem.code)
                .unwrap_or_default();
            assert_eq!(
                response.status,
                expected,
                "{who}: {method} {target}: {code} {}",
                response.text()
            );
            let expected_code = match expected {
                401 => "unauthenticated",
                403 => "forbidden",
                _ => "not_found",
            };
            assert_eq!(code, expected_code, "{who}: {method} {target}");
            if expected == 401 {
                assert!(response.header("www-authenticate").is_some(), "{who}");
            }
        }
    }
    assert_eq!(
        operator.digest().await.unwrap(),
        before,
        "a refused request changed the state"
    );

    // An organization admin reads a member's user store.
    assert_eq!(
        alice
            .read_file(PRIVATE, "/a.md", At::Current)
            .await
            .unwrap()
            .content,
        "one\n"
    );

    // What a caller may see is all they list.
    let names = |stores: Vec<cairn_client::StoreInfo>| {
        stores
            .into_iter()
            .map(|store| store.name)
            .collect::<Vec<_>>()
    };
    assert_eq!(names(carol.list_stores().await.unwrap()), vec![SHARED]);
    assert_eq!(
        names(bob.list_stores().await.unwrap()),
        vec![PRIVATE, SHARED]
    );
    assert!(names(mallory.list_stores().await.unwrap()).is_empty());

    // Each answer names what its caller may do with the store.
    let access_of = |stores: Vec<cairn_client::StoreInfo>| {
        stores
            .into_iter()
            .map(|store| (store.name, store.access))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        access_of(carol.list_stores().await.unwrap()),
        vec![(SHARED.to_string(), Some(Access::Read))]
    );
    assert_eq!(
        access_of(bob.list_stores().await.unwrap()),
        vec![
            (PRIVATE.to_string(), Some(Access::Admin)),
            (SHARED.to_string(), Some(Access::Read))
        ]
    );

    // A write grant lets a member write; removing it takes that back.
    alice.grant(SHARED, "carol", Access::Write).await.unwrap();
    assert_eq!(
        carol.get_store(SHARED).await.unwrap().access,
        Some(Access::Write)
    );
    carol
        .write_file(SHARED, "/c.md", "carol\n", &WriteOptions::default())
        .await
        .unwrap();
    alice.revoke_grant(SHARED, "carol").await.unwrap();
    expect_problem(
        carol
            .write_file(SHARED, "/c.md", "again\n", &WriteOptions::default())
            .await,
        403,
        "forbidden",
    );
    // A read grant on a user store makes it visible, read-only.
    bob.grant(PRIVATE, "carol", Access::Read).await.unwrap();
    assert_eq!(
        carol
            .read_file(PRIVATE, "/a.md", At::Current)
            .await
            .unwrap()
            .content,
        "one\n"
    );
    expect_problem(
        carol
            .write_file(PRIVATE, "/a.md", "x", &WriteOptions::default())
            .await,
        403,
        "forbidden",
    );

    // Organization-scoped management: members may not create users or
    // organizations; admins may not reach another organization.
    expect_problem(
        carol.create_user("acme", "dave", Role::Member).await,
        403,
        "forbidden",
    );
    expect_problem(alice.create_org("initech").await, 403, "forbidden");
    expect_problem(
        alice.create_user("globex", "eve", Role::Admin).await,
        404,
        "not_found",
    );
    expect_problem(
        carol.create_token("acme", "bob", &Default::default()).await,
        403,
        "forbidden",
    );
    expect_problem(alice.digest().await, 403, "forbidden");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_revoke_expire_and_bind_their_agent() {
    let single = start_single().await;
    let operator = &single.client;
    operator
        .create_user("default", "ann", Role::Member)
        .await
        .unwrap();
    operator.create_store("notes").await.unwrap();
    operator.grant("notes", "ann", Access::Write).await.unwrap();

    // Revoked: refused everywhere at once, and listed as revoked.
    let created = operator
        .create_token("default", "ann", &Default::default())
        .await
        .unwrap();
    let ann = as_token(operator, &created.token);
    ann.write_file("notes", "/a.md", "a", &WriteOptions::default())
        .await
        .unwrap();
    let revoked = ann.revoke_token(&created.view.id).await.unwrap();
    assert!(revoked.revoked_ms.is_some());
    expect_problem(
        ann.read_file("notes", "/a.md", At::Current).await,
        401,
        "unauthenticated",
    );
    let listed = operator.list_tokens("default", "ann").await.unwrap();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].revoked_ms.is_some());

    // Expiring: works until it expires, then not.
    let request = CreateTokenRequest {
        agent: None,
        expires_in_s: Some(1),
    };
    let brief = as_token(
        operator,
        &token_for(operator, "default", "ann", request).await,
    );
    brief
        .read_file("notes", "/a.md", At::Current)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    expect_problem(
        brief.read_file("notes", "/a.md", At::Current).await,
        401,
        "unauthenticated",
    );

    // Bound to an agent: writes are that agent's whatever the header says.
    let request = CreateTokenRequest {
        agent: Some("planner".into()),
        expires_in_s: None,
    };
    let bound = as_token(
        operator,
        &token_for(operator, "default", "ann", request).await,
    )
    .with_agent("someone-else")
    .with_session("s-1");
    bound
        .write_file("notes", "/b.md", "b", &WriteOptions::default())
        .await
        .unwrap();
    let audit = operator.audit("notes", None, None).await.unwrap();
    let last = audit.records.last().unwrap();
    assert_eq!(
        (
            last.agent.as_str(),
            last.session.as_str(),
            last.principal.as_str()
        ),
        ("planner", "s-1", "default/ann")
    );
    let me = bound.whoami().await.unwrap();
    assert_eq!(me.token.agent.as_deref(), Some("planner"));

    // Idempotency keys are the principal's: the operator reusing ann's key
    // is a different request, not a replay of hers.
    let keyed = WriteOptions {
        idempotency_key: Some("k-1".into()),
        ..WriteOptions::default()
    };
    bound
        .write_file("notes", "/k.md", "ann", &keyed)
        .await
        .unwrap();
    operator
        .write_file("notes", "/k.md", "operator", &keyed)
        .await
        .unwrap();
    assert_eq!(
        operator
            .read_file("notes", "/k.md", At::Current)
            .await
            .unwrap()
            .content,
        "operator"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_manages_organizations_users_tokens_and_grants() {
    let single = start_single().await;
    let node = &single.node;
    let run = |args: &[&str]| {
        let (code, stdout, stderr) = node.cli(args, None);
        assert_eq!(code, 0, "cairn {args:?}: {stderr}");
        stdout
    };
    run(&["org", "create", "acme"]);
    run(&["user", "create", "acme", "alice", "--role", "admin"]);
    run(&["user", "create", "acme", "bob"]);
    let created: serde_json::Value =
        serde_json::from_str(&run(&["token", "create", "acme", "alice", "--json"])).unwrap();
    let alice = created["token"].as_str().unwrap().to_string();
    assert!(created["id"].is_string());
    // The human form is the token alone.
    let bob = run(&[
        "token",
        "create",
        "acme",
        "bob",
        "--agent",
        "bob-agent",
        "--expires-in",
        "3600",
    ])
    .trim()
    .to_string();
    assert!(bob.starts_with("cairn_"));
    run(&["store", "create", "team", "--org", "acme"]);
    run(&["store", "create", "bobs", "--org", "acme", "--owner", "bob"]);
    run(&["grant", "team", "bob", "write", "--org", "acme"]);
    let (code, _, stderr) = node.cli(&["--token", &bob, "put", "team", "/x.md"], Some(b"x"));
    assert_eq!(code, 0, "{stderr}");
    run(&["revoke-grant", "team", "bob", "--org", "acme"]);
    let (code, _, stderr) = node.cli(&["--token", &bob, "put", "team", "/x.md"], Some(b"y"));
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("forbidden"), "{stderr}");
    let whoami = run(&["--token", &alice, "whoami"]);
    assert!(whoami.contains("acme/alice"), "{whoami}");
    let id = created["id"].as_str().unwrap();
    run(&["token", "revoke", id]);
    let (code, _, stderr) = node.cli(&["--token", &alice, "store", "list"], None);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("unauthenticated"), "{stderr}");
}

/// Waits until `client`'s node answers `/health` (a node that is not in a
/// cluster yet never becomes ready).
async fn wait_alive(client: &Client) {
    for _ in 0..600 {
        if client.health().await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("node never answered /health");
}

#[tokio::test]
async fn a_blank_node_takes_admin_changes_only_from_its_configured_operator_token() {
    let dir = tempfile::tempdir().unwrap();
    // Not a bootstrap node and never joined: its state holds no token, but
    // its configuration supplies the operator's (`[auth] admin_token`).
    let mut node = cairn_tests::NodeProcess::configure(dir.path(), 1, "bootstrap = false\n");
    node.spawn();
    let operator = node.client();
    wait_alive(&operator).await;
    let stranger = anonymous(&operator);
    expect_problem(stranger.init().await, 401, "unauthenticated");
    expect_problem(stranger.status().await, 401, "unauthenticated");
    let forger = stranger.with_token("cairn_0123456789abcdef_".to_string() + &"0".repeat(64));
    expect_problem(forger.init().await, 401, "unauthenticated");
    assert_eq!(
        operator.status().await.unwrap().voters,
        Vec::<u64>::new(),
        "the refused inits changed nothing"
    );
    operator.init().await.unwrap();
    node.wait_ready().await;
    assert_eq!(operator.status().await.unwrap().voters, vec![1]);

    // A node whose configuration supplies no operator token shows its
    // status to anyone but lets nobody initialize it.
    let mut bare = cairn_tests::NodeProcess::configure(dir.path(), 2, "bootstrap = false\n");
    let config = std::fs::read_to_string(&bare.config_path).unwrap();
    let config = config
        .lines()
        .filter(|line| *line != "[auth]" && !line.starts_with("admin_token"))
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&bare.config_path, config).unwrap();
    bare.spawn();
    let bare_operator = bare.client();
    wait_alive(&bare_operator).await;
    let bare_stranger = anonymous(&bare_operator);
    assert!(bare_stranger.status().await.unwrap().voters.is_empty());
    expect_problem(bare_stranger.init().await, 403, "forbidden");
    expect_problem(bare_operator.init().await, 403, "forbidden");
    assert!(bare_stranger.status().await.unwrap().voters.is_empty());
}
