//! `cairn`: `cairn serve` runs a node; every other subcommand is a client of
//! one, over the HTTP API (`cairn-client`).
//!
//! Exit codes: 0 success; 1 the server refused the request (a 4xx problem);
//! 2 usage error (bad flags, unreadable input file); 3 the node could not
//! answer (unreachable, timed out, 5xx such as `unavailable`).

mod bench;
mod cli;
mod cluster;
mod output;

use std::io::{Read, Write};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use serde::Serialize;

use cairn_client::{Client, ClientError, WriteOptions};
use cairn_core::At;
use cairn_core::api::TxnRequest;

use crate::cli::{Cli, ClusterCommand, Command, StoreCommand};

const EXIT_REFUSED: u8 = 1;
const EXIT_USAGE: u8 = 2;
const EXIT_UNAVAILABLE: u8 = 3;

/// Why a client command failed, and so which exit code it gets.
enum Failure {
    Client(ClientError),
    /// Bad local input: an unreadable file, a transaction that is not JSON.
    Usage {
        code: &'static str,
        detail: String,
    },
    /// `cairn bench` could not set up or run (a node down, a store refused).
    Bench(bench::OpError),
}

impl From<ClientError> for Failure {
    fn from(error: ClientError) -> Self {
        Failure::Client(error)
    }
}

impl Failure {
    fn usage(code: &'static str, detail: impl Into<String>) -> Failure {
        Failure::Usage {
            code,
            detail: detail.into(),
        }
    }

    fn exit_code(&self) -> u8 {
        match self {
            Failure::Usage { .. } => EXIT_USAGE,
            Failure::Client(ClientError::InvalidUrl(_) | ClientError::InvalidHeader(_)) => {
                EXIT_USAGE
            }
            Failure::Client(error) if error.is_client_error() => EXIT_REFUSED,
            Failure::Client(_) | Failure::Bench(_) => EXIT_UNAVAILABLE,
        }
    }

    fn report(&self) {
        let line = match self {
            Failure::Client(error) => format!("error: {}: {}", error.code(), error.detail()),
            Failure::Usage { code, detail } => format!("error: {code}: {detail}"),
            Failure::Bench(error) => format!("error: {}: {}", error.code, error.detail),
        };
        let _ = writeln!(std::io::stderr().lock(), "{line}");
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve {
            config,
            data_dir,
            listen,
        } => serve(cairn_server::ServeArgs {
            config,
            data_dir,
            listen,
        }),
        Command::Bench(_) => bench_main(cli),
        Command::BenchReport { files } => bench_report(&files, cli.json),
        _ => client_main(cli),
    }
}

/// openraft logs every election and membership step at `info`; that drowns
/// Cairn's own lines, so it is held to warnings unless `RUST_LOG` says otherwise.
const LOG_FILTER_DEFAULT: &str = "info,openraft=warn";

fn serve(args: cairn_server::ServeArgs) -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(LOG_FILTER_DEFAULT));
    tracing_subscriber::fmt().with_env_filter(filter).init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: start the tokio runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cairn_server::run_serve(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Prints what a command produced, or reports its failure; the exit code.
fn finish(result: Result<Vec<u8>, Failure>) -> ExitCode {
    match result.and_then(|text| print_stdout(&text)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            failure.report();
            ExitCode::from(failure.exit_code())
        }
    }
}

/// `cairn bench` on a multi-threaded runtime: its clients must not share one
/// thread with each other and with the progress printer.
fn bench_main(cli: Cli) -> ExitCode {
    let Command::Bench(args) = &cli.command else {
        unreachable!("bench_main runs cairn bench only")
    };
    // A bad URL is a usage error, found before anything starts.
    for url in &cli.url {
        if let Err(error) = cairn_client::BaseUrl::parse(url) {
            return finish(Err(error.into()));
        }
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: start the tokio runtime: {error}");
            return ExitCode::from(EXIT_UNAVAILABLE);
        }
    };
    let plan = bench::BenchPlan::new(args, &cli.url);
    finish(match runtime.block_on(bench::run(&plan)) {
        Ok(phases) if cli.json => json_text(&serde_json::json!({
            "target": plan.target_name(),
            "urls": plan.urls,
            "duration_s": plan.duration.as_secs(),
            "phases": phases,
        })),
        Ok(phases) => Ok(bench::report(&phases).into_bytes()),
        Err(error) => Err(Failure::Bench(error)),
    })
}

/// `cairn bench-report`: every phase of every file, compared by workload
/// and client count, then each phase in full.
fn bench_report(files: &[std::path::PathBuf], json: bool) -> ExitCode {
    let load = |file: &std::path::PathBuf| -> Result<Vec<bench::PhaseSummary>, Failure> {
        let bytes = read_input(Some(file))?;
        bench::parse_results(&bytes).map_err(|error| {
            Failure::usage(
                "invalid_json",
                format!(
                    "{} is not `cairn bench --json` output: {error}",
                    file.display()
                ),
            )
        })
    };
    let phases: Result<Vec<bench::PhaseSummary>, Failure> = files
        .iter()
        .map(load)
        .collect::<Result<Vec<_>, _>>()
        .map(|loaded| loaded.concat());
    finish(phases.and_then(|phases| {
        if json {
            json_text(&serde_json::json!({ "phases": phases }))
        } else {
            let mut text = bench::comparison(&phases);
            text.push('\n');
            text.push_str(&bench::report(&phases));
            Ok(text.into_bytes())
        }
    }))
}

fn client_main(cli: Cli) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: start the tokio runtime: {error}");
            return ExitCode::from(EXIT_UNAVAILABLE);
        }
    };
    finish(runtime.block_on(run_client(cli)))
}

/// Writes everything to standard output; a closed pipe (`cairn cat … | head`)
/// is not an error.
fn print_stdout(text: &[u8]) -> Result<(), Failure> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(text).and_then(|()| stdout.flush()) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(error) => Err(Failure::usage(
            "io",
            format!("write standard output: {error}"),
        )),
    }
}

fn json_text(value: &impl Serialize) -> Result<Vec<u8>, Failure> {
    let mut text = serde_json::to_vec_pretty(value)
        .map_err(|error| Failure::usage("io", format!("encode JSON: {error}")))?;
    text.push(b'\n');
    Ok(text)
}

/// Reads `path`, or standard input for `-` / `None`, as bytes.
fn read_input(path: Option<&std::path::Path>) -> Result<Vec<u8>, Failure> {
    match path {
        Some(path) if path.as_os_str() != "-" => std::fs::read(path)
            .map_err(|error| Failure::usage("io", format!("read {}: {error}", path.display()))),
        _ => {
            let mut bytes = Vec::new();
            std::io::stdin()
                .lock()
                .read_to_end(&mut bytes)
                .map_err(|error| Failure::usage("io", format!("read standard input: {error}")))?;
            Ok(bytes)
        }
    }
}

fn at(version: Option<u64>, revision: Option<u64>) -> At {
    match (version, revision) {
        (Some(version), _) => At::Version(version),
        (None, Some(revision)) => At::Revision(revision),
        (None, None) => At::Current,
    }
}

/// Runs one client command and returns what to print on success.
async fn run_client(cli: Cli) -> Result<Vec<u8>, Failure> {
    let url = match cli.url.as_slice() {
        [url] => url.clone(),
        urls => {
            return Err(Failure::usage(
                "usage",
                format!(
                    "{} URLs given; only `cairn bench` takes more than one --url",
                    urls.len()
                ),
            ));
        }
    };
    let mut client = Client::new(&url)?.with_timeout(Duration::from_millis(cli.timeout_ms));
    if let Some(agent) = cli.agent {
        client = client.with_agent(agent);
    }
    if let Some(session) = cli.session {
        client = client.with_session(session);
    }
    if let Some(consistency) = cli.consistency {
        client = client.with_consistency(consistency.into());
    }
    let json = cli.json;
    // Either the JSON of the answer or its human form.
    let show = |value: &dyn erased::Show| -> Result<Vec<u8>, Failure> {
        if json {
            value
                .json()
                .map_err(|error| Failure::usage("io", format!("encode JSON: {error}")))
        } else {
            Ok(value.human().into_bytes())
        }
    };

    match cli.command {
        Command::Serve { .. } | Command::Bench(_) | Command::BenchReport { .. } => {
            unreachable!("serve and bench run without a client")
        }
        Command::Cluster(command) => cluster_command(&client, command, json, cli.timeout_ms).await,
        Command::Store(command) => match command {
            StoreCommand::Create { name } => show(&client.create_store(&name).await?),
            StoreCommand::List => show(&erased::Stores(client.list_stores().await?)),
            StoreCommand::Get { name } => show(&client.get_store(&name).await?),
            StoreCommand::Delete { name } => show(&client.delete_store(&name).await?),
        },
        Command::Ls {
            store,
            dir,
            depth,
            revision,
        } => show(&client.list(&store, &dir, depth, revision).await?),
        Command::Cat {
            store,
            path,
            version,
            revision,
        } => {
            let read = client
                .read_file(&store, &path, at(version, revision))
                .await?;
            if json {
                json_text(&read)
            } else {
                Ok(read.content.into_bytes())
            }
        }
        Command::Stat {
            store,
            path,
            version,
            revision,
        } => show(&client.stat(&store, &path, at(version, revision)).await?),
        Command::Put {
            store,
            path,
            file,
            if_version,
            if_absent,
            idempotency_key,
        } => {
            // Bytes as they are: the server, not the CLI, decides what is UTF-8.
            let content = read_input(file.as_deref())?;
            let options = WriteOptions {
                if_match: if_version,
                if_none_match: if_absent,
                idempotency_key,
            };
            show(&client.write_file(&store, &path, content, &options).await?)
        }
        Command::Rm {
            store,
            path,
            recursive,
            if_version,
            idempotency_key,
        } => show(
            &client
                .delete_file(
                    &store,
                    &path,
                    recursive,
                    if_version,
                    idempotency_key.as_deref(),
                )
                .await?,
        ),
        Command::Mv {
            store,
            from,
            to,
            overwrite,
            if_version,
        } => show(
            &client
                .rename(&store, &from, &to, overwrite, if_version)
                .await?,
        ),
        Command::Replace {
            store,
            path,
            old,
            new,
            if_version,
        } => show(
            &client
                .str_replace(&store, &path, &old, &new, if_version)
                .await?,
        ),
        Command::Insert {
            store,
            path,
            line,
            text,
            if_version,
        } => show(
            &client
                .insert(&store, &path, line, &text, if_version)
                .await?,
        ),
        Command::Log {
            store,
            path,
            limit,
            before,
            content,
        } => show(
            &client
                .history(&store, &path, limit, before, content)
                .await?,
        ),
        Command::Diff {
            store,
            path,
            from,
            to,
        } => {
            let diff = client.diff(&store, &path, from, to).await?;
            if json {
                json_text(&serde_json::json!({ "diff": diff }))
            } else {
                Ok(diff.into_bytes())
            }
        }
        Command::Audit {
            store,
            after,
            limit,
        } => show(&client.audit(&store, after, limit).await?),
        Command::Txn {
            store,
            file,
            idempotency_key,
        } => {
            let bytes = read_input(Some(&file))?;
            let request: TxnRequest = serde_json::from_slice(&bytes).map_err(|error| {
                Failure::usage(
                    "invalid_json",
                    format!("{} is not a transaction: {error}", file.display()),
                )
            })?;
            show(
                &client
                    .txn(&store, &request, idempotency_key.as_deref())
                    .await?,
            )
        }
    }
}

async fn cluster_command(
    client: &Client,
    command: ClusterCommand,
    json: bool,
    timeout_ms: u64,
) -> Result<Vec<u8>, Failure> {
    let changed = |status: cairn_client::NodeStatusView| {
        if json {
            json_text(&status)
        } else {
            Ok(cluster::summary_line(&status).into_bytes())
        }
    };
    match command {
        ClusterCommand::Init => changed(client.init().await?),
        ClusterCommand::AddLearner {
            node_url,
            node_id,
            raft_addr,
            api_addr,
            tags,
        } => {
            let request = match (node_url, node_id, raft_addr, api_addr) {
                (Some(node_url), ..) => {
                    let node =
                        Client::new(&node_url)?.with_timeout(Duration::from_millis(timeout_ms));
                    cairn_client::LearnerRequest::from_status(&node.status().await?)
                }
                (None, Some(node_id), Some(raft_addr), Some(api_addr)) => {
                    cairn_client::LearnerRequest {
                        node_id,
                        raft_addr,
                        api_addr,
                        tags: tags.into_iter().collect(),
                    }
                }
                _ => {
                    return Err(Failure::usage(
                        "usage",
                        "give NODE_URL, or --node-id with --raft-addr and --api-addr",
                    ));
                }
            };
            if !json {
                eprintln!(
                    "adding node {} (raft {}, api {}) as a learner",
                    request.node_id, request.raft_addr, request.api_addr
                );
            }
            changed(client.add_learner_request(&request).await?)
        }
        ClusterCommand::Promote { node_id } => changed(client.promote(node_id).await?),
        ClusterCommand::Remove { node_id } => changed(client.remove_member(node_id).await?),
        ClusterCommand::Status { member_timeout_ms } => {
            let member_timeout = Duration::from_millis(member_timeout_ms.min(timeout_ms));
            let report = cluster::collect(client, member_timeout).await?;
            if json {
                json_text(&report)
            } else {
                Ok(cluster::render(&report).into_bytes())
            }
        }
    }
}

/// Answers that print either as JSON or as text, behind one object-safe trait.
mod erased {
    use cairn_core::api::{StoreList, WriteResponse};
    use cairn_core::read::{AuditPage, FileMeta, HistoryPage, Listing};
    use cairn_core::{StoreInfo, TxnResult};

    use crate::output;

    pub trait Show {
        /// Pretty JSON with a final newline, fields in the wire order.
        fn json(&self) -> serde_json::Result<Vec<u8>>;
        fn human(&self) -> String;
    }

    fn to_json(value: &impl serde::Serialize) -> serde_json::Result<Vec<u8>> {
        let mut text = serde_json::to_vec_pretty(value)?;
        text.push(b'\n');
        Ok(text)
    }

    /// `store list`, shown as the `StoreList` the server sent.
    pub struct Stores(pub Vec<StoreInfo>);

    impl Show for Stores {
        fn json(&self) -> serde_json::Result<Vec<u8>> {
            to_json(&StoreList {
                stores: self.0.clone(),
            })
        }
        fn human(&self) -> String {
            output::stores(&self.0)
        }
    }

    macro_rules! show {
        ($type:ty, $human:expr) => {
            impl Show for $type {
                fn json(&self) -> serde_json::Result<Vec<u8>> {
                    to_json(self)
                }
                fn human(&self) -> String {
                    let render: fn(&$type) -> String = $human;
                    render(self)
                }
            }
        };
    }

    show!(StoreInfo, output::store);
    show!(Listing, output::listing);
    show!(FileMeta, output::meta);
    show!(WriteResponse, |w| output::written(
        &w.path, w.version, w.revision
    ));
    show!(TxnResult, output::txn_result);
    show!(HistoryPage, output::history);
    show!(AuditPage, output::audit);
}
