//! Concurrent writers: optimistic read-modify-write with `If-Match` loses no
//! increment, and concurrent unconditional `str_replace`s of distinct text
//! all land.

use std::time::Duration;

use cairn_client::At;
use cairn_client::{Client, ClientError, WriteOptions};

use crate::start_single;
use cairn_tests::operator_client;

const STORE: &str = "concurrency";
const COUNTER: &str = "/counter";
const WORKERS: u64 = 32;
const INCREMENTS_PER_WORKER: u64 = 10;
/// A worker that needs more attempts than this is starved: fail, don't hang.
const ATTEMPTS_PER_WORKER_MAX: u64 = 20_000;

/// A tiny deterministic jitter source, so that retries spread out.
fn jitter_ms(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state % 4
}

async fn increment_worker(client: Client, worker: u64) -> (u64, u64) {
    let mut successes = 0;
    let mut conflicts = 0;
    let mut random = 0x9E37_79B9_7F4A_7C15 ^ (worker + 1);
    let mut attempts = 0;
    while successes < INCREMENTS_PER_WORKER {
        attempts += 1;
        assert!(
            attempts <= ATTEMPTS_PER_WORKER_MAX,
            "worker {worker} starved after {conflicts} conflicts"
        );
        let read = client.read_file(STORE, COUNTER, At::Current).await.unwrap();
        let value: u64 = read.content.parse().unwrap();
        let options = WriteOptions {
            if_match: Some(read.version),
            ..WriteOptions::default()
        };
        match client
            .write_file(STORE, COUNTER, (value + 1).to_string(), &options)
            .await
        {
            Ok(written) => {
                assert!(written.version > read.version);
                successes += 1;
            }
            Err(ClientError::Api(problem)) if problem.code == "version_conflict" => {
                assert_eq!(problem.status, 412, "{problem:?}");
                let current = problem.current_version.expect("the counter exists");
                assert!(current > read.version, "{problem:?}");
                conflicts += 1;
                tokio::time::sleep(Duration::from_millis(jitter_ms(&mut random))).await;
            }
            Err(error) => panic!("worker {worker}: {error}"),
        }
    }
    (successes, conflicts)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn if_match_increments_lose_nothing() {
    let single = start_single().await;
    single.client.create_store(STORE).await.unwrap();
    let initial = single
        .client
        .write_file(STORE, COUNTER, "0", &WriteOptions::default())
        .await
        .unwrap();

    let mut workers = Vec::new();
    for worker in 0..WORKERS {
        let client = operator_client(&single.node.url()).with_agent(format!("worker-{worker}"));
        workers.push(tokio::spawn(increment_worker(client, worker)));
    }
    let mut successes = 0;
    for worker in workers {
        let (done, _conflicts) = worker.await.unwrap();
        successes += done;
    }
    assert_eq!(successes, WORKERS * INCREMENTS_PER_WORKER);

    let read = single
        .client
        .read_file(STORE, COUNTER, At::Current)
        .await
        .unwrap();
    assert_eq!(read.content, successes.to_string());

    // One version per increment after the initial one, counting down from the top.
    let mut versions = Vec::new();
    let mut before = None;
    loop {
        let page = single
            .client
            .history(STORE, COUNTER, Some(100), before, true)
            .await
            .unwrap();
        versions.extend(page.versions);
        match page.next_before {
            Some(next) => before = Some(next),
            None => break,
        }
    }
    assert_eq!(versions.len() as u64, successes + 1);
    assert_eq!(versions.last().unwrap().version, initial.version);
    assert_eq!(versions.first().unwrap().version, read.version);
    for (index, version) in versions.iter().enumerate() {
        let expected = successes - index as u64;
        assert_eq!(
            version.content.as_deref(),
            Some(expected.to_string().as_str())
        );
    }
    assert!(
        versions
            .windows(2)
            .all(|pair| pair[0].version > pair[1].version)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_str_replaces_all_land() {
    const LINES: u64 = 16;
    const PATH: &str = "/shared/checklist.md";
    let single = start_single().await;
    single.client.create_store(STORE).await.unwrap();
    let content: String = (0..LINES).map(|i| format!("line-{i}: todo\n")).collect();
    single
        .client
        .write_file(STORE, PATH, &content, &WriteOptions::default())
        .await
        .unwrap();

    let mut tasks = Vec::new();
    for line in 0..LINES {
        let client = operator_client(&single.node.url()).with_agent(format!("replacer-{line}"));
        tasks.push(tokio::spawn(async move {
            client
                .str_replace(
                    STORE,
                    PATH,
                    &format!("line-{line}: todo"),
                    &format!("line-{line}: done"),
                    None,
                    None,
                )
                .await
        }));
    }
    let mut revisions = Vec::new();
    for task in tasks {
        let result = task.await.unwrap().unwrap();
        revisions.push(result.revision);
    }
    revisions.sort_unstable();
    revisions.dedup();
    assert_eq!(
        revisions.len() as u64,
        LINES,
        "each replace is its own revision"
    );

    let read = single
        .client
        .read_file(STORE, PATH, At::Current)
        .await
        .unwrap();
    let expected: String = (0..LINES).map(|i| format!("line-{i}: done\n")).collect();
    assert_eq!(read.content, expected);
    let history = single
        .client
        .history(STORE, PATH, Some(100), None, false)
        .await
        .unwrap();
    assert_eq!(history.versions.len() as u64, LINES + 1);
}
