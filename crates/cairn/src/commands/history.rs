//! `cairn log` and `cairn diff`: a file's past.

use serde::Serialize;

use crate::cli::{HistoryCommand, RollbackArgs};
use crate::commands::Context;
use crate::exit::Failure;
use crate::render;

/// What `cairn diff --json` prints.
#[derive(Serialize)]
struct DiffOutput {
    diff: String,
}

pub async fn run(context: Context, command: HistoryCommand) -> Result<Vec<u8>, Failure> {
    let client = &context.client;
    match command {
        HistoryCommand::Log {
            store,
            path,
            limit,
            before,
            content,
        } => {
            let page = client
                .history(&store, &path, limit, before, content)
                .await?;
            context.show(&page, render::history)
        }
        HistoryCommand::Diff {
            store,
            path,
            from,
            to,
        } => {
            let diff = client.diff(&store, &path, from, to).await?;
            context.show(&DiffOutput { diff }, |output| output.diff.clone())
        }
    }
}

/// `cairn rollback`: `session` / `agent` are the global flags, naming what to undo.
pub async fn rollback(
    context: Context,
    args: RollbackArgs,
    session: Option<String>,
    agent: Option<String>,
) -> Result<Vec<u8>, Failure> {
    let request = cairn_client::api::RollbackRequest {
        path: args.path,
        to_version: args.to_version,
        to_revision: args.to_revision,
        session,
        agent,
        force: args.force,
        dry_run: args.dry_run,
    };
    let result = context
        .client
        .rollback(&args.store, &request, args.idempotency_key.as_deref())
        .await?;
    context.show(&result, render::rollback)
}
