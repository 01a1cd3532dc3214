//! One `run` per command family; this module picks the family and gives it
//! what every client command shares: a configured [`Client`], the output
//! mode, and a runtime.

mod access;
mod audit;
mod bench;
pub mod cluster;
mod files;
mod history;
mod redact;
mod serve;
mod store;
mod txn;

use std::future::Future;
use std::io::Read;
use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use cairn_client::Client;

use crate::cli::{Cli, Command, GlobalArgs};
use crate::exit::Failure;
use crate::render;

/// Runs the command line and returns what to print on success.
pub fn run(cli: Cli) -> Result<Vec<u8>, Failure> {
    let globals = &cli.globals;
    let json = globals.json;
    match cli.command {
        Command::Serve {
            config,
            data_dir,
            listen,
        } => serve::run(cairn_server::ServeArgs {
            config,
            data_dir,
            listen,
        }),
        Command::Bench(args) => bench::run(&args, &globals.url, token(globals)?, json),
        Command::BenchReport { files, markdown } => bench::report(&files, json, markdown),
        Command::Store(command) => on_client(globals, |context| store::run(context, command)),
        Command::Org(command) => on_client(globals, |context| access::org(context, command)),
        Command::User(command) => on_client(globals, |context| access::user(context, command)),
        Command::Token(command) => {
            let agent = globals.agent.clone();
            on_client(globals, |context| access::token(context, command, agent))
        }
        Command::Grant {
            store,
            user,
            access,
        } => on_client(globals, |context| {
            access::grant(context, store, user, Some(access.into()))
        }),
        Command::RevokeGrant { store, user } => {
            on_client(globals, |context| access::grant(context, store, user, None))
        }
        Command::Whoami => on_client(globals, access::whoami),
        Command::Rollback(args) => {
            // --session / --agent name what to roll back, not who rolls back.
            let (session, agent) = (globals.session.clone(), globals.agent.clone());
            on_client(globals, |mut context| {
                context.client = context.client.without_attribution();
                history::rollback(context, args, session, agent)
            })
        }
        Command::Files(command) => on_client(globals, |context| files::run(context, command)),
        Command::Edit(command) => on_client(globals, |context| files::edit(context, command)),
        Command::History(command) => on_client(globals, |context| history::run(context, command)),
        Command::Audit(args) => {
            let labels = audit::Labels {
                agent: globals.agent.clone(),
                session: globals.session.clone(),
            };
            on_client(globals, |context| audit::run(context, args, labels))
        }
        Command::Txn(args) => on_client(globals, |context| txn::run(context, args)),
        Command::Redact(args) => on_client(globals, |context| redact::run(context, args)),
        Command::Cluster(command) => on_client(globals, |context| cluster::run(context, command)),
    }
}

/// What a client command runs with.
pub struct Context {
    pub client: Client,
    /// `--json`: print the answer as the server sent it.
    pub json: bool,
    pub timeout_ms: u64,
}

impl Context {
    fn new(globals: &GlobalArgs) -> Result<Context, Failure> {
        let url = match globals.url.as_slice() {
            [url] => url,
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
        let mut client = Client::new(url)?.with_timeout(Duration::from_millis(globals.timeout_ms));
        if let Some(ca_file) = &globals.ca_file {
            // An unusable CA file is a mistake on this side, like a bad flag.
            client = client
                .with_ca_file(ca_file)
                .map_err(|error| Failure::usage("tls", error.detail()))?;
        }
        if let Some(agent) = &globals.agent {
            client = client.with_agent(agent.clone());
        }
        if let Some(session) = &globals.session {
            client = client.with_session(session.clone());
        }
        if let Some(consistency) = globals.consistency {
            client = client.with_consistency(consistency.into());
        }
        if let Some(token) = token(globals)? {
            client = client.with_token(token);
        }
        if let Some(org) = &globals.org {
            client = client.with_org(org.clone());
        }
        Ok(Context {
            client,
            json: globals.json,
            timeout_ms: globals.timeout_ms,
        })
    }

    /// The answer as pretty JSON with `--json`, else its human form.
    pub fn show<T: Serialize>(
        &self,
        value: &T,
        human: impl FnOnce(&T) -> String,
    ) -> Result<Vec<u8>, Failure> {
        if self.json {
            render::json(value)
        } else {
            Ok(human(value).into_bytes())
        }
    }
}

/// Where `cairn serve` with the default config keeps the operator's token.
const LOCAL_ADMIN_TOKEN: &str = "./cairn-data/admin.token";

/// `--token` / `CAIRN_TOKEN`, else the local node's operator token if this
/// directory holds one (so the README's local run needs no setup).
pub fn token(globals: &GlobalArgs) -> Result<Option<String>, Failure> {
    if let Some(token) = &globals.token {
        return Ok(Some(token.clone()));
    }
    match std::fs::read_to_string(LOCAL_ADMIN_TOKEN) {
        Ok(token) => Ok(Some(token.trim().to_string())),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(Failure::usage(
            "io",
            format!("read {LOCAL_ADMIN_TOKEN}: {error}"),
        )),
    }
}

/// Runs one client command on a single-threaded runtime: it sends its
/// requests one after another (`cluster status` overlaps a few, which one
/// thread serves well).
fn on_client<F, Fut>(globals: &GlobalArgs, command: F) -> Result<Vec<u8>, Failure>
where
    F: FnOnce(Context) -> Fut,
    Fut: Future<Output = Result<Vec<u8>, Failure>>,
{
    let context = Context::new(globals)?;
    runtime(Threads::One)
        .map_err(Failure::Runtime)?
        .block_on(command(context))
}

/// How many worker threads a command's runtime has.
pub enum Threads {
    /// The calling thread only: client commands.
    One,
    /// One per core: `serve`, and `bench`, whose clients must not share one
    /// thread with each other and with the progress printer.
    PerCore,
}

/// The tokio runtime every command runs on, with I/O and timers enabled.
pub fn runtime(threads: Threads) -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = match threads {
        Threads::One => tokio::runtime::Builder::new_current_thread(),
        Threads::PerCore => tokio::runtime::Builder::new_multi_thread(),
    };
    builder.enable_all().build()
}

/// Reads `path`, or standard input for `-` / `None`, as bytes.
pub fn read_input(path: Option<&Path>) -> Result<Vec<u8>, Failure> {
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
