//! Building request targets: percent-encoding store names, file paths and
//! query values so that any valid (or deliberately invalid) path reaches the
//! server byte for byte.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Serialize;

use crate::error::ClientError;

/// Where the server is: `host:port` for connecting and the `Host` header, and
/// a path prefix (empty unless the base URL had one, e.g. behind a proxy).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BaseUrl {
    pub host: String,
    pub port: u16,
    pub authority: String,
    pub path_prefix: String,
    /// `https://`: the connection is TLS, and the server's certificate must
    /// name `host`.
    pub tls: bool,
}

impl BaseUrl {
    /// Parses `http://host[:port][/prefix]` or `https://…` (port 80 or 443
    /// unless given).
    pub fn parse(base_url: &str) -> Result<BaseUrl, ClientError> {
        let invalid = |reason: &str| ClientError::InvalidUrl(format!("{base_url:?}: {reason}"));
        let uri: hyper::Uri = base_url
            .trim()
            .parse()
            .map_err(|error| invalid(&format!("{error}")))?;
        let tls = match uri.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            Some(other) => {
                return Err(invalid(&format!(
                    "scheme {other:?} is not supported, use http or https"
                )));
            }
            None => return Err(invalid("missing scheme, expected http://host:port")),
        };
        let authority = uri.authority().ok_or_else(|| invalid("missing host"))?;
        if authority.as_str().contains('@') {
            return Err(invalid("user information is not supported"));
        }
        if uri.query().is_some() {
            return Err(invalid("a base URL may not have a query"));
        }
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        if host.is_empty() {
            return Err(invalid("missing host"));
        }
        let port = authority.port_u16().unwrap_or(if tls { 443 } else { 80 });
        Ok(BaseUrl {
            host: host.to_string(),
            port,
            authority: authority.as_str().to_string(),
            path_prefix: uri.path().trim_end_matches('/').to_string(),
            tls,
        })
    }
}

/// Every byte but RFC 3986's unreserved characters (`A-Z a-z 0-9 - . _ ~`)
/// is percent-encoded, so that `/`, `?`, `#` and `%` inside a segment reach
/// the server as data.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes everything but RFC 3986 unreserved characters.
pub fn encode_component(text: &str, out: &mut String) {
    out.extend(utf8_percent_encode(text, COMPONENT));
}

/// Percent-encodes each `/`-separated segment of `path`, keeping the
/// separators. A path without a leading `/` gets one.
pub fn encode_path(path: &str, out: &mut String) {
    if !path.starts_with('/') {
        out.push('/');
    }
    for (index, segment) in path.split('/').enumerate() {
        if index > 0 {
            out.push('/');
        }
        encode_component(segment, out);
    }
}

/// A request target under `/v1/stores/{store}`, built piece by piece.
#[derive(Clone, Debug)]
pub struct Target {
    path: String,
}

impl Target {
    /// `/v1/stores`.
    pub fn stores() -> Target {
        Target {
            path: "/v1/stores".to_string(),
        }
    }

    /// `/v1/stores/{store}`.
    pub fn store(store: &str) -> Target {
        let mut target = Target::stores();
        target.path.push('/');
        encode_component(store, &mut target.path);
        target
    }

    /// `/v1/stores/{store}/{route}{path}`, e.g. `files` and `/notes/a.md`.
    pub fn store_path(store: &str, route: &str, path: &str) -> Target {
        let mut target = Target::store(store);
        target.path.push('/');
        target.path.push_str(route);
        encode_path(path, &mut target.path);
        target
    }

    /// `/v1/stores/{store}/{route}`, e.g. `txn`, `audit`, `tree`.
    pub fn store_route(store: &str, route: &str) -> Target {
        let mut target = Target::store(store);
        target.path.push('/');
        target.path.push_str(route);
        target
    }

    /// `/v1/` followed by `segments`, each percent-encoded, e.g.
    /// `["orgs", org, "users"]`.
    pub fn v1(segments: &[&str]) -> Target {
        let mut path = "/v1".to_string();
        for segment in segments {
            path.push('/');
            encode_component(segment, &mut path);
        }
        Target { path }
    }

    /// The path with `?query`, the query being one of `cairn_api::query`'s
    /// structs serialized as the server deserializes it; no `?` when every
    /// field is absent.
    pub fn with_query(self, query: &impl Serialize) -> Result<String, ClientError> {
        let query = serde_urlencoded::to_string(query)
            .map_err(|error| ClientError::InvalidUrl(format!("{}: {error}", self.path)))?;
        let mut target = self.path;
        if !query.is_empty() {
            target.push('?');
            target.push_str(&query);
        }
        Ok(target)
    }

    pub fn as_str(&self) -> &str {
        &self.path
    }

    pub fn into_string(self) -> String {
        self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_api::{Consistency, DeleteQuery, DiffQuery, HistoryQuery};

    #[test]
    fn base_url_forms() {
        let base = BaseUrl::parse("http://127.0.0.1:7700").unwrap();
        assert_eq!(base.host, "127.0.0.1");
        assert_eq!(base.port, 7700);
        assert_eq!(base.authority, "127.0.0.1:7700");
        assert_eq!(base.path_prefix, "");

        let base = BaseUrl::parse("http://localhost/").unwrap();
        assert_eq!((base.host.as_str(), base.port), ("localhost", 80));
        assert_eq!(base.path_prefix, "");

        let base = BaseUrl::parse("http://[::1]:8080/cairn/").unwrap();
        assert_eq!((base.host.as_str(), base.port), ("::1", 8080));
        assert_eq!(base.authority, "[::1]:8080");
        assert_eq!(base.path_prefix, "/cairn");
        assert!(!base.tls);

        let base = BaseUrl::parse("https://node1.example").unwrap();
        assert_eq!((base.host.as_str(), base.port), ("node1.example", 443));
        assert!(base.tls);
        let base = BaseUrl::parse("https://127.0.0.1:7710").unwrap();
        assert_eq!(
            (base.authority.as_str(), base.tls),
            ("127.0.0.1:7710", true)
        );
    }

    #[test]
    fn base_url_rejects() {
        for bad in [
            "",
            "127.0.0.1:7700",
            "ftp://example.com",
            "http://",
            "http://user@host:1",
            "http://host:1/?q=1",
            "not a url",
        ] {
            let error = BaseUrl::parse(bad).unwrap_err();
            assert_eq!(error.code(), "invalid_url", "{bad:?} gave {error}");
        }
    }

    #[test]
    fn paths_keep_separators_and_encode_segments() {
        let target = Target::store_path("notes", "files", "/notes/a.md");
        assert_eq!(target.as_str(), "/v1/stores/notes/files/notes/a.md");

        let target = Target::store_path("s", "files", "/my dir/100%/a?b#c.md");
        assert_eq!(
            target.as_str(),
            "/v1/stores/s/files/my%20dir/100%25/a%3Fb%23c.md"
        );

        let target = Target::store_path("s", "files", "/über/日本.md");
        assert_eq!(
            target.as_str(),
            "/v1/stores/s/files/%C3%BCber/%E6%97%A5%E6%9C%AC.md"
        );

        // Invalid paths pass through unchanged so that the server can refuse them.
        let target = Target::store_path("s", "files", "/a/../b");
        assert_eq!(target.as_str(), "/v1/stores/s/files/a/../b");
        let target = Target::store_path("s", "files", "/a//b");
        assert_eq!(target.as_str(), "/v1/stores/s/files/a//b");
        let target = Target::store_path("s", "files", "/a\0b");
        assert_eq!(target.as_str(), "/v1/stores/s/files/a%00b");

        // A missing leading slash is added.
        let target = Target::store_path("s", "history", "a.md");
        assert_eq!(target.as_str(), "/v1/stores/s/history/a.md");
    }

    #[test]
    fn store_names_and_queries_are_encoded() {
        let target = Target::store("a b/c");
        assert_eq!(target.as_str(), "/v1/stores/a%20b%2Fc");

        let diff = DiffQuery {
            from: 1,
            to: 2,
            consistency: None,
        };
        let target = Target::store_path("s", "diff", "/a").with_query(&diff);
        assert_eq!(target.unwrap(), "/v1/stores/s/diff/a?from=1&to=2");

        let history = HistoryQuery {
            limit: Some(10),
            content: true,
            consistency: Some(Consistency::Stale),
            ..HistoryQuery::default()
        };
        let target = Target::store_path("s", "history", "/a").with_query(&history);
        assert_eq!(
            target.unwrap(),
            "/v1/stores/s/history/a?limit=10&content=true&consistency=stale"
        );

        // Absent fields and `false` flags are left out, and so is the `?`.
        let target = Target::store_path("s", "files", "/a").with_query(&DeleteQuery::default());
        assert_eq!(target.unwrap(), "/v1/stores/s/files/a");
    }

    #[test]
    fn unreserved_characters_stay() {
        let mut out = String::new();
        encode_component("AZaz09-._~", &mut out);
        assert_eq!(out, "AZaz09-._~");
    }
}
