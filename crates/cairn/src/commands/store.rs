//! `cairn store create|list|get|delete`.

use cairn_client::api::StoreList;

use crate::cli::StoreCommand;
use crate::commands::Context;
use crate::exit::Failure;
use crate::render;

pub async fn run(context: Context, command: StoreCommand) -> Result<Vec<u8>, Failure> {
    let client = &context.client;
    match command {
        StoreCommand::Create { name, owner } => context.show(
            &client.create_store_owned(&name, owner.as_deref()).await?,
            render::store,
        ),
        StoreCommand::List => {
            // Shown as the `StoreList` the server sent.
            let list = StoreList {
                stores: client.list_stores().await?,
            };
            context.show(&list, |list| render::stores(&list.stores))
        }
        StoreCommand::Policy {
            name,
            versions_max,
            retain_seconds,
            bytes_max,
        } => {
            let policy = cairn_client::api::StorePolicy {
                versions_max,
                retain_s: retain_seconds,
                bytes_max,
            };
            context.show(
                &client.set_store_policy(&name, &policy).await?,
                render::store,
            )
        }
        StoreCommand::Get { name } => context.show(&client.get_store(&name).await?, render::store),
        StoreCommand::Delete { name } => {
            context.show(&client.delete_store(&name).await?, render::store)
        }
    }
}
