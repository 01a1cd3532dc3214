//! `cairn audit`: a store's audit log, oldest first.

use crate::cli::AuditArgs;
use crate::commands::Context;
use crate::exit::Failure;
use crate::render;

pub async fn run(context: Context, args: AuditArgs) -> Result<Vec<u8>, Failure> {
    let page = context
        .client
        .audit(&args.store, args.after, args.limit)
        .await?;
    context.show(&page, render::audit)
}
