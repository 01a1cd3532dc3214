//! Files and directories: `files/`, `stat/` and `tree/` under a store.

use hyper::Method;
use serde::Serialize;

use cairn_api::etag::parse_etag;
use cairn_api::{At, DeleteQuery, FileMeta, Listing, TreeQuery, TxnResult, WriteResponse, headers};

use crate::transport::{Outgoing, RawResponse};
use crate::url::Target;
use crate::{Client, ClientError};

/// Preconditions and idempotency of `PUT .../files/{path}`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteOptions {
    /// `If-Match: "V"`: write only if the file is at version `V`.
    pub if_match: Option<u64>,
    /// `If-None-Match: *`: write only if the file does not exist.
    pub if_none_match: bool,
    pub idempotency_key: Option<String>,
}

/// A file's content and where it stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FileRead {
    pub content: String,
    /// The file's version (`ETag` / `X-Cairn-Version`).
    pub version: u64,
    /// The store's revision when the read was served (`X-Cairn-Revision`).
    pub revision: u64,
}

impl Client {
    /// `GET .../files/{path}` now, at a version, or as of a store revision.
    pub async fn read_file(
        &self,
        store: &str,
        path: &str,
        at: At,
    ) -> Result<FileRead, ClientError> {
        let target = self.file_target(store, "files", path, at)?;
        let response = self.call(Outgoing::get(target)).await?;
        let (version, revision) = version_headers(&response)?;
        let content = response.into_text("file content")?;
        Ok(FileRead {
            content,
            version,
            revision,
        })
    }

    /// `GET .../stat/{path}`.
    pub async fn stat(&self, store: &str, path: &str, at: At) -> Result<FileMeta, ClientError> {
        let target = self.file_target(store, "stat", path, at)?;
        self.call_json(Outgoing::get(target)).await
    }

    /// `PUT .../files/{path}` with `content` sent byte for byte (the server
    /// refuses bytes that are not UTF-8 with `not_utf8`).
    pub async fn write_file(
        &self,
        store: &str,
        path: &str,
        content: impl AsRef<[u8]>,
        options: &WriteOptions,
    ) -> Result<WriteResponse, ClientError> {
        let target = Target::store_path(store, "files", path).into_string();
        let mut outgoing = Outgoing::new(Method::PUT, target)
            .idempotency_key(options.idempotency_key.as_deref())?
            .if_match(options.if_match)?;
        if options.if_none_match {
            outgoing = outgoing.header("if-none-match", "*")?;
        }
        self.call_json(outgoing.text_body(content.as_ref())).await
    }

    /// `DELETE .../files/{path}`; `recursive` deletes a directory subtree.
    pub async fn delete_file(
        &self,
        store: &str,
        path: &str,
        recursive: bool,
        if_match: Option<u64>,
        idempotency_key: Option<&str>,
    ) -> Result<TxnResult, ClientError> {
        let target =
            Target::store_path(store, "files", path).with_query(&DeleteQuery { recursive })?;
        let outgoing = Outgoing::new(Method::DELETE, target)
            .idempotency_key(idempotency_key)?
            .if_match(if_match)?;
        self.call_json(outgoing).await
    }

    /// `GET .../tree[/{dir}]`: `depth` 1 lists direct children only.
    pub async fn list(
        &self,
        store: &str,
        dir: &str,
        depth: Option<u64>,
        revision: Option<u64>,
    ) -> Result<Listing, ClientError> {
        let target = if dir.is_empty() || dir == "/" {
            Target::store_route(store, "tree")
        } else {
            Target::store_path(store, "tree", dir)
        };
        let query = TreeQuery {
            depth,
            revision,
            consistency: self.consistency,
        };
        self.call_json(Outgoing::get(target.with_query(&query)?))
            .await
    }

    /// `/v1/stores/{store}/{route}{path}?version|revision=…&consistency=…`.
    fn file_target(
        &self,
        store: &str,
        route: &str,
        path: &str,
        at: At,
    ) -> Result<String, ClientError> {
        Target::store_path(store, route, path).with_query(&at.query(self.consistency))
    }
}

/// The version and revision headers of a file read.
fn version_headers(response: &RawResponse) -> Result<(u64, u64), ClientError> {
    let version = response
        .header(headers::VERSION)
        .and_then(|value| value.trim().parse().ok())
        .or_else(|| response.header("etag").and_then(parse_etag))
        .ok_or_else(|| ClientError::Decode("file read without ETag or X-Cairn-Version".into()))?;
    let revision = response
        .header(headers::REVISION)
        .and_then(|value| value.trim().parse().ok())
        .ok_or_else(|| ClientError::Decode("file read without X-Cairn-Revision".into()))?;
    Ok((version, revision))
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use cairn_api::Consistency;
    use hyper::header::{HeaderMap, HeaderValue};

    use super::*;

    fn response(headers: &[(&'static str, &str)]) -> RawResponse {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        RawResponse {
            status: 200,
            headers: map,
            body: Bytes::new(),
        }
    }

    #[test]
    fn version_headers_prefer_explicit_then_etag() {
        let read = response(&[("etag", "\"5\""), (headers::REVISION, "9")]);
        assert_eq!(version_headers(&read).unwrap(), (5, 9));

        let read = response(&[
            ("etag", "\"5\""),
            (headers::VERSION, "6"),
            (headers::REVISION, "9"),
        ]);
        assert_eq!(version_headers(&read).unwrap(), (6, 9));

        let read = response(&[(headers::REVISION, "9")]);
        assert_eq!(version_headers(&read).unwrap_err().code(), "decode");
        let read = response(&[("etag", "\"5\"")]);
        assert_eq!(version_headers(&read).unwrap_err().code(), "decode");
    }

    #[test]
    fn reads_carry_their_position_and_consistency() {
        let client = Client::new("http://127.0.0.1:7700").unwrap();
        let target = client.file_target("s", "files", "/a", At::Current);
        assert_eq!(target.unwrap(), "/v1/stores/s/files/a");
        let stale = client.with_consistency(Consistency::Stale);
        let target = stale.file_target("s", "files", "/a", At::Version(4));
        assert_eq!(
            target.unwrap(),
            "/v1/stores/s/files/a?version=4&consistency=stale"
        );
        let target = stale.file_target("s", "stat", "/a", At::Revision(7));
        assert_eq!(
            target.unwrap(),
            "/v1/stores/s/stat/a?revision=7&consistency=stale"
        );
    }
}
