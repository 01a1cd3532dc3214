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
    /// The node to talk to.
    #[arg(long, global = true, env = "CAIRN_URL", default_value = URL_DEFAULT)]
    pub url: String,

    /// Agent id recorded with every change (`X-Cairn-Agent`).
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

    #[command(subcommand)]
    pub command: Command,
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
    },

    /// Replace the one occurrence of OLD with NEW in a file.
    Replace {
        store: String,
        path: String,
        old: String,
        new: String,
        #[arg(long)]
        if_version: Option<u64>,
    },

    /// Insert TEXT as whole lines before 0-based LINE (the line count appends).
    Insert {
        store: String,
        path: String,
        line: u64,
        text: String,
        #[arg(long)]
        if_version: Option<u64>,
    },

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

    /// Show the store's audit log, oldest first.
    Audit {
        store: String,
        /// Only records after this store revision.
        #[arg(long)]
        after: Option<u64>,
        #[arg(long)]
        limit: Option<u64>,
    },

    /// Apply a JSON transaction ({"ops":[…]}) from FILE, or `-` for standard input.
    Txn {
        store: String,
        file: PathBuf,
        #[arg(long)]
        idempotency_key: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Create an empty store.
    Create { name: String },
    /// List every store.
    List,
    /// Show one store.
    Get { name: String },
    /// Delete a store and every file in it.
    Delete { name: String },
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
        assert!(cli.json);
        assert_eq!(cli.url, "http://h:1");
        assert!(matches!(
            cli.command,
            Command::Cat {
                version: Some(3),
                revision: None,
                ..
            }
        ));
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
