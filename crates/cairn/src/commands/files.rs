//! `cairn ls|cat|stat|put|rm|mv|replace|insert`: files of a store.

use std::path::PathBuf;

use cairn_client::{At, WriteOptions};

use crate::cli::{EditCommand, FileCommand};
use crate::commands::{Context, read_input};
use crate::exit::Failure;
use crate::render;

pub async fn run(context: Context, command: FileCommand) -> Result<Vec<u8>, Failure> {
    let client = &context.client;
    match command {
        FileCommand::Ls {
            store,
            dir,
            depth,
            revision,
        } => {
            let listing = client.list(&store, &dir, depth, revision).await?;
            context.show(&listing, render::listing)
        }
        FileCommand::Cat {
            store,
            path,
            version,
            revision,
        } => cat(&context, &store, &path, At::from_parts(version, revision)).await,
        FileCommand::Stat {
            store,
            path,
            version,
            revision,
        } => {
            let at = At::from_parts(version, revision);
            context.show(&client.stat(&store, &path, at).await?, render::meta)
        }
        FileCommand::Put {
            store,
            path,
            file,
            if_version,
            if_absent,
            idempotency_key,
        } => {
            let options = WriteOptions {
                if_match: if_version,
                if_none_match: if_absent,
                idempotency_key,
            };
            put(&context, &store, &path, file, &options).await
        }
        FileCommand::Rm {
            store,
            path,
            recursive,
            if_version,
            idempotency_key: key,
        } => {
            let key = key.as_deref();
            let result = client
                .delete_file(&store, &path, recursive, if_version, key)
                .await?;
            context.show(&result, render::txn_result)
        }
    }
}

/// `mv`, `replace`, `insert`: each answers a transaction result.
pub async fn edit(context: Context, command: EditCommand) -> Result<Vec<u8>, Failure> {
    let client = &context.client;
    let result = match command {
        EditCommand::Mv {
            store,
            from,
            to,
            overwrite,
            if_version,
            idempotency_key: key,
        } => {
            let key = key.as_deref();
            client
                .rename(&store, &from, &to, overwrite, if_version, key)
                .await?
        }
        EditCommand::Replace {
            store,
            path,
            old,
            new,
            if_version,
            idempotency_key: key,
        } => {
            let key = key.as_deref();
            client
                .str_replace(&store, &path, &old, &new, if_version, key)
                .await?
        }
        EditCommand::Insert {
            store,
            path,
            line,
            text,
            if_version,
            idempotency_key: key,
        } => {
            let key = key.as_deref();
            client
                .insert(&store, &path, line, &text, if_version, key)
                .await?
        }
    };
    context.show(&result, render::txn_result)
}

/// The content exactly as stored (no newline added), or the read as JSON.
async fn cat(context: &Context, store: &str, path: &str, at: At) -> Result<Vec<u8>, Failure> {
    let read = context.client.read_file(store, path, at).await?;
    if context.json {
        render::json(&read)
    } else {
        Ok(read.content.into_bytes())
    }
}

/// Writes the bytes of `file` (standard input when absent or `-`) as they
/// are: the server, not the CLI, decides what is UTF-8.
async fn put(
    context: &Context,
    store: &str,
    path: &str,
    file: Option<PathBuf>,
    options: &WriteOptions,
) -> Result<Vec<u8>, Failure> {
    let content = read_input(file.as_deref())?;
    let written = context
        .client
        .write_file(store, path, content, options)
        .await?;
    context.show(&written, render::written)
}
