//! Exit codes, and what a failed command prints.
//!
//! 0 success; 1 the server refused the request (a 4xx problem) or `cairn
//! serve` stopped with an error; 2 usage error (bad flags, unreadable input
//! file); 3 the node could not answer (unreachable, timed out, 5xx such as
//! `unavailable`).

use std::io::Write;
use std::process::ExitCode;

use cairn_client::ClientError;

use crate::bench;

pub const EXIT_REFUSED: u8 = 1;
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_UNAVAILABLE: u8 = 3;
/// `cairn serve` could not start or stopped with an error.
pub const EXIT_SERVE_FAILED: u8 = 1;

/// Why a command failed, and so which exit code it gets.
#[derive(Debug)]
pub enum Failure {
    Client(ClientError),
    /// Bad local input: an unreadable file, a transaction that is not JSON.
    Usage {
        code: &'static str,
        detail: String,
    },
    /// `cairn bench` could not set up or run (a node down, a store refused).
    Bench(bench::OpError),
    /// The tokio runtime of a client command could not start.
    Runtime(std::io::Error),
    /// `cairn serve` could not start or stopped with an error.
    Serve(anyhow::Error),
    /// A check found a fault (`cairn audit verify`: a broken chain); the
    /// text says where.
    Broken(String),
    /// The command refused to go on, having changed nothing on the server:
    /// a commit whose files someone else changed (`version_conflict`, every
    /// path named), local files the store cannot hold, unresolved conflict
    /// copies.
    Refused {
        code: &'static str,
        detail: String,
    },
}

impl From<ClientError> for Failure {
    fn from(error: ClientError) -> Self {
        Failure::Client(error)
    }
}

impl Failure {
    pub fn usage(code: &'static str, detail: impl Into<String>) -> Failure {
        Failure::Usage {
            code,
            detail: detail.into(),
        }
    }

    pub fn refused(code: &'static str, detail: impl Into<String>) -> Failure {
        Failure::Refused {
            code,
            detail: detail.into(),
        }
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Usage { .. } => EXIT_USAGE,
            Failure::Client(ClientError::InvalidUrl(_) | ClientError::InvalidHeader(_)) => {
                EXIT_USAGE
            }
            Failure::Client(error) if error.is_client_error() => EXIT_REFUSED,
            Failure::Client(_) | Failure::Bench(_) | Failure::Runtime(_) => EXIT_UNAVAILABLE,
            Failure::Serve(_) => EXIT_SERVE_FAILED,
            Failure::Broken(_) | Failure::Refused { .. } => EXIT_REFUSED,
        }
    }

    fn report(&self) {
        let line = match self {
            Failure::Client(error) => format!("error: {}: {}", error.code(), error.detail()),
            Failure::Usage { code, detail } => format!("error: {code}: {detail}"),
            Failure::Bench(error) => format!("error: {}: {}", error.code, error.detail),
            Failure::Runtime(error) => format!("error: start the tokio runtime: {error}"),
            Failure::Serve(error) => format!("error: {error:#}"),
            Failure::Broken(report) => format!("error: broken: {}", report.trim_end()),
            Failure::Refused { code, detail } => format!("error: {code}: {}", detail.trim_end()),
        };
        let _ = writeln!(std::io::stderr().lock(), "{line}");
    }
}

/// Prints what a command produced, or reports its failure; the exit code.
pub fn finish(result: Result<Vec<u8>, Failure>) -> ExitCode {
    match result.and_then(|text| print_stdout(&text)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            failure.report();
            ExitCode::from(failure.exit_code())
        }
    }
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
