//! One `run` per command family; this module picks the family and gives it
//! what every client command shares: a configured [`Client`], the output
//! mode, and a runtime.

mod access;
mod audit;
mod bench;
mod checkout;
pub mod cluster;
mod export;
mod files;
mod folder;
mod history;
mod redact;
mod search;
mod serve;
mod store;
mod txn;
mod watch;

use std::future::Future;
use std::io::Read;
use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use cairn_client::Client;

use crate::cli::{Cli, Command, GlobalArgs, URL_DEFAULT};
use crate::exit::Failure;
use crate::folder::state::CheckoutState;
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
        Command::Bench(args) => bench::run(
            &args,
            &globals.url,
            token(globals)?,
            globals.ca_file.as_deref(),
            json,
        ),
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
        Command::Export { store, file } => {
            on_client(globals, |context| export::export(context, store, file))
        }
        Command::Import { file, store } => {
            on_client(globals, |context| export::import(context, file, store))
        }
        Command::Cluster(command) => on_client(globals, |context| cluster::run(context, command)),
        Command::Watch(args) => on_client(globals, |context| watch::run(context, args)),
        Command::Grep(args) => on_client(globals, |context| search::grep(context, args)),
        Command::Checkout { store, dir } => {
            let (url, org) = (node_url(globals)?, globals.org.clone());
            on_client(globals, |context| {
                checkout::checkout(context, store, dir, url, org)
            })
        }
        Command::Status { dir } => {
            let state = CheckoutState::require(&dir)?;
            checkout::status(&Context::new(&checkout_globals(globals, &state)?)?, &dir)
        }
        Command::Commit { dir, message } => {
            let state = CheckoutState::require(&dir)?;
            on_client(&checkout_globals(globals, &state)?, |context| {
                checkout::commit(context, dir, state, message)
            })
        }
        Command::Pull { dir } => {
            let state = CheckoutState::require(&dir)?;
            on_client(&checkout_globals(globals, &state)?, |context| {
                checkout::pull(context, dir, state)
            })
        }
        Command::ImportDir(args) => on_client(globals, |context| folder::import_dir(context, args)),
        Command::ExportDir { store, dir } => {
            on_client(globals, |context| folder::export_dir(context, store, dir))
        }
    }
}

/// The one node a client command talks to.
fn node_url(globals: &GlobalArgs) -> Result<String, Failure> {
    match globals.url.as_slice() {
        [url] => Ok(url.clone()),
        urls => Err(Failure::usage(
            "usage",
            format!(
                "{} URLs given; only `cairn bench` takes more than one --url",
                urls.len()
            ),
        )),
    }
}

/// A checkout's commands go to the node and organization it was made from,
/// unless `--url` (another node of the cluster) is given; `--org` may not
/// name another organization.
fn checkout_globals(globals: &GlobalArgs, state: &CheckoutState) -> Result<GlobalArgs, Failure> {
    let mut globals = globals.clone();
    if globals.url == [URL_DEFAULT] {
        globals.url = vec![state.url.clone()];
    }
    match (&globals.org, &state.org) {
        (Some(given), Some(checked_out)) if given != checked_out => {
            return Err(Failure::usage(
                "usage",
                format!("the checkout is of organization {checked_out}, not {given}"),
            ));
        }
        (Some(given), None) => {
            return Err(Failure::usage(
                "usage",
                format!(
                    "the checkout was made without --org (the token's own organization), \
                     not {given}"
                ),
            ));
        }
        _ => globals.org = state.org.clone(),
    }
    Ok(globals)
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
        let url = node_url(globals)?;
        let mut client = Client::new(&url)?.with_timeout(Duration::from_millis(globals.timeout_ms));
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

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    fn globals(args: &[&str]) -> GlobalArgs {
        // `--url` given as the default is the same as not given (and keeps
        // a CAIRN_URL in the environment out of the test).
        let mut line = vec!["cairn"];
        if !args.contains(&"--url") {
            line.extend_from_slice(&["--url", URL_DEFAULT]);
        }
        line.extend_from_slice(args);
        line.extend_from_slice(&["status", "dir"]);
        Cli::try_parse_from(line).unwrap().globals
    }

    #[test]
    fn a_checkout_goes_to_its_node_and_organization_unless_told_otherwise() {
        let mut state = CheckoutState::new("http://node-a:7700".into(), None, "notes".into(), 3);
        let plain = checkout_globals(&globals(&[]), &state).unwrap();
        assert_eq!(plain.url, ["http://node-a:7700"]);
        assert_eq!(plain.org, None);
        let other_node = checkout_globals(&globals(&["--url", "http://node-b:7700"]), &state);
        assert_eq!(other_node.unwrap().url, ["http://node-b:7700"]);
        // Made without --org: another organization is refused.
        let refused = checkout_globals(&globals(&["--org", "acme"]), &state).unwrap_err();
        assert_eq!(refused.exit_code(), crate::exit::EXIT_USAGE);

        state.org = Some("acme".into());
        assert_eq!(
            checkout_globals(&globals(&[]), &state)
                .unwrap()
                .org
                .as_deref(),
            Some("acme")
        );
        assert!(checkout_globals(&globals(&["--org", "acme"]), &state).is_ok());
        assert!(checkout_globals(&globals(&["--org", "globex"]), &state).is_err());
    }
}
