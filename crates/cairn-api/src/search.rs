//! Search: `GET /v1/stores/{store}/search`.

use serde::{Deserialize, Serialize};

use crate::consistency::Consistency;

/// How a search matches. Only `lexical` exists; the parameter is where other
/// kinds of search (semantic) will be asked for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SearchMode {
    /// Lines that contain `q` (or match it, with `regex=true`).
    #[default]
    Lexical,
}

/// `GET /v1/stores/{store}/search?q=…`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    /// The text to find in a line (at most 1024 bytes); with `regex=true` a
    /// regular expression (Rust `regex` syntax, matched per line).
    pub q: String,
    /// `q` is a regular expression.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub regex: bool,
    /// Only files under this directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// Search the files as they were at this store revision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<u64>,
    /// Matches per page (default 100, at most 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", param(minimum = 1))]
    pub limit: Option<u64>,
    /// Where to go on: the previous page's `next_cursor`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// `lexical` (the default and only mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<SearchMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consistency: Option<Consistency>,
}

/// One matching line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SearchMatch {
    pub path: String,
    /// The version of the file the line is in.
    pub version: u64,
    /// 1-based.
    pub line_number: u64,
    /// The line without its line end, at most 1024 bytes.
    pub line: String,
    /// The line was longer and was cut.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
}

/// One page of matches, in path then line order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SearchPage {
    pub store: String,
    /// The revision searched.
    pub revision: u64,
    pub matches: Vec<SearchMatch>,
    /// Pass as `cursor` (with the same query) for the next page; absent when
    /// the search is complete. A page may end early, even empty, when it read
    /// its share of files or bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    pub files_scanned: u64,
    pub bytes_scanned: u64,
}
