//! `POST /v1/stores/{store}/memory-tool`: Claude's client-side memory tool
//! (`memory_20250818`) answered by a store (`docs/memory-tool.md`).

use serde::{Deserialize, Serialize};

/// The `input` of a `memory` tool call, as the model emits it. Every field is
/// optional on the wire: the server answers a missing or unknown one with the
/// tool's own error text (`is_error: true`), as the reference tool does.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MemoryToolInput {
    /// `view`, `create`, `str_replace`, `insert`, `delete` or `rename`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// A path under `/memories` (every command but `rename`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// `view` of a file: `[start_line, end_line]`, 1-based, inclusive; `-1` ends at the last line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub view_range: Option<Vec<i64>>,
    /// `create`: the whole content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_text: Option<String>,
    /// `str_replace`: the text to find (exactly once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_str: Option<String>,
    /// `str_replace`: its replacement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_str: Option<String>,
    /// `insert`: the line the text goes after (`0`: at the start).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insert_line: Option<i64>,
    /// `insert`: the text to insert.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insert_text: Option<String>,
    /// `rename`: the file or directory to move.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_path: Option<String>,
    /// `rename`: where it goes; must not exist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_path: Option<String>,
}

/// What goes back to the model as the `tool_result`: the text, and whether
/// it reports an error of the tool (a path that does not exist, a
/// `str_replace` without a unique match, a store this token may only read).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MemoryToolResult {
    pub content: String,
    pub is_error: bool,
}
