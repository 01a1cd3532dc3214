//! Text arithmetic for `str_replace` and `insert`: occurrences and lines.

use crate::error::CoreError;
use crate::path::FilePath;

/// How many positions `needle` starts at, overlapping ones included: `aa`
/// occurs twice in `aaa`, which is not a unique match.
pub fn count_occurrences(haystack: &str, needle: &str) -> u64 {
    debug_assert!(!needle.is_empty(), "an empty needle occurs everywhere");
    let mut count = 0;
    let mut start = 0;
    while let Some(found) = haystack[start..].find(needle) {
        count += 1;
        let at = start + found;
        // Step one character past the match start to find overlapping matches.
        start = at + haystack[at..].chars().next().map_or(1, char::len_utf8);
        if start > haystack.len() {
            break;
        }
    }
    count
}

/// The number of lines: a final line without `\n` counts; an empty text has none.
pub fn line_count(content: &str) -> u64 {
    let newlines = content.matches('\n').count() as u64;
    if content.is_empty() || content.ends_with('\n') {
        newlines
    } else {
        newlines + 1
    }
}

/// Inserts `text` as whole lines before line `line` (0-based); `line ==
/// line_count` appends. The inserted text gets a final `\n` if it lacks one,
/// and a file whose last line lacks `\n` gets one before appended text.
pub fn insert_at_line(
    path: &FilePath,
    content: &str,
    line: u64,
    text: &str,
) -> Result<String, CoreError> {
    let lines = line_count(content);
    if line > lines {
        return Err(CoreError::InvalidLine {
            path: path.to_string(),
            line,
            lines,
        });
    }
    let offset = if line == lines {
        content.len()
    } else if line == 0 {
        0
    } else {
        // Line `line` starts just past the `line`-th newline; it exists
        // because `line < lines`. `line` is below the content's length, so
        // it fits in a usize and the fallback is never taken.
        let newline_index = usize::try_from(line - 1).unwrap_or(usize::MAX);
        content
            .match_indices('\n')
            .nth(newline_index)
            .map_or(content.len(), |(index, _)| index + 1)
    };
    let mut result = String::with_capacity(content.len() + text.len() + 2);
    result.push_str(&content[..offset]);
    if offset == content.len() && !content.is_empty() && !content.ends_with('\n') {
        result.push('\n');
    }
    result.push_str(text);
    if !text.ends_with('\n') {
        result.push('\n');
    }
    result.push_str(&content[offset..]);
    debug_assert_eq!(line_count(&result), lines + line_count(text).max(1));
    Ok(result)
}
