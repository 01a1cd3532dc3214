//! The command line, as clap derive types. Defaults live here and nowhere else.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// Where client commands go unless `--url` or `CAIRN_URL` says otherwise.
pub const URL_DEFAULT: &str = "http://127.0.0.1:7700";

#[derive(Debug, Parser)]
#[command(
    name = "cairn",
    version,
    about = "Cairn: a versioned, replicated memory store for AI agents",
    after_help = "Exit codes: 0 success, 1 the server refused the request (4xx), \
                  2 usage error, 3 node unreachable, timed out or unavailable (5xx)."
)]
pub struct Cli {
    #[command(flatten)]
    pub globals: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

/// The flags every command takes, anywhere on the line.
#[derive(Clone, Debug, clap::Args)]
pub struct GlobalArgs {
    /// The node to talk to. `cairn bench` takes several (repeat the flag or
    /// separate them with commas) and spreads its clients over them.
    #[arg(
        long,
        global = true,
        env = "CAIRN_URL",
        default_value = URL_DEFAULT,
        value_delimiter = ',',
        action = clap::ArgAction::Append
    )]
    pub url: Vec<String>,

    /// The API token (`Authorization: Bearer`). Without one, a local node's
    /// operator token in `./cairn-data/admin.token` is used if it is there.
    #[arg(long, global = true, env = "CAIRN_TOKEN", hide_env_values = true)]
    pub token: Option<String>,

    /// The organization store names resolve in (`X-Cairn-Org`); by default
    /// the token's own (the operator's: `default`).
    #[arg(long, global = true, env = "CAIRN_ORG")]
    pub org: Option<String>,

    /// Agent id recorded with every change (`X-Cairn-Agent`). With `token
    /// create`: the agent the new token is bound to.
    #[arg(long, global = true, env = "CAIRN_AGENT")]
    pub agent: Option<String>,

    /// Session id recorded with every change (`X-Cairn-Session`).
    #[arg(long, global = true, env = "CAIRN_SESSION")]
    pub session: Option<String>,

    /// How fresh reads must be; the server's default is linearizable.
    #[arg(long, global = true, value_enum, env = "CAIRN_CONSISTENCY")]
    pub consistency: Option<ConsistencyArg>,

    /// Print the JSON response instead of the human-readable form.
    #[arg(long, global = true)]
    pub json: bool,

    /// How long one request may take, in milliseconds.
    #[arg(long, global = true, env = "CAIRN_TIMEOUT_MS", default_value_t = cairn_client::REQUEST_TIMEOUT_MS_DEFAULT)]
    pub timeout_ms: u64,

    /// A PEM file of the CA that signed the nodes' certificates, trusted (in
    /// place of the public roots) for https:// URLs.
    #[arg(long, global = true, env = "CAIRN_CA_FILE")]
    pub ca_file: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ConsistencyArg {
    Linearizable,
    Stale,
}

impl From<ConsistencyArg> for cairn_client::Consistency {
    fn from(value: ConsistencyArg) -> Self {
        match value {
            ConsistencyArg::Linearizable => cairn_client::Consistency::Linearizable,
            ConsistencyArg::Stale => cairn_client::Consistency::Stale,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a node until Ctrl-C or SIGTERM.
    Serve {
        /// The node's TOML config file.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Overrides the config's data_dir.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Overrides the config's HTTP listen address (host:port).
        #[arg(long)]
        listen: Option<String>,
    },

    /// Create, list, show or delete stores.
    #[command(subcommand)]
    Store(StoreCommand),

    /// Organizations (the operator's).
    #[command(subcommand)]
    Org(OrgCommand),

    /// Users of an organization.
    #[command(subcommand)]
    User(UserCommand),

    /// API tokens: create (shown once), list, revoke.
    #[command(subcommand)]
    Token(TokenCommand),

    /// Give USER read, write or admin access to STORE.
    Grant {
        store: String,
        user: String,
        access: AccessArg,
    },

    /// Remove USER's grant on STORE (the store's default applies again).
    RevokeGrant { store: String, user: String },

    /// Show who the token belongs to.
    Whoami,

    /// Put files back as they were, as one new change: a file to a version
    /// (--path P --to-version V), a subtree or the store to a revision
    /// ([--path DIR] --to-revision R), or everything a session or agent
    /// wrote (the global --session S / --agent A name it here, and the
    /// rollback itself is not attributed to it).
    Rollback(RollbackArgs),

    // ls, cat, stat, put, rm, then mv, replace, insert: listed in `cairn
    // --help` as if they were declared here.
    #[command(flatten)]
    Files(FileCommand),

    #[command(flatten)]
    Edit(EditCommand),

    // log and diff.
    #[command(flatten)]
    History(HistoryCommand),

    /// Show audit events (of STORE, or of every store the token may see),
    /// or `audit verify STORE`.
    Audit(AuditArgs),

    /// Form a cluster, change its members, and show their state.
    #[command(subcommand)]
    Cluster(ClusterCommand),

    /// Generate load: CAS writes and linearizable reads, against one or more --url.
    Bench(BenchArgs),

    /// Show the results of several `cairn bench --json` runs side by side.
    BenchReport {
        /// Files written by `cairn bench --json` (e.g. one for Cairn, one for etcd).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Print Cairn against etcd as one Markdown table (ratios, p99,
        /// errors); `--json` takes precedence.
        #[arg(long)]
        markdown: bool,
    },

    /// Apply a JSON transaction ({"ops":[…]}) from FILE, or `-` for standard input.
    Txn(TxnArgs),

    /// Write STORE as one archive FILE (docs/export.md): every version with
    /// its content and attribution, the audit events and their chain,
    /// redaction marks. The file appears only once it is whole and checked.
    Export { store: String, file: PathBuf },

    /// Restore an archive into a new store (STORE, or the archive's name):
    /// the whole archive is checked before anything is sent, and nothing of
    /// it stays if any part is refused.
    Import {
        file: PathBuf,
        store: Option<String>,
    },

    /// Remove content for good, from every replica's disk: one version of PATH
    /// (`--version`), or a literal `--string` from every version under `--path`.
    Redact(RedactArgs),

    /// Write STORE's files into DIR (absent or empty) and remember each
    /// file's version in DIR/.cairn/checkout.json.
    Checkout { store: String, dir: PathBuf },

    /// List a checkout's local changes: added, modified, deleted (by content
    /// hash), conflict copies, and files the store cannot hold.
    Status { dir: PathBuf },

    /// Send every local change of a checkout as one transaction; if someone
    /// else changed any of those files meanwhile, nothing is applied, every
    /// such path is named, and the exit code is 1.
    Commit {
        dir: PathBuf,
        /// Why: kept with the change in the audit trail.
        #[arg(short, long)]
        message: Option<String>,
    },

    /// Bring the server's changes into a checkout. A file changed on both
    /// sides keeps the local content; the server's is written beside it as
    /// NAME.conflict-VERSION.
    Pull { dir: PathBuf },

    /// Import a plain folder (a Claude /memories directory, a Letta memory
    /// folder, any Markdown tree) into STORE, created if absent, in
    /// transactions of bounded size.
    ImportDir(ImportDirArgs),

    /// Write STORE's files as of one revision into DIR (absent or empty).
    ExportDir { store: String, dir: PathBuf },

    /// Follow STORE's changes as they are applied, one line each (`--json`:
    /// one JSON object per line), reconnecting after the last change seen.
    Watch(WatchArgs),

    /// Print the lines of STORE's files that contain PATTERN (a regular
    /// expression with --regex), under PREFIX, as PATH:LINE:TEXT.
    Grep(GrepArgs),
}

#[derive(Debug, clap::Args)]
pub struct ImportDirArgs {
    pub dir: PathBuf,
    pub store: String,
    /// Replace files that already exist in the store (by default a file that
    /// exists stops the import, having changed nothing in that transaction).
    #[arg(long)]
    pub overwrite: bool,
    /// Import the files the store can hold and list the others, instead of
    /// importing nothing when some cannot be stored.
    #[arg(long)]
    pub skip_unstorable: bool,
    /// Most files per transaction (the server's `txn_ops_max` by default).
    #[arg(long, default_value_t = IMPORT_TXN_OPS_MAX_DEFAULT, value_parser = clap::value_parser!(u64).range(1..))]
    pub txn_ops_max: u64,
    /// Most bytes of JSON per transaction (the server's `request_bytes_max`
    /// by default); a larger single file goes alone.
    #[arg(long, default_value_t = IMPORT_TXN_BYTES_MAX_DEFAULT, value_parser = clap::value_parser!(u64).range(1..))]
    pub txn_bytes_max: u64,
}

/// `import-dir`'s transaction bounds: the server's default limits.
pub const IMPORT_TXN_OPS_MAX_DEFAULT: u64 = 256;
pub const IMPORT_TXN_BYTES_MAX_DEFAULT: u64 = 4 * 1024 * 1024;

/// `cairn watch`.
#[derive(Debug, clap::Args)]
pub struct WatchArgs {
    pub store: String,
    /// Start at this revision (default: only changes from now on).
    #[arg(long = "from")]
    pub from_revision: Option<u64>,
    /// Stop after the change at this revision.
    #[arg(long = "until")]
    pub until_revision: Option<u64>,
    /// Stop after this many changes.
    #[arg(long)]
    pub limit: Option<u64>,
    /// Reconnect when nothing (not even a heartbeat) came for this long, in
    /// milliseconds.
    #[arg(long, default_value_t = 60_000)]
    pub idle_timeout_ms: u64,
    /// Give up after this many failed connection attempts in a row.
    #[arg(long, default_value_t = 30)]
    pub retries: u32,
}

/// `cairn grep`.
#[derive(Debug, clap::Args)]
pub struct GrepArgs {
    pub store: String,
    pub pattern: String,
    /// Only files under this directory.
    pub prefix: Option<String>,
    /// PATTERN is a regular expression (Rust `regex` syntax).
    #[arg(long)]
    pub regex: bool,
    /// Search the files as they were at this store revision.
    #[arg(long)]
    pub revision: Option<u64>,
    /// Matches per request (the server's default when absent).
    #[arg(long)]
    pub page_size: Option<u64>,
    /// Stop after this many matches.
    #[arg(long)]
    pub max_count: Option<u64>,
}

/// The commands on files of a store (flattened into [`Command`]).
#[derive(Debug, Subcommand)]
pub enum FileCommand {
    /// List a directory (default: the whole store).
    Ls {
        store: String,
        #[arg(default_value = "/")]
        dir: String,
        /// 1 lists direct children only; default: the whole subtree.
        #[arg(long)]
        depth: Option<u64>,
        /// List the state as of this store revision.
        #[arg(long)]
        revision: Option<u64>,
    },

    /// Print a file's content exactly as stored.
    Cat {
        store: String,
        path: String,
        /// Read this version of the file.
        #[arg(long, conflicts_with = "revision")]
        version: Option<u64>,
        /// Read the file as of this store revision.
        #[arg(long)]
        revision: Option<u64>,
    },

    /// Show a file's metadata.
    Stat {
        store: String,
        path: String,
        #[arg(long, conflicts_with = "revision")]
        version: Option<u64>,
        #[arg(long)]
        revision: Option<u64>,
    },

    /// Write a file from --file or standard input (UTF-8 text).
    Put {
        store: String,
        path: String,
        /// Read the content from this file instead of standard input.
        #[arg(long)]
        file: Option<PathBuf>,
        /// Write only if the file is at this version.
        #[arg(long, conflicts_with = "if_absent")]
        if_version: Option<u64>,
        /// Write only if the file does not exist.
        #[arg(long)]
        if_absent: bool,
        /// Retrying with the same key applies the write once.
        #[arg(long)]
        idempotency_key: Option<String>,
    },

    /// Delete a file, or with --recursive a directory subtree.
    Rm {
        store: String,
        path: String,
        #[arg(long, short)]
        recursive: bool,
        #[arg(long)]
        if_version: Option<u64>,
        #[arg(long)]
        idempotency_key: Option<String>,
    },
}

/// The commands that edit a file in place or move it, each a one-operation
/// transaction (flattened into [`Command`]).
#[derive(Debug, Subcommand)]
pub enum EditCommand {
    /// Move a file.
    Mv {
        store: String,
        from: String,
        to: String,
        /// Replace an existing destination.
        #[arg(long)]
        overwrite: bool,
        /// Move only if the source is at this version.
        #[arg(long)]
        if_version: Option<u64>,
        /// Retrying with the same key applies the change once.
        #[arg(long)]
        idempotency_key: Option<String>,
    },

    /// Replace the one occurrence of OLD with NEW in a file.
    Replace {
        store: String,
        path: String,
        old: String,
        new: String,
        #[arg(long)]
        if_version: Option<u64>,
        /// Retrying with the same key applies the change once.
        #[arg(long)]
        idempotency_key: Option<String>,
    },

    /// Insert TEXT as whole lines before 0-based LINE (the line count appends).
    Insert {
        store: String,
        path: String,
        line: u64,
        text: String,
        #[arg(long)]
        if_version: Option<u64>,
        /// Retrying with the same key applies the change once.
        #[arg(long)]
        idempotency_key: Option<String>,
    },
}

/// The commands on a file's past (flattened into [`Command`]).
#[derive(Debug, Subcommand)]
pub enum HistoryCommand {
    /// Show a file's versions, newest first.
    Log {
        store: String,
        path: String,
        #[arg(long)]
        limit: Option<u64>,
        /// Only versions older than this one.
        #[arg(long)]
        before: Option<u64>,
        /// Print each version's content too.
        #[arg(long)]
        content: bool,
    },

    /// Show a unified diff between two versions of a file.
    Diff {
        store: String,
        path: String,
        from: u64,
        to: u64,
    },
}

/// `cairn audit [STORE] [filters]` and `cairn audit verify STORE`. The
/// global `--agent` and `--session` are this command's agent and session
/// filters (a read is attributed to no one, so they have nothing else to
/// do here); `--token` stays the API token, so the token filter is
/// `--token-id`.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct AuditArgs {
    #[command(subcommand)]
    pub command: Option<AuditCommand>,
    /// The store; without one, every store (and organization event) the
    /// token may see. A deleted store's events come under its name here too.
    pub store: Option<String>,
    /// Only events that changed this file or a path under this directory
    /// (needs STORE).
    #[arg(long)]
    pub path: Option<String>,
    /// Only events of this principal: `operator` or `ORG/USER`.
    #[arg(long)]
    pub principal: Option<String>,
    /// Only events under this token id.
    #[arg(long)]
    pub token_id: Option<String>,
    /// Only events at or after this time: RFC 3339 or milliseconds since the epoch.
    #[arg(long)]
    pub since: Option<String>,
    /// Only events at or before this time: RFC 3339 or milliseconds since the epoch.
    #[arg(long)]
    pub until: Option<String>,
    /// Only events at or after this store revision (needs STORE).
    #[arg(long)]
    pub from_revision: Option<u64>,
    /// Only events at or before this store revision (needs STORE).
    #[arg(long)]
    pub to_revision: Option<u64>,
    /// Only events after this position (the `--after` a previous page printed;
    /// an event's `position` in `--json`).
    #[arg(long)]
    pub after: Option<u64>,
    #[arg(long)]
    pub limit: Option<u64>,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Recompute STORE's hash chain: ok with its length and head hash, or the
    /// first break (exit code 1).
    Verify { store: String },
}

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["version", "string"])))]
pub struct RedactArgs {
    pub store: String,
    /// The file whose `--version` to redact.
    #[arg(requires = "version", conflicts_with = "string")]
    pub path: Option<String>,
    #[arg(long, requires = "path")]
    pub version: Option<u64>,
    /// The literal text to remove from every version of every matching file.
    #[arg(long)]
    pub string: Option<String>,
    /// With `--string`: only files whose path starts with PREFIX.
    #[arg(long = "path", value_name = "PREFIX", requires = "string")]
    pub path_prefix: Option<String>,
    /// Why (kept in the audit trail).
    #[arg(long)]
    pub reason: String,
}

#[derive(Debug, clap::Args)]
pub struct TxnArgs {
    pub store: String,
    pub file: PathBuf,
    #[arg(long)]
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// Make the --url node a one-member cluster (does nothing if it already is in one).
    Init,

    /// Add a node as a learner: give its URL, or its id and addresses.
    #[command(group(
        clap::ArgGroup::new("describe").args(["node_url", "node_id"]).required(true)
    ))]
    AddLearner {
        /// The new node's HTTP URL; its id, addresses and tags are read from
        /// its /v1/admin/status.
        node_url: Option<String>,
        /// The new node's id (instead of NODE_URL).
        #[arg(long, requires_all = ["raft_addr", "api_addr"], conflicts_with = "node_url")]
        node_id: Option<u64>,
        /// The new node's Raft address, host:port.
        #[arg(long, requires = "node_id")]
        raft_addr: Option<String>,
        /// The new node's HTTP address, host:port.
        #[arg(long, requires = "node_id")]
        api_addr: Option<String>,
        /// A label such as region=eu-west; repeatable.
        #[arg(long = "tag", value_name = "KEY=VALUE", requires = "node_id", value_parser = parse_tag)]
        tags: Vec<(String, String)>,
    },

    /// Make a learner a voter.
    Promote { node_id: u64 },

    /// Remove a voter or a learner from the cluster.
    Remove { node_id: u64 },

    /// Show every member as it sees itself: role, term, applied index, lag.
    Status {
        /// How long to wait for each member's answer, in milliseconds.
        #[arg(long, default_value_t = MEMBER_TIMEOUT_MS_DEFAULT)]
        member_timeout_ms: u64,
    },
}

/// How long `cluster status` waits for each member.
pub const MEMBER_TIMEOUT_MS_DEFAULT: u64 = 1_500;

fn parse_tag(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_string(), value.to_string())),
        _ => Err(format!("{text:?} is not KEY=VALUE")),
    }
}

/// What `cairn bench` runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BenchTarget {
    /// Cairn's HTTP API.
    Cairn,
    /// etcd's v3 JSON gateway (`/v3/kv/range`, `/v3/kv/txn`), for comparison.
    Etcd,
}

/// Which phases `cairn bench` runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BenchWorkload {
    /// Compare-and-set writes: read the version, write if unchanged.
    Cas,
    /// Linearizable reads of pre-written files.
    Read,
    /// The CAS phase, then the read phase.
    Both,
}

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Concurrent clients; a list (1,16,64) runs each count in turn.
    #[arg(long, value_delimiter = ',', default_value = "16", value_parser = clap::value_parser!(u64).range(1..=4096))]
    pub clients: Vec<u64>,
    /// How long each phase runs, in seconds.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub duration: u64,
    #[arg(long, value_enum, default_value_t = BenchWorkload::Both)]
    pub workload: BenchWorkload,
    /// Size of every value written, in bytes.
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..=1_048_576))]
    pub value_bytes: u64,
    /// Distinct files (keys); default: one per client. 1 makes a contended counter.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub files: Option<u64>,
    /// The store the files live in (created if absent; ignored for etcd).
    #[arg(long, default_value = "bench")]
    pub store: String,
    /// Spread the files over this many stores, STORE-00000 and on (made if
    /// absent; Cairn only).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub stores: u64,
    /// Each client moves to its next file after every operation (client c
    /// of n takes files c, c+n, …) instead of working on one file.
    #[arg(long)]
    pub spread: bool,
    #[arg(long, value_enum, default_value_t = BenchTarget::Cairn)]
    pub target: BenchTarget,
}

#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Create an empty store: organization-scoped (members read, admins
    /// write), or with --owner user-scoped (only its owner sees it).
    Create {
        name: String,
        /// The user who owns the store.
        #[arg(long)]
        owner: Option<String>,
    },
    /// List the stores you can see.
    List,
    /// Set the store's retention and quota (replacing what was set; an
    /// option left out is off).
    Policy {
        name: String,
        /// Keep at most this many versions of each file.
        #[arg(long)]
        versions_max: Option<u64>,
        /// Keep versions younger than this many seconds.
        #[arg(long)]
        retain_seconds: Option<u64>,
        /// The most bytes of live content the store may hold.
        #[arg(long)]
        bytes_max: Option<u64>,
    },
    /// Show one store.
    Get { name: String },
    /// Delete a store and every file in it.
    Delete { name: String },
}

#[derive(Debug, clap::Args)]
pub struct RollbackArgs {
    pub store: String,
    /// A file (with --to-version) or a directory (with --to-revision).
    #[arg(long)]
    pub path: Option<String>,
    #[arg(long, conflicts_with = "to_revision")]
    pub to_version: Option<u64>,
    #[arg(long)]
    pub to_revision: Option<u64>,
    /// Undo a session's or agent's changes even where others changed the same files since.
    #[arg(long)]
    pub force: bool,
    /// Only show what would change.
    #[arg(long)]
    pub dry_run: bool,
    /// Retrying with the same key applies the rollback once.
    #[arg(long)]
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Create an organization.
    Create { name: String },
    /// List organizations (the operator sees every one).
    List,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user in ORG.
    Create {
        org: String,
        user: String,
        #[arg(long, value_enum, default_value = "member")]
        role: RoleArg,
    },
    /// List ORG's users.
    List { org: String },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Make a token for USER and print it (this is the only time it is shown).
    /// `--agent ID` binds it: every write under it is attributed to ID.
    Create {
        org: String,
        user: String,
        /// The token stops working this many seconds from now.
        #[arg(long)]
        expires_in: Option<u64>,
    },
    /// List USER's tokens (never their secrets).
    List { org: String, user: String },
    /// Revoke a token by its id; it stops working on every node.
    Revoke { id: String },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum RoleArg {
    Admin,
    Member,
}

impl From<RoleArg> for cairn_client::Role {
    fn from(value: RoleArg) -> Self {
        match value {
            RoleArg::Admin => cairn_client::Role::Admin,
            RoleArg::Member => cairn_client::Role::Member,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum AccessArg {
    Read,
    Write,
    Admin,
}

impl From<AccessArg> for cairn_client::Access {
    fn from(value: AccessArg) -> Self {
        match value {
            AccessArg::Read => cairn_client::Access::Read,
            AccessArg::Write => cairn_client::Access::Write,
            AccessArg::Admin => cairn_client::Access::Admin,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_flags_go_anywhere() {
        let cli = Cli::try_parse_from([
            "cairn",
            "cat",
            "notes",
            "/a.md",
            "--json",
            "--version",
            "3",
            "--url",
            "http://h:1",
        ])
        .unwrap();
        assert!(cli.globals.json);
        assert_eq!(cli.globals.url, ["http://h:1"]);
        assert!(matches!(
            cli.command,
            Command::Files(FileCommand::Cat {
                version: Some(3),
                revision: None,
                ..
            })
        ));
    }

    #[test]
    fn add_learner_takes_a_url_or_explicit_addresses() {
        let cli = Cli::try_parse_from(["cairn", "cluster", "add-learner", "http://127.0.0.1:7710"])
            .unwrap();
        assert!(matches!(
            cli.command,
            Command::Cluster(ClusterCommand::AddLearner {
                node_url: Some(_),
                node_id: None,
                ..
            })
        ));

        let cli = Cli::try_parse_from([
            "cairn",
            "cluster",
            "add-learner",
            "--node-id",
            "2",
            "--raft-addr",
            "h:1",
            "--api-addr",
            "h:2",
            "--tag",
            "region=eu",
            "--tag",
            "rack=a=b",
        ])
        .unwrap();
        let Command::Cluster(ClusterCommand::AddLearner { node_id, tags, .. }) = cli.command else {
            panic!("not add-learner");
        };
        assert_eq!(node_id, Some(2));
        assert_eq!(
            tags,
            [
                ("region".to_string(), "eu".to_string()),
                ("rack".to_string(), "a=b".to_string())
            ]
        );

        for bad in [
            &["cairn", "cluster", "add-learner"][..],
            &["cairn", "cluster", "add-learner", "--node-id", "2"],
            &[
                "cairn",
                "cluster",
                "add-learner",
                "http://h:1",
                "--node-id",
                "2",
                "--raft-addr",
                "a:1",
                "--api-addr",
                "a:2",
            ],
            &[
                "cairn",
                "cluster",
                "add-learner",
                "--node-id",
                "2",
                "--raft-addr",
                "a:1",
                "--api-addr",
                "a:2",
                "--tag",
                "novalue",
            ],
        ] {
            assert!(Cli::try_parse_from(bad).is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn bench_flags() {
        let cli = Cli::try_parse_from([
            "cairn",
            "bench",
            "--clients",
            "1,16,64",
            "--url",
            "http://a:1",
            "--url",
            "http://b:1,http://c:1",
            "--workload",
            "cas",
            "--target",
            "etcd",
        ])
        .unwrap();
        assert_eq!(cli.globals.url, ["http://a:1", "http://b:1", "http://c:1"]);
        let Command::Bench(args) = cli.command else {
            panic!("not bench");
        };
        assert_eq!(args.clients, [1, 16, 64]);
        assert_eq!(args.duration, 10);
        assert_eq!(args.value_bytes, 1024);
        assert_eq!(args.files, None);
        assert_eq!(args.store, "bench");
        assert_eq!(args.stores, 1);
        assert!(!args.spread);
        assert_eq!(args.workload, BenchWorkload::Cas);
        assert_eq!(args.target, BenchTarget::Etcd);

        let cli = Cli::try_parse_from(["cairn", "bench"]).unwrap();
        assert_eq!(cli.globals.url, [URL_DEFAULT]);
        let Command::Bench(args) = cli.command else {
            panic!("not bench");
        };
        assert_eq!(
            (args.clients.as_slice(), args.workload),
            (&[16][..], BenchWorkload::Both)
        );

        assert!(Cli::try_parse_from(["cairn", "bench", "--clients", "0"]).is_err());
        assert!(Cli::try_parse_from(["cairn", "bench", "--duration", "0"]).is_err());
    }

    #[test]
    fn conflicting_flags_are_usage_errors() {
        let error = Cli::try_parse_from([
            "cairn",
            "cat",
            "s",
            "/a",
            "--version",
            "1",
            "--revision",
            "2",
        ])
        .unwrap_err();
        assert_eq!(error.exit_code(), 2);
        let error = Cli::try_parse_from([
            "cairn",
            "put",
            "s",
            "/a",
            "--if-version",
            "1",
            "--if-absent",
        ])
        .unwrap_err();
        assert_eq!(error.exit_code(), 2);
    }
}
