//! `cairn txn`: apply a JSON transaction from a file or standard input.

use cairn_client::TxnRequest;

use crate::cli::TxnArgs;
use crate::commands::{Context, read_input};
use crate::exit::Failure;
use crate::render;

pub async fn run(context: Context, args: TxnArgs) -> Result<Vec<u8>, Failure> {
    let bytes = read_input(Some(&args.file))?;
    let request: TxnRequest = serde_json::from_slice(&bytes).map_err(|error| {
        Failure::usage(
            "invalid_json",
            format!("{} is not a transaction: {error}", args.file.display()),
        )
    })?;
    let result = context
        .client
        .txn(&args.store, &request, args.idempotency_key.as_deref())
        .await?;
    context.show(&result, render::txn_result)
}
