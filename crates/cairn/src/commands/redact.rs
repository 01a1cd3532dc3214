//! `cairn redact`: remove a version's content, or a string from every version.

use cairn_client::api::RedactRequest;

use crate::cli::RedactArgs;
use crate::commands::Context;
use crate::exit::Failure;
use crate::render;

pub async fn run(context: Context, args: RedactArgs) -> Result<Vec<u8>, Failure> {
    let request = RedactRequest {
        path: args.path.map(|path| rooted(&path)),
        version: args.version,
        string: args.string,
        path_prefix: args.path_prefix.map(|prefix| rooted(&prefix)),
        reason: args.reason,
    };
    let result = context.client.redact(&args.store, &request).await?;
    context.show(&result, render::redaction)
}

/// Paths may be given with or without their leading `/`, as elsewhere in the CLI.
fn rooted(path: &str) -> String {
    match path.starts_with('/') {
        true => path.to_string(),
        false => format!("/{path}"),
    }
}
