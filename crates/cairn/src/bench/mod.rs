//! `cairn bench`: a load generator for a Cairn cluster (or, for comparison,
//! an etcd cluster). Each client is a tokio task with its own keep-alive
//! connection, bound to one of the given URLs round-robin as a load balancer
//! would; it loops on one operation until the phase's deadline and records
//! every latency in its own histogram, merged at the end.
//!
//! - CAS phase: read the file's version, write it back only if unchanged
//!   (`If-Match` for Cairn, a `mod_revision` compare for etcd). A conflict
//!   is counted and the client re-reads and retries.
//! - Read phase: linearizable reads of pre-written files.
//!
//! With `--stores N` the files are spread over N stores (`STORE-00000`, …,
//! made before the load, contiguous runs of files in each), and with
//! `--spread` each client moves to its next file after every operation
//! (client `c` of `n` takes files `c`, `c + n`, …) instead of staying on one.

mod etcd;
mod histogram;
mod summary;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use cairn_client::{
    At, Client, ClientError, ErrorCode, OpRequest, PreconditionFields, TxnRequest, WriteOptions,
};

use crate::cli::{BenchArgs, BenchTarget, BenchWorkload};

use summary::{PhaseCounters, PhaseShape};
pub use summary::{PhaseSummary, comparison, markdown_comparison, report};

use self::etcd::{EtcdDriver, base64_encode};

/// How long a client waits after an error other than a conflict before it
/// tries again, so that a node that is down is not hammered in a tight loop.
const ERROR_BACKOFF_MS: u64 = 20;

/// How long one benchmark request may take.
const BENCH_REQUEST_TIMEOUT_MS: u64 = 10_000;

/// How often a pre-write is tried, 100 ms apart, before the run gives up.
const SETUP_ATTEMPTS_MAX: u32 = 100;

/// Most clients pre-writing files at once.
const SETUP_CONCURRENCY_MAX: usize = 16;

/// Files Cairn pre-writes per transaction (the default `txn_ops_max`), so
/// that a million-file store loads in minutes rather than hours.
const SETUP_FILES_PER_TXN: u64 = 256;

/// Most bytes of content in one pre-write transaction.
const SETUP_TXN_BYTES_MAX: u64 = 2 * 1024 * 1024;

/// How long pre-writing the files took, before a client count's phases.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LoadSummary {
    pub target: String,
    pub files: u64,
    /// How many stores the files are spread over, and how long making them took.
    #[serde(default)]
    pub stores: u64,
    #[serde(default)]
    pub stores_created_s: f64,
    pub value_bytes: u64,
    pub elapsed_s: f64,
    pub files_per_s: f64,
}

/// A failed operation: a stable code (`version_conflict`, `timeout`, …) and
/// a message.
#[derive(Clone, Debug)]
pub struct OpError {
    pub code: String,
    pub detail: String,
}

impl OpError {
    pub fn new(code: &str, detail: impl Into<String>) -> OpError {
        OpError {
            code: code.to_string(),
            detail: detail.into(),
        }
    }

    fn is_conflict(&self) -> bool {
        self.code == ErrorCode::VersionConflict.as_str()
    }
}

impl From<ClientError> for OpError {
    fn from(error: ClientError) -> Self {
        OpError::new(error.code(), error.detail())
    }
}

/// The phases in what `cairn bench --json` printed.
pub fn parse_results(bytes: &[u8]) -> Result<Vec<PhaseSummary>, serde_json::Error> {
    #[derive(serde::Deserialize)]
    struct Results {
        phases: Vec<PhaseSummary>,
    }
    Ok(serde_json::from_slice::<Results>(bytes)?.phases)
}

/// Everything a run needs, checked.
#[derive(Clone, Debug)]
pub struct BenchPlan {
    pub target: BenchTarget,
    pub urls: Vec<String>,
    pub clients: Vec<u64>,
    pub duration: Duration,
    pub workload: BenchWorkload,
    pub value_bytes: usize,
    pub files: Option<u64>,
    pub store: String,
    /// How many stores the files are spread over (`store` alone when 1).
    pub stores: u64,
    /// Each client moves through its files instead of staying on one.
    pub spread: bool,
    /// Cairn's API token (etcd runs without auth).
    pub token: Option<String>,
    /// `--ca-file`: the CA trusted for https:// URLs in place of the public roots.
    pub ca_file: Option<std::path::PathBuf>,
}

impl BenchPlan {
    pub fn new(args: &BenchArgs, urls: &[String]) -> BenchPlan {
        BenchPlan {
            target: args.target,
            urls: urls.to_vec(),
            clients: args.clients.clone(),
            duration: Duration::from_secs(args.duration),
            workload: args.workload,
            value_bytes: args.value_bytes as usize,
            files: args.files,
            store: args.store.clone(),
            stores: args.stores,
            spread: args.spread,
            token: None,
            ca_file: None,
        }
    }

    /// A client for `url` with the bench's request timeout, trusting
    /// `ca_file` when one was given.
    fn client(&self, url: &str) -> Result<Client, ClientError> {
        let client =
            Client::new(url)?.with_timeout(Duration::from_millis(BENCH_REQUEST_TIMEOUT_MS));
        match &self.ca_file {
            Some(ca_file) => client.with_ca_file(ca_file),
            None => Ok(client),
        }
    }

    fn with_token(&self, client: Client) -> Client {
        match &self.token {
            Some(token) => client.with_token(token.clone()),
            None => client,
        }
    }

    /// The name of store number `number` (of `stores`).
    fn store_name(&self, number: u64) -> String {
        if self.stores <= 1 {
            self.store.clone()
        } else {
            format!("{}-{number:05}", self.store)
        }
    }

    /// Files per store when `files` are spread over the stores.
    fn files_per_store(&self, files: u64) -> u64 {
        files.div_ceil(self.stores.max(1)).max(1)
    }

    /// The files client `client` of `clients` works on, in order.
    fn client_files(&self, client: u64, clients: u64, files: u64) -> Vec<u64> {
        if self.spread {
            (client % files..files).step_by(clients as usize).collect()
        } else {
            vec![client % files]
        }
    }

    pub fn target_name(&self) -> &'static str {
        match self.target {
            BenchTarget::Cairn => "cairn",
            BenchTarget::Etcd => "etcd",
        }
    }
}

/// The key (etcd) or path (Cairn) of file number `index`.
fn file_path(index: u64) -> String {
    format!("/bench/f{index:06}")
}

/// `value_bytes` of text that starts with a marker of who wrote it when, so
/// that each write changes the content.
fn fill_value(value: &mut [u8], client: u64, sequence: u64) {
    value.fill(b'x');
    let marker = format!("c{client} n{sequence} ");
    let length = marker.len().min(value.len());
    value[..length].copy_from_slice(&marker.as_bytes()[..length]);
}

/// How one client talks to the system under test.
enum Driver {
    Cairn {
        client: Client,
        plan: Arc<BenchPlan>,
        files_per_store: u64,
    },
    Etcd(EtcdDriver),
}

impl Driver {
    /// A client of the system under `url`, for a run over `files` files.
    fn new(plan: &Arc<BenchPlan>, url: &str, files: u64) -> Result<Driver, ClientError> {
        let client = plan.client(url)?.with_agent("cairn-bench");
        Ok(match plan.target {
            BenchTarget::Cairn => Driver::Cairn {
                client: plan.with_token(client),
                plan: plan.clone(),
                files_per_store: plan.files_per_store(files),
            },
            BenchTarget::Etcd => Driver::Etcd(EtcdDriver::new(client)),
        })
    }

    /// The name the system knows file `index` by.
    fn key(&self, index: u64) -> String {
        match self {
            Driver::Cairn { .. } => file_path(index),
            Driver::Etcd(_) => base64_encode(file_path(index).as_bytes()),
        }
    }

    /// The store file `index` lives in (Cairn).
    fn store(&self, index: u64) -> String {
        match self {
            Driver::Cairn {
                plan,
                files_per_store,
                ..
            } => plan.store_name(index / files_per_store),
            Driver::Etcd(_) => String::new(),
        }
    }

    /// The current version of file `index` (Cairn: the file version; etcd:
    /// its `mod_revision`); `None` when the file does not exist (Cairn).
    async fn read_version(&self, index: u64) -> Result<Option<i64>, OpError> {
        let key = &self.key(index);
        match self {
            Driver::Cairn { client, .. } => {
                match client.read_file(&self.store(index), key, At::Current).await {
                    Ok(read) => Ok(Some(read.version as i64)),
                    Err(error) if error.is(ErrorCode::NotFound) => Ok(None),
                    Err(error) => Err(error.into()),
                }
            }
            Driver::Etcd(etcd) => Ok(Some(etcd.read_version(key).await?)),
        }
    }

    async fn write_if(&self, index: u64, seen: Option<i64>, value: &[u8]) -> Result<(), OpError> {
        let key = &self.key(index);
        match self {
            Driver::Cairn { client, .. } => {
                let options = WriteOptions {
                    if_match: seen.map(|version| version as u64),
                    if_none_match: seen.is_none(),
                    idempotency_key: None,
                };
                client
                    .write_file(&self.store(index), key, value, &options)
                    .await?;
                Ok(())
            }
            Driver::Etcd(etcd) => etcd.write_if(key, seen.unwrap_or(0), value).await,
        }
    }

    /// Writes files `indexes` (all in one store) with `value`: Cairn in one
    /// transaction, etcd one key at a time.
    async fn put_many(&self, indexes: std::ops::Range<u64>, value: &[u8]) -> Result<(), OpError> {
        match self {
            Driver::Cairn { client, .. } => {
                let store = self.store(indexes.start);
                let content = String::from_utf8_lossy(value).into_owned();
                let ops = indexes
                    .map(|index| OpRequest::Write {
                        path: file_path(index),
                        content: content.clone(),
                        precondition: PreconditionFields::default(),
                    })
                    .collect();
                client
                    .txn(&store, &TxnRequest { ops, message: None }, None)
                    .await?;
                Ok(())
            }
            Driver::Etcd(_) => {
                for index in indexes {
                    self.put(index, value).await?;
                }
                Ok(())
            }
        }
    }

    async fn put(&self, index: u64, value: &[u8]) -> Result<(), OpError> {
        let key = &self.key(index);
        match self {
            Driver::Cairn { client, .. } => {
                client
                    .write_file(&self.store(index), key, value, &WriteOptions::default())
                    .await?;
                Ok(())
            }
            Driver::Etcd(etcd) => etcd.put(key, value).await,
        }
    }

    async fn read(&self, index: u64) -> Result<(), OpError> {
        let key = &self.key(index);
        match self {
            Driver::Cairn { client, .. } => {
                client
                    .read_file(&self.store(index), key, At::Current)
                    .await?;
                Ok(())
            }
            Driver::Etcd(etcd) => etcd.read(key).await.map(|_| ()),
        }
    }
}

/// Counters the progress printer reads while the clients run.
#[derive(Default)]
struct Progress {
    ops: AtomicU64,
    errors: AtomicU64,
    stop: AtomicBool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Cas,
    Read,
}

impl Phase {
    fn name(self) -> &'static str {
        match self {
            Phase::Cas => "cas",
            Phase::Read => "read",
        }
    }
}

/// Runs every phase of the plan; progress and per-phase lines go to stderr.
/// Answers the phases and the time each pre-write took.
pub async fn run(plan: &BenchPlan) -> Result<(Vec<PhaseSummary>, Vec<LoadSummary>), OpError> {
    if plan.urls.is_empty() {
        return Err(OpError::new("invalid_request", "no --url to benchmark"));
    }
    let plan = Arc::new(plan.clone());
    let mut stores_created_s = 0.0;
    if plan.target == BenchTarget::Cairn {
        let started = Instant::now();
        create_stores(&plan).await?;
        stores_created_s = started.elapsed().as_secs_f64();
        if plan.stores > 1 {
            eprintln!(
                "{} stores: {} made in {stores_created_s:.1}s",
                plan.target_name(),
                plan.stores
            );
        }
    }
    let phases: &[Phase] = match plan.workload {
        BenchWorkload::Cas => &[Phase::Cas],
        BenchWorkload::Read => &[Phase::Read],
        BenchWorkload::Both => &[Phase::Cas, Phase::Read],
    };
    let mut summaries = Vec::new();
    let mut loads = Vec::new();
    for &clients in &plan.clients {
        let files = plan.files.unwrap_or(clients).max(1);
        if files < plan.stores {
            return Err(OpError::new(
                "invalid_request",
                format!(
                    "--files ({files}) must be at least --stores ({})",
                    plan.stores
                ),
            ));
        }
        let mut load = prepare_files(&plan, files).await?;
        load.stores = plan.stores;
        load.stores_created_s = stores_created_s;
        eprintln!(
            "{} load: {} files in {:.1}s = {:.0} files/s",
            load.target, load.files, load.elapsed_s, load.files_per_s
        );
        loads.push(load);
        for &phase in phases {
            let summary = run_phase(&plan, phase, clients, files).await?;
            eprintln!("{}", summary.line());
            summaries.push(summary);
        }
    }
    Ok((summaries, loads))
}

/// Makes the stores the files live in (Cairn), `SETUP_CONCURRENCY_MAX` at a
/// time; one that exists already is used as it is.
async fn create_stores(plan: &Arc<BenchPlan>) -> Result<(), OpError> {
    let stores = plan.stores.max(1);
    let workers = stores.min(SETUP_CONCURRENCY_MAX as u64);
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..workers {
        let client = plan.with_token(plan.client(&plan.urls[worker as usize % plan.urls.len()])?);
        let plan = plan.clone();
        tasks.spawn(async move {
            let mut number = worker;
            while number < stores {
                let name = plan.store_name(number);
                let mut attempt = 0;
                loop {
                    match client.create_store(&name).await {
                        Ok(_) => break,
                        Err(error) if error.is(ErrorCode::AlreadyExists) => break,
                        Err(error) if attempt < SETUP_ATTEMPTS_MAX => {
                            attempt += 1;
                            if attempt == 1 {
                                eprintln!("setup: create store {name}: {error}; retrying");
                            }
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                        Err(error) => return Err(OpError::from(error)),
                    }
                }
                number += workers;
            }
            Ok(())
        });
    }
    while let Some(joined) = tasks.join_next().await {
        joined.map_err(|error| OpError::new("internal", format!("setup task: {error}")))??;
    }
    Ok(())
}

/// The runs of files that one pre-write transaction writes: at most
/// `per_txn` files, all in one store.
fn load_chunks(files: u64, files_per_store: u64, per_txn: u64) -> Vec<std::ops::Range<u64>> {
    let mut chunks = Vec::new();
    let mut start = 0;
    while start < files {
        let store_end = (start / files_per_store + 1) * files_per_store;
        let end = (start + per_txn).min(store_end).min(files);
        chunks.push(start..end);
        start = end;
    }
    chunks
}

/// Writes every file once (`value_bytes` each) so that reads find them and
/// CAS starts from an existing version: Cairn `SETUP_FILES_PER_TXN` files
/// per transaction, etcd one key at a time.
async fn prepare_files(plan: &Arc<BenchPlan>, files: u64) -> Result<LoadSummary, OpError> {
    let per_txn = match plan.target {
        // Within the default request size (4 MiB) whatever the value size.
        BenchTarget::Cairn => {
            SETUP_FILES_PER_TXN.min((SETUP_TXN_BYTES_MAX / (plan.value_bytes as u64).max(1)).max(1))
        }
        BenchTarget::Etcd => 1,
    };
    let chunks = Arc::new(load_chunks(files, plan.files_per_store(files), per_txn));
    let workers = (chunks.len() as u64).min(SETUP_CONCURRENCY_MAX as u64);
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..workers {
        let url = plan.urls[worker as usize % plan.urls.len()].clone();
        let driver = Driver::new(plan, &url, files)?;
        let value_bytes = plan.value_bytes;
        let chunks = chunks.clone();
        tasks.spawn(async move {
            let mut value = vec![0u8; value_bytes];
            let mut chunk = worker as usize;
            while let Some(indexes) = chunks.get(chunk) {
                fill_value(&mut value, worker, 0);
                let indexes = indexes.clone();
                // A cluster may still be electing a leader: retry for a while.
                let mut attempt = 0;
                loop {
                    match driver.put_many(indexes.clone(), &value).await {
                        Ok(()) => break,
                        Err(error) if attempt < SETUP_ATTEMPTS_MAX => {
                            attempt += 1;
                            if attempt == 1 {
                                eprintln!(
                                    "setup: write files {indexes:?}: {}: {}; retrying",
                                    error.code, error.detail
                                );
                            }
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                        Err(error) => return Err(error),
                    }
                }
                chunk += workers as usize;
            }
            Ok(())
        });
    }
    while let Some(joined) = tasks.join_next().await {
        joined.map_err(|error| OpError::new("internal", format!("setup task: {error}")))??;
    }
    let elapsed_s = started.elapsed().as_secs_f64();
    Ok(LoadSummary {
        target: plan.target_name().to_string(),
        files,
        stores: plan.stores,
        stores_created_s: 0.0,
        value_bytes: plan.value_bytes as u64,
        elapsed_s,
        files_per_s: if elapsed_s > 0.0 {
            files as f64 / elapsed_s
        } else {
            0.0
        },
    })
}

async fn run_phase(
    plan: &Arc<BenchPlan>,
    phase: Phase,
    clients: u64,
    files: u64,
) -> Result<PhaseSummary, OpError> {
    let progress = Arc::new(Progress::default());
    // Each client connects and reads its file once before the clock starts,
    // so that no timed operation pays for opening a connection.
    let mut warming = tokio::task::JoinSet::new();
    for client in 0..clients {
        let url = &plan.urls[client as usize % plan.urls.len()];
        let driver = Driver::new(plan, url, files)?;
        warming.spawn(async move {
            let _ = driver.read(client % files).await;
            (client, driver)
        });
    }
    let mut drivers = Vec::new();
    while let Some(joined) = warming.join_next().await {
        drivers.push(
            joined.map_err(|error| OpError::new("internal", format!("warm-up task: {error}")))?,
        );
    }
    drivers.sort_by_key(|(client, _)| *client);
    let started = Instant::now();
    let deadline = started + plan.duration;
    let mut tasks = tokio::task::JoinSet::new();
    for (client, driver) in drivers {
        let indexes = plan.client_files(client, clients, files);
        let progress = progress.clone();
        let value_bytes = plan.value_bytes;
        tasks.spawn(async move {
            match phase {
                Phase::Cas => {
                    cas_loop(driver, indexes, client, value_bytes, deadline, &progress).await
                }
                Phase::Read => read_loop(driver, indexes, deadline, &progress).await,
            }
        });
    }
    let label = format!("{} {} clients={clients}", plan.target_name(), phase.name());
    let printer = tokio::spawn(print_progress(label, progress.clone(), started));
    let mut counters = PhaseCounters::default();
    while let Some(joined) = tasks.join_next().await {
        let client_counters =
            joined.map_err(|error| OpError::new("internal", format!("client task: {error}")))?;
        counters.merge(&client_counters);
    }
    let elapsed_s = started.elapsed().as_secs_f64();
    progress.stop.store(true, Ordering::Relaxed);
    printer.abort();
    let shape = PhaseShape {
        target: plan.target_name().to_string(),
        workload: phase.name().to_string(),
        clients,
        files,
        value_bytes: plan.value_bytes as u64,
    };
    Ok(PhaseSummary::compute(&shape, &counters, elapsed_s))
}

/// Once a second: operations so far, the last second's rate, errors.
async fn print_progress(label: String, progress: Arc<Progress>, started: Instant) {
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    ticker.tick().await;
    let mut last_ops = 0;
    loop {
        ticker.tick().await;
        if progress.stop.load(Ordering::Relaxed) {
            return;
        }
        let ops = progress.ops.load(Ordering::Relaxed);
        let errors = progress.errors.load(Ordering::Relaxed);
        eprintln!(
            "[{label}] {:>3.0}s: {ops} ops, {} ops/s, {errors} errors",
            started.elapsed().as_secs_f64(),
            ops - last_ops
        );
        last_ops = ops;
    }
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

async fn backoff() {
    tokio::time::sleep(Duration::from_millis(ERROR_BACKOFF_MS)).await;
}

async fn cas_loop(
    driver: Driver,
    indexes: Vec<u64>,
    client: u64,
    value_bytes: usize,
    deadline: Instant,
    progress: &Progress,
) -> PhaseCounters {
    let mut counters = PhaseCounters::default();
    let mut value = vec![0u8; value_bytes];
    let mut sequence = 0u64;
    // Set when an attempt starts; kept across conflicts so that the cycle
    // latency includes the retries a conflict costs.
    let mut cycle_started: Option<Instant> = None;
    let mut next = indexes.iter().copied().cycle();
    let mut index = next.next().unwrap_or(0);
    while Instant::now() < deadline {
        let cycle_start = *cycle_started.get_or_insert_with(Instant::now);
        let seen = match driver.read_version(index).await {
            Ok(seen) => seen,
            Err(error) => {
                counters.error(&error.code, &error.detail);
                progress.errors.fetch_add(1, Ordering::Relaxed);
                backoff().await;
                continue;
            }
        };
        sequence += 1;
        fill_value(&mut value, client, sequence);
        let write_start = Instant::now();
        match driver.write_if(index, seen, &value).await {
            Ok(()) => {
                counters.latency_us.record(micros(write_start.elapsed()));
                counters
                    .cycle_latency_us
                    .record(micros(cycle_start.elapsed()));
                counters.ops += 1;
                cycle_started = None;
                index = next.next().unwrap_or(index);
                progress.ops.fetch_add(1, Ordering::Relaxed);
            }
            Err(error) => {
                counters.error(&error.code, &error.detail);
                progress.errors.fetch_add(1, Ordering::Relaxed);
                if error.is_conflict() {
                    counters.conflicts += 1;
                } else {
                    backoff().await;
                }
            }
        }
    }
    counters
}

async fn read_loop(
    driver: Driver,
    indexes: Vec<u64>,
    deadline: Instant,
    progress: &Progress,
) -> PhaseCounters {
    let mut counters = PhaseCounters::default();
    let mut next = indexes.iter().copied().cycle();
    while Instant::now() < deadline {
        let index = next.next().unwrap_or(0);
        let start = Instant::now();
        match driver.read(index).await {
            Ok(()) => {
                counters.latency_us.record(micros(start.elapsed()));
                counters.ops += 1;
                progress.ops.fetch_add(1, Ordering::Relaxed);
            }
            Err(error) => {
                counters.error(&error.code, &error.detail);
                progress.errors.fetch_add(1, Ordering::Relaxed);
                backoff().await;
            }
        }
    }
    counters
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_have_the_asked_size_and_differ() {
        let mut first = vec![0u8; 1024];
        let mut second = vec![0u8; 1024];
        fill_value(&mut first, 3, 1);
        fill_value(&mut second, 3, 2);
        assert_ne!(first, second);
        assert!(first.starts_with(b"c3 n1 x"));
        assert!(std::str::from_utf8(&first).is_ok());
        // Shorter than the marker: cut, never longer.
        let mut tiny = vec![0u8; 2];
        fill_value(&mut tiny, 12345, 1);
        assert_eq!(&tiny, b"c1");
    }

    /// Load chunks cover every file once, never cross a store, and hold
    /// at most `per_txn` files.
    #[test]
    fn load_chunks_stay_in_one_store() {
        let chunks = load_chunks(10, 4, 3);
        assert_eq!(chunks, vec![0..3, 3..4, 4..7, 7..8, 8..10]);
        assert_eq!(load_chunks(5, 5, 256), vec![0..5]);
        let files = 10_000;
        let per_store = files / 7 + 1;
        let chunks = load_chunks(files, per_store, 256);
        let mut next = 0;
        for chunk in &chunks {
            assert_eq!(chunk.start, next);
            assert!(chunk.end - chunk.start <= 256);
            assert_eq!(chunk.start / per_store, (chunk.end - 1) / per_store);
            next = chunk.end;
        }
        assert_eq!(next, files);
    }

    #[test]
    fn file_paths_are_distinct_and_sortable() {
        assert_eq!(file_path(7), "/bench/f000007");
        assert!(file_path(9) < file_path(10));
    }
}
