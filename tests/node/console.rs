//! The console's files over real HTTP from the real binary: `/console` and
//! every file it loads are served with their content type and the strict
//! Content-Security-Policy, without a token; none references another
//! origin; what is not a console file is a `404` problem. (What the console
//! does is tested in a real browser: `scripts/console-e2e.sh`.)

use std::collections::BTreeSet;

use crate::start_single;

/// The files a console file loads: `src`/`href` attributes of the page
/// and the `import … from './x.js'` of its modules, as `/console/…` paths.
fn references(name: &str, body: &str) -> Vec<String> {
    let mut found = Vec::new();
    for attribute in ["src=\"", "href=\""] {
        for (start, _) in body.match_indices(attribute) {
            let rest = &body[start + attribute.len()..];
            let target = &rest[..rest.find('"').unwrap()];
            if target.starts_with("/console/") {
                found.push(target.to_string());
            }
        }
    }
    if name.ends_with(".js") {
        for (start, _) in body.match_indices("from './") {
            let rest = &body[start + "from './".len()..];
            let target = &rest[..rest.find('\'').unwrap()];
            found.push(format!("/console/js/{target}"));
        }
    }
    found
}

#[tokio::test]
async fn the_console_and_its_files_are_served_with_their_types_and_a_strict_policy() {
    let single = start_single().await;
    // No token: the files hold no data; the API behind them asks for one.
    let anonymous = cairn_client::Client::new(&single.node.url()).unwrap();

    let mut seen = BTreeSet::new();
    let mut queue = vec!["/console".to_string()];
    while let Some(target) = queue.pop() {
        if !seen.insert(target.clone()) {
            continue;
        }
        let answer = anonymous
            .raw_request("GET", &target, &[], Vec::<u8>::new())
            .await
            .unwrap();
        assert_eq!(answer.status, 200, "{target}");
        let content_type = answer
            .header("content-type")
            .unwrap_or_default()
            .to_string();
        let expected = match target.rsplit('.').next() {
            Some("js") => "text/javascript; charset=utf-8",
            Some("css") => "text/css; charset=utf-8",
            _ => "text/html; charset=utf-8",
        };
        assert_eq!(content_type, expected, "{target}");
        let policy = answer.header("content-security-policy").unwrap_or_default();
        for directive in [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "connect-src 'self'",
            "frame-ancestors 'none'",
        ] {
            assert!(policy.contains(directive), "{target}: {policy}");
        }
        assert!(!policy.contains("unsafe"), "{target}: {policy}");
        assert_eq!(answer.header("x-content-type-options"), Some("nosniff"));
        let body = std::str::from_utf8(&answer.body).unwrap();
        let lower = body.to_ascii_lowercase();
        for external in ["http:", "https:", "ws:", "wss:", "src=\"//", "href=\"//"] {
            assert!(!lower.contains(external), "{target} references {external}");
        }
        queue.extend(references(&target, body));
    }
    // The page, its stylesheet and every module.
    assert!(seen.contains("/console/console.css"), "{seen:?}");
    assert!(seen.contains("/console/js/main.js"), "{seen:?}");
    assert!(seen.contains("/console/js/file.js"), "{seen:?}");
    assert!(seen.len() >= 15, "{seen:?}");

    for missing in [
        "/console/js/nope.js",
        "/console/../Cargo.toml",
        "/console/js/",
    ] {
        let answer = anonymous
            .raw_request("GET", missing, &[], Vec::<u8>::new())
            .await
            .unwrap();
        assert_eq!(answer.status, 404, "{missing}");
        assert_eq!(
            answer.header("content-type"),
            Some("application/problem+json"),
            "{missing}"
        );
    }
    // The API behind it still wants a token.
    let stores = anonymous
        .raw_request("GET", "/v1/stores", &[], Vec::<u8>::new())
        .await
        .unwrap();
    assert_eq!(stores.status, 401);
}
