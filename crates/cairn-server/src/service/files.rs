//! Files and directories: read, stat, write, delete, list.

use cairn_api::{
    FileMeta, Listing, PreconditionFields, ReadQuery, TreeQuery, TxnResult, WriteResponse,
};
use cairn_core::command::{Command, Outcome, WriteOp};
use cairn_core::read::{self, ListOptions};
use cairn_core::{At, CoreError};

use super::txn::precondition;
use super::{RequestContext, Service, ServiceResult, unexpected, wire};

/// A file's content with its metadata.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileRead {
    pub meta: FileMeta,
    pub content: String,
}

/// `?version=` / `?revision=` as a point in a file's history.
fn read_position(query: &ReadQuery) -> ServiceResult<At> {
    match (query.version, query.revision) {
        (None, None) => Ok(At::Current),
        (Some(version), None) => Ok(At::Version(version)),
        (None, Some(revision)) => Ok(At::Revision(revision)),
        (Some(_), Some(_)) => {
            Err(CoreError::invalid_request("give at most one of version and revision").into())
        }
    }
}

impl Service {
    #[tracing::instrument(level = "debug", skip_all, fields(node_id = self.node_id(), store = %store, path = %path, request_id = %context.request_id))]
    pub async fn read_file(
        &self,
        context: &RequestContext,
        store: &str,
        path: &str,
        query: ReadQuery,
    ) -> ServiceResult<FileRead> {
        let (path, at) = (self.file_path(path)?, read_position(&query)?);
        let file = self
            .read_in_store(
                context,
                store,
                query.consistency.unwrap_or_default(),
                |reader, _, info| read::read_file_in(reader, info, &path, at),
            )
            .await?;
        Ok(FileRead {
            meta: wire::file_meta(file.meta),
            content: file.content,
        })
    }

    #[tracing::instrument(level = "debug", skip_all, fields(node_id = self.node_id(), store = %store, path = %path, request_id = %context.request_id))]
    pub async fn stat(
        &self,
        context: &RequestContext,
        store: &str,
        path: &str,
        query: ReadQuery,
    ) -> ServiceResult<FileMeta> {
        let (path, at) = (self.file_path(path)?, read_position(&query)?);
        let meta = self
            .read_in_store(
                context,
                store,
                query.consistency.unwrap_or_default(),
                |reader, _, info| read::stat_in(reader, info, &path, at),
            )
            .await?;
        Ok(wire::file_meta(meta))
    }

    /// Creates or replaces a file, if `preconditions` hold.
    #[tracing::instrument(level = "debug", skip_all, fields(node_id = self.node_id(), store = %store, path = %path, request_id = %context.request_id))]
    pub async fn write_file(
        &self,
        context: &RequestContext,
        store: &str,
        path: &str,
        content: String,
        preconditions: PreconditionFields,
    ) -> ServiceResult<WriteResponse> {
        let path = self.file_path(path)?;
        let op = WriteOp::Write {
            path: path.clone(),
            content,
            precondition: precondition(preconditions)?,
        };
        let result = self.txn_of(context, store, vec![op], None).await?;
        Ok(WriteResponse {
            path: path.as_str().to_string(),
            version: result.revision,
            revision: result.revision,
        })
    }

    /// Deletes a file, or with `recursive` a directory subtree.
    #[tracing::instrument(level = "debug", skip_all, fields(node_id = self.node_id(), store = %store, path = %path, request_id = %context.request_id))]
    pub async fn delete_file(
        &self,
        context: &RequestContext,
        store: &str,
        path: &str,
        recursive: bool,
        preconditions: PreconditionFields,
    ) -> ServiceResult<TxnResult> {
        let path = self.file_path(path)?;
        let op = WriteOp::Delete {
            path,
            recursive,
            precondition: precondition(preconditions)?,
        };
        Ok(wire::txn_result(
            self.txn_of(context, store, vec![op], None).await?,
        ))
    }

    /// Files and directories under `dir` (`/` for the root).
    #[tracing::instrument(level = "debug", skip_all, fields(node_id = self.node_id(), store = %store, dir = %dir, request_id = %context.request_id))]
    pub async fn list(
        &self,
        context: &RequestContext,
        store: &str,
        dir: &str,
        query: TreeQuery,
    ) -> ServiceResult<Listing> {
        let dir = self.dir_path(dir)?;
        let options = ListOptions {
            depth: query.depth,
            revision: query.revision,
        };
        let listing = self
            .read_store(
                context,
                store,
                query.consistency.unwrap_or_default(),
                |reader, store| read::list(reader, store, &dir, options),
            )
            .await?;
        Ok(wire::listing(listing))
    }

    /// Proposes one transaction and expects its result.
    pub(super) async fn txn_of(
        &self,
        context: &RequestContext,
        store: &str,
        ops: Vec<WriteOp>,
        message: Option<String>,
    ) -> ServiceResult<cairn_core::TxnResult> {
        let (subject, store) = self
            .authorize_store(context, store, cairn_core::Access::Write)
            .await?;
        let command = match message {
            None => Command::Txn { store, ops },
            Some(message) => Command::TxnWithMessage {
                store,
                ops,
                message,
            },
        };
        match self.propose(context, &subject, command).await? {
            Outcome::Txn(result) => Ok(result),
            other => Err(unexpected(other)),
        }
    }
}
