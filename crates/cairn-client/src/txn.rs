//! Transactions (`POST /v1/stores/{store}/txn`) and the edits sent as a
//! one-operation transaction: rename, `str_replace`, insert.
//!
//! None of these is safe to send twice without a key: a rename or an insert
//! applied twice is a different state. So each takes an idempotency key; a
//! retry with the same key is answered with the first outcome and applied once.

use hyper::Method;

use cairn_api::{OpRequest, PreconditionFields, TxnRequest, TxnResult};

use crate::transport::Outgoing;
use crate::url::Target;
use crate::{Client, ClientError};

impl Client {
    /// `POST .../txn`: every operation at one revision, or none.
    pub async fn txn(
        &self,
        store: &str,
        request: &TxnRequest,
        idempotency_key: Option<&str>,
    ) -> Result<TxnResult, ClientError> {
        let target = Target::store_route(store, "txn").into_string();
        let outgoing = Outgoing::new(Method::POST, target)
            .idempotency_key(idempotency_key)?
            .json_body(request)?;
        self.call_json(outgoing).await
    }

    /// Moves a file; refuses to replace `to` unless `overwrite`.
    pub async fn rename(
        &self,
        store: &str,
        from: &str,
        to: &str,
        overwrite: bool,
        if_version: Option<u64>,
        idempotency_key: Option<&str>,
    ) -> Result<TxnResult, ClientError> {
        let op = OpRequest::Rename {
            from: from.to_string(),
            to: to.to_string(),
            overwrite,
            precondition: PreconditionFields::if_version(if_version),
        };
        self.one_op(store, op, idempotency_key).await
    }

    /// Replaces the one occurrence of `old` with `new`.
    pub async fn str_replace(
        &self,
        store: &str,
        path: &str,
        old: &str,
        new: &str,
        if_version: Option<u64>,
        idempotency_key: Option<&str>,
    ) -> Result<TxnResult, ClientError> {
        let op = OpRequest::StrReplace {
            path: path.to_string(),
            old: old.to_string(),
            new: new.to_string(),
            precondition: PreconditionFields::if_version(if_version),
        };
        self.one_op(store, op, idempotency_key).await
    }

    /// Inserts `text` before 0-based line `line` (the line count appends).
    pub async fn insert(
        &self,
        store: &str,
        path: &str,
        line: u64,
        text: &str,
        if_version: Option<u64>,
        idempotency_key: Option<&str>,
    ) -> Result<TxnResult, ClientError> {
        let op = OpRequest::Insert {
            path: path.to_string(),
            line,
            text: text.to_string(),
            precondition: PreconditionFields::if_version(if_version),
        };
        self.one_op(store, op, idempotency_key).await
    }

    async fn one_op(
        &self,
        store: &str,
        op: OpRequest,
        idempotency_key: Option<&str>,
    ) -> Result<TxnResult, ClientError> {
        let request = TxnRequest { ops: vec![op] };
        self.txn(store, &request, idempotency_key).await
    }
}
