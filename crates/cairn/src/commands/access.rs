//! `cairn org|user|token|grant|revoke-grant|whoami`.

use cairn_client::api::{Grant, OrgList, TokenList, UserList};
use cairn_client::{Access, CreateTokenRequest};

use crate::cli::{OrgCommand, TokenCommand, UserCommand};
use crate::commands::Context;
use crate::exit::Failure;
use crate::render;

pub async fn org(context: Context, command: OrgCommand) -> Result<Vec<u8>, Failure> {
    let client = &context.client;
    match command {
        OrgCommand::Create { name } => context.show(&client.create_org(&name).await?, |org| {
            format!("organization {} (id {})\n", org.name, org.id)
        }),
        OrgCommand::List => {
            let list = OrgList {
                orgs: client.list_orgs().await?,
            };
            context.show(&list, render::orgs)
        }
    }
}

pub async fn user(context: Context, command: UserCommand) -> Result<Vec<u8>, Failure> {
    let client = &context.client;
    match command {
        UserCommand::Create { org, user, role } => context.show(
            &client.create_user(&org, &user, role.into()).await?,
            |user| format!("user {}/{} ({:?})\n", user.org, user.name, user.role).to_lowercase(),
        ),
        UserCommand::List { org } => {
            let list = UserList {
                users: client.list_users(&org).await?,
            };
            context.show(&list, render::users)
        }
    }
}

/// `token create` binds the token to the global `--agent` when it is given.
pub async fn token(
    context: Context,
    command: TokenCommand,
    agent: Option<String>,
) -> Result<Vec<u8>, Failure> {
    let client = &context.client;
    match command {
        TokenCommand::Create {
            org,
            user,
            expires_in,
        } => {
            let request = CreateTokenRequest {
                agent,
                expires_in_s: expires_in,
            };
            let created = client.create_token(&org, &user, &request).await?;
            // The human form is the token alone, so that `$(cairn token create …)` is it.
            context.show(&created, |created| format!("{}\n", created.token))
        }
        TokenCommand::List { org, user } => {
            let list = TokenList {
                tokens: client.list_tokens(&org, &user).await?,
            };
            context.show(&list, |list| render::tokens(&list.tokens))
        }
        TokenCommand::Revoke { id } => context.show(&client.revoke_token(&id).await?, |token| {
            format!("token {} revoked\n", token.id)
        }),
    }
}

/// `grant` (with `access`) and `revoke-grant` (without).
pub async fn grant(
    context: Context,
    store: String,
    user: String,
    access: Option<Access>,
) -> Result<Vec<u8>, Failure> {
    let client = &context.client;
    let grant = match access {
        Some(access) => client.grant(&store, &user, access).await?,
        None => client.revoke_grant(&store, &user).await?,
    };
    context.show(&grant, render_grant)
}

fn render_grant(grant: &Grant) -> String {
    match grant.access {
        Some(access) => format!(
            "{} has {} access to {}\n",
            grant.user,
            format!("{access:?}").to_lowercase(),
            grant.store
        ),
        None => format!("{} has no grant on {}\n", grant.user, grant.store),
    }
}

pub async fn whoami(context: Context) -> Result<Vec<u8>, Failure> {
    let me = context.client.whoami().await?;
    context.show(&me, |me| {
        format!("{} (token {})\n", me.principal, me.token.id)
    })
}
