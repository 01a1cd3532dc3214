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
        let request = TxnRequest {
            ops: vec![op],
            message: None,
        };
        self.txn(store, &request, idempotency_key).await
    }
}

impl Client {
    /// Puts files back to an earlier state as one new change (or, with
    /// `dry_run`, only shows the plan).
    pub async fn rollback(
        &self,
        store: &str,
        request: &cairn_api::RollbackRequest,
        idempotency_key: Option<&str>,
    ) -> Result<cairn_api::RollbackResult, ClientError> {
        let target = Target::store_route(store, "rollback").into_string();
        let outgoing = Outgoing::new(Method::POST, target)
            .json_body(request)?
            .idempotency_key(idempotency_key)?;
        self.call_json(outgoing).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_server::recording_server;

    const RESULT: &str = r#"{"revision":4,"changes":[{"path":"/b","op":"rename","version":4}]}"#;

    /// The request head's `idempotency-key` line, if any.
    fn key_line(request: &str) -> Option<&str> {
        request
            .lines()
            .find(|line| line.to_ascii_lowercase().starts_with("idempotency-key:"))
    }

    fn body(request: &str) -> serde_json::Value {
        serde_json::from_str(request.split("\r\n\r\n").nth(1).unwrap()).unwrap()
    }

    #[tokio::test]
    async fn single_edits_carry_their_idempotency_key() {
        let (url, mut requests) =
            recording_server(vec![(200, "application/json", RESULT); 4]).await;
        let client = Client::new(&url).unwrap();

        client
            .rename("s", "/a", "/b", false, Some(3), Some("k-mv"))
            .await
            .unwrap();
        let request = requests.recv().await.unwrap();
        assert!(
            request.starts_with("POST /v1/stores/s/txn HTTP/1.1\r\n"),
            "{request}"
        );
        assert_eq!(key_line(&request), Some("idempotency-key: k-mv"));
        assert_eq!(
            body(&request),
            serde_json::json!({"ops": [
                {"op": "rename", "from": "/a", "to": "/b", "overwrite": false, "if_version": 3}
            ]})
        );

        client
            .str_replace("s", "/a", "x", "y", None, Some("k-replace"))
            .await
            .unwrap();
        let request = requests.recv().await.unwrap();
        assert_eq!(key_line(&request), Some("idempotency-key: k-replace"));
        assert_eq!(body(&request)["ops"][0]["op"], "str_replace");

        client
            .insert("s", "/a", 2, "line", None, Some("k-insert"))
            .await
            .unwrap();
        let request = requests.recv().await.unwrap();
        assert_eq!(key_line(&request), Some("idempotency-key: k-insert"));
        assert_eq!(body(&request)["ops"][0]["line"], 2);

        // Without a key none is sent: the server makes its own.
        client.insert("s", "/a", 0, "x", None, None).await.unwrap();
        let request = requests.recv().await.unwrap();
        assert_eq!(key_line(&request), None, "{request}");
    }
}
