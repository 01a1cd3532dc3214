//! Search (`GET /v1/stores/{store}/search`) on the real binary: literal and
//! regex matches with line numbers and versions, a path prefix, a past
//! revision, paging with the cursor until every match was seen once, the
//! page and line limits, bad patterns refused, and the CLI's `cairn grep`.

use cairn_client::{Client, SearchMatch, SearchQuery, WriteOptions};

use crate::{expect_problem, start_single};

const STORE: &str = "notes";

fn query(q: &str) -> SearchQuery {
    SearchQuery {
        q: q.to_string(),
        ..SearchQuery::default()
    }
}

/// Every match of `query`, following the cursor with pages of `limit`.
async fn all_pages(client: &Client, mut query: SearchQuery, limit: u64) -> (Vec<SearchMatch>, u64) {
    query.limit = Some(limit);
    let mut found = Vec::new();
    let mut pages = 0;
    loop {
        let page = client.search(STORE, query.clone()).await.unwrap();
        pages += 1;
        assert!(page.matches.len() as u64 <= limit);
        found.extend(page.matches);
        match page.next_cursor {
            Some(cursor) => query.cursor = Some(cursor),
            None => return (found, pages),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_finds_lines_pages_through_them_and_refuses_bad_patterns() {
    let single = start_single().await;
    let client = &single.client;
    client.create_store(STORE).await.unwrap();
    let options = WriteOptions::default();
    let a = client
        .write_file(
            STORE,
            "/customers/acme.md",
            "# Acme\ndeadline: May\nprefers email\r\nDeadline: June\n",
            &options,
        )
        .await
        .unwrap();
    let b = client
        .write_file(STORE, "/customers/globex.md", "deadline: never\n", &options)
        .await
        .unwrap();
    client
        .write_file(
            STORE,
            "/todo.md",
            "call acme about the deadline\n",
            &options,
        )
        .await
        .unwrap();

    // Literal: case-sensitive, in path then line order, with versions.
    let page = client.search(STORE, query("deadline")).await.unwrap();
    let found: Vec<(&str, u64, u64, &str)> = page
        .matches
        .iter()
        .map(|m| (m.path.as_str(), m.version, m.line_number, m.line.as_str()))
        .collect();
    assert_eq!(
        found,
        vec![
            ("/customers/acme.md", a.version, 2, "deadline: May"),
            ("/customers/globex.md", b.version, 1, "deadline: never"),
            ("/todo.md", 3, 1, "call acme about the deadline"),
        ]
    );
    assert_eq!(page.revision, 3);
    assert_eq!(page.next_cursor, None);
    assert_eq!(page.files_scanned, 3);

    // A literal pattern is not a regex; a regex is, line by line; a prefix narrows.
    assert!(
        client
            .search(STORE, query("dead.ine"))
            .await
            .unwrap()
            .matches
            .is_empty()
    );
    let regex = SearchQuery {
        regex: true,
        prefix: Some("/customers".into()),
        ..query("(?i)^deadline: (may|june)$")
    };
    let page = client.search(STORE, regex).await.unwrap();
    let lines: Vec<u64> = page.matches.iter().map(|m| m.line_number).collect();
    assert_eq!(lines, vec![2, 4], "{page:?}");
    assert!(page.matches.iter().all(|m| m.path == "/customers/acme.md"));
    // The line end (\r\n too) is not part of the line.
    let page = client.search(STORE, query("email")).await.unwrap();
    assert_eq!(page.matches[0].line, "prefers email");

    // The past: at revision 1 only acme.md existed.
    client
        .write_file(STORE, "/customers/acme.md", "no more\n", &options)
        .await
        .unwrap();
    let past = SearchQuery {
        revision: Some(1),
        ..query("deadline")
    };
    let page = client.search(STORE, past).await.unwrap();
    assert_eq!(page.revision, 1);
    let found: Vec<(&str, u64)> = page
        .matches
        .iter()
        .map(|m| (m.path.as_str(), m.version))
        .collect();
    assert_eq!(found, vec![("/customers/acme.md", 1)]);
    let now = client.search(STORE, query("May")).await.unwrap();
    assert!(now.matches.is_empty(), "{now:?}");

    // Paging: 250 matching lines over 5 files, every one exactly once,
    // whatever the page size, including pages that end mid-file.
    for file in 0..5 {
        let content: String = (0..50)
            .map(|line| format!("needle {file}-{line}\nhay\n"))
            .collect();
        client
            .write_file(STORE, &format!("/bulk/{file}.md"), content, &options)
            .await
            .unwrap();
    }
    for limit in [1, 7, 50, 1000] {
        let (found, pages) = all_pages(client, query("needle"), limit).await;
        let mut seen: Vec<(String, u64)> = found
            .iter()
            .map(|m| (m.path.clone(), m.line_number))
            .collect();
        assert_eq!(seen.len(), 250, "limit {limit}");
        seen.dedup();
        assert_eq!(seen.len(), 250, "limit {limit}: a match came twice");
        let mut sorted = seen.clone();
        sorted.sort();
        assert_eq!(seen, sorted, "limit {limit}: out of order");
        assert_eq!(pages, 250u64.div_ceil(limit).max(1), "limit {limit}");
    }

    // Lines longer than the limit are cut at a character boundary.
    let long = format!("{}needle", "é".repeat(1000));
    client
        .write_file(STORE, "/long.md", long.clone(), &options)
        .await
        .unwrap();
    let page = client
        .search(
            STORE,
            SearchQuery {
                prefix: Some("/long.md".into()),
                ..query("needle")
            },
        )
        .await
        .unwrap();
    assert_eq!(page.matches.len(), 1);
    assert!(page.matches[0].truncated);
    assert_eq!(page.matches[0].line.len(), 1024);
    assert!(long.starts_with(&page.matches[0].line));

    // Refusals, each with its code; none changes anything.
    let digest = client.digest().await.unwrap();
    let bad_regex = SearchQuery {
        regex: true,
        ..query("(unclosed")
    };
    expect_problem(
        client.search(STORE, bad_regex).await,
        400,
        "invalid_pattern",
    );
    let huge_regex = SearchQuery {
        regex: true,
        ..query(r"\w{500}\w{500}\w{500}")
    };
    expect_problem(
        client.search(STORE, huge_regex).await,
        400,
        "invalid_pattern",
    );
    expect_problem(
        client.search(STORE, query("")).await,
        400,
        "invalid_request",
    );
    expect_problem(
        client.search(STORE, query(&"x".repeat(1025))).await,
        422,
        "limit_exceeded",
    );
    let too_many = SearchQuery {
        limit: Some(1001),
        ..query("x")
    };
    expect_problem(client.search(STORE, too_many).await, 422, "limit_exceeded");
    let bad_cursor = SearchQuery {
        cursor: Some("nonsense".into()),
        ..query("x")
    };
    expect_problem(
        client.search(STORE, bad_cursor).await,
        400,
        "invalid_request",
    );
    let future = SearchQuery {
        revision: Some(1_000_000),
        ..query("x")
    };
    expect_problem(client.search(STORE, future).await, 400, "invalid_request");
    expect_problem(client.search("absent", query("x")).await, 404, "not_found");
    let response = client
        .raw_request("GET", "/v1/stores/notes/search?q=x&mode=semantic", &[], "")
        .await
        .unwrap();
    assert_eq!(response.status, 400, "{}", response.text());
    assert_eq!(client.digest().await.unwrap(), digest);

    // The CLI pages to the end and prints PATH:LINE:TEXT.
    let (code, out, err) = single
        .node
        .cli(&["grep", STORE, "needle 4-4", "/bulk"], None);
    assert_eq!(code, 0, "{err}");
    let expected: String = [4, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49]
        .iter()
        .map(|k| format!("/bulk/4.md:{}:needle 4-{k}\n", 2 * k + 1))
        .collect();
    assert_eq!(out, expected);
    let (code, _, err) = single.node.cli(&["grep", STORE, "(", "--regex"], None);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("invalid_pattern"), "{err}");
}
