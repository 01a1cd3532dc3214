//! The reference profile: the texts and the text arithmetic of the Python
//! SDK's `BetaLocalFilesystemMemoryTool` (`anthropic==2.14.0`), written from
//! reading it, with no I/O. Every function answers what that class returns,
//! or (as `Err`) what its tool runner sends for the exception it raises: a
//! `ToolError`'s message verbatim, anything else as Python's `repr`.
//! `tests/memory_tool/compare.py` checks these texts against the package.

/// The root every path of the tool names.
pub const ROOT: &str = "/memories";

/// What a directory's size prints as: the SDK prints its inode's `st_size`,
/// 4096 on ext4, and a store has no inodes.
pub const DIR_SIZE: &str = "4K";

/// The most lines `view` shows of a file (`MAX_LINES`).
pub const VIEW_LINES_MAX: usize = 999_999;

/// The width line numbers are right-aligned to (`len(str(MAX_LINES))`).
const LINE_NUMBER_WIDTH: usize = 6;

/// A Python exception as the tool runner renders it: `Name('message')`.
pub fn exception(name: &str, message: &str) -> String {
    format!("{name}({})", repr_str(message))
}

/// Python's `repr` of a `str`: single quotes unless the text holds a single
/// quote and no double one; backslashes, the quote and control characters
/// escaped.
pub fn repr_str(text: &str) -> String {
    let quote = if text.contains('\'') && !text.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(text.len() + 2);
    out.push(quote);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || (0x7f..0xa0).contains(&(c as u32)) => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// The Python type name of a JSON value, for the texts of `TypeError` and
/// `AttributeError` the SDK raises on a field of the wrong type.
pub fn type_name(value: Option<&serde_json::Value>) -> &'static str {
    match value {
        None | Some(serde_json::Value::Null) => "NoneType",
        Some(serde_json::Value::Bool(_)) => "bool",
        Some(serde_json::Value::Number(number)) if number.is_f64() => "float",
        Some(serde_json::Value::Number(_)) => "int",
        Some(serde_json::Value::String(_)) => "str",
        Some(serde_json::Value::Array(_)) => "list",
        Some(serde_json::Value::Object(_)) => "dict",
    }
}

/// `AttributeError` for a string method called on a field that is no string.
pub fn no_attribute(value: Option<&serde_json::Value>, method: &str) -> String {
    exception(
        "AttributeError",
        &format!("'{}' object has no attribute '{method}'", type_name(value)),
    )
}

/// Where the model's path points, as the segments below `/memories` (empty
/// for the root itself), or the SDK's text refusing it.
///
/// Like the SDK: the path must start with `/memories` (a plain prefix test,
/// so `/memoriesX` names `/memories/X`), the rest is joined to the root and
/// normalized (`//` and `.` dropped, `..` taken back), and the result must
/// stay under the root. `..` that leaves the root and comes back through a
/// segment named `memories` is inside again, as in the SDK; one that climbs
/// above the SDK's base folder is refused, where the SDK could come back
/// through the folder's real name.
pub fn resolve(path: &str) -> Result<Vec<String>, String> {
    let Some(rest) = path.strip_prefix(ROOT) else {
        return Err(format!("Path must start with /memories, got: {path}"));
    };
    let escape = || format!("Path {path} would escape /memories directory");
    // Segments below the SDK's base folder; the root is `["memories"]`.
    let mut stack: Vec<&str> = vec!["memories"];
    for segment in rest.trim_start_matches('/').split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                if stack.pop().is_none() {
                    return Err(escape());
                }
            }
            segment => stack.push(segment),
        }
    }
    match stack.split_first() {
        Some((&"memories", below)) => Ok(below.iter().map(|s| (*s).to_string()).collect()),
        _ => Err(escape()),
    }
}

/// `_format_file_size`: `0B`, `512B`, `2K`, `1.5K`, `1.2M` (one decimal,
/// rounded half to even on the exact value, as Python's `{:.1f}`).
pub fn format_size(bytes: u64) -> String {
    if bytes == 0 {
        return "0B".to_string();
    }
    const UNITS: [&str; 4] = ["B", "K", "M", "G"];
    let bit_length = 64 - bytes.leading_zeros() as usize;
    let unit = ((bit_length - 1) / 10).min(UNITS.len() - 1);
    // Exact in f64 for every size a store can hold (below 2^53 bytes).
    let size = bytes as f64 / 1024f64.powi(unit as i32);
    if size.fract() == 0.0 {
        format!("{}{}", size as u64, UNITS[unit])
    } else {
        format!("{size:.1}{}", UNITS[unit])
    }
}

fn numbered(number: usize, line: &str) -> String {
    format!("{number:>width$}\t{line}", width = LINE_NUMBER_WIDTH)
}

/// One entry under a viewed directory: its segments below that directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeEntry {
    pub segments: Vec<String>,
    /// `None` for a directory.
    pub bytes: Option<u64>,
}

/// `view` of a directory: the viewed directory and what lies up to two
/// levels below it, hidden names (a leading `.`) left out with everything
/// under them, siblings in code-point order, depth first.
pub fn view_dir(path: &str, entries: &[TreeEntry]) -> String {
    let mut shown: Vec<&TreeEntry> = entries
        .iter()
        .filter(|entry| {
            (1..=2).contains(&entry.segments.len())
                && !entry.segments.iter().any(|s| s.starts_with('.'))
        })
        .collect();
    // Comparing segment lists orders siblings by name and puts a directory's
    // children right after it (Rust compares `str` by code point, as Python).
    shown.sort_by(|a, b| a.segments.cmp(&b.segments));
    shown.dedup_by(|a, b| a.segments == b.segments);
    let mut out = format!(
        "Here're the files and directories up to 2 levels deep in {path}, excluding hidden items:\n{DIR_SIZE}\t{path}"
    );
    for entry in shown {
        let relative = entry.segments.join("/");
        match entry.bytes {
            Some(bytes) => out.push_str(&format!("\n{}\t{path}/{relative}", format_size(bytes))),
            None => out.push_str(&format!("\n{DIR_SIZE}\t{path}/{relative}/")),
        }
    }
    out
}

/// `view` of a file, with the SDK's `view_range` arithmetic: `[a, b]` shows
/// lines `max(1, a) ..= b` (`-1`: to the end; another negative `b` counts from
/// the end, as a Python slice), never an error.
pub fn view_file(
    path: &str,
    content: &str,
    view_range: Option<(i64, i64)>,
) -> Result<String, String> {
    let lines: Vec<&str> = content.split('\n').collect();
    if lines.len() > VIEW_LINES_MAX {
        return Err(format!(
            "File {path} exceeds maximum line limit of 999,999 lines."
        ));
    }
    let count = lines.len() as i64;
    let (start, end) = match view_range {
        None => (0, count),
        Some((first, last)) => {
            let start = first.max(1) - 1;
            let end = if last == -1 { count } else { last };
            (start, end)
        }
    };
    // Python slice bounds: negative counts from the end, then clamp.
    let clamp = |index: i64| {
        let index = if index < 0 { index + count } else { index };
        index.clamp(0, count) as usize
    };
    let (from, to) = (clamp(start), clamp(end));
    let mut out = format!("Here's the content of {path} with line numbers:\n");
    if from < to {
        let first_number = start as usize + 1;
        let shown: Vec<String> = lines[from..to]
            .iter()
            .enumerate()
            .map(|(offset, line)| numbered(first_number + offset, line))
            .collect();
        out.push_str(&shown.join("\n"));
    }
    Ok(out)
}

/// How `str_replace` goes on once the file is known to be a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Replacement {
    /// The file after the replacement.
    pub new_content: String,
    /// 0-based line the match starts on.
    pub changed_line: usize,
    /// Whether `old` occurs once even counting overlapping matches, so the
    /// state machine's `StrReplace` (which refuses overlapping ones) applies.
    pub unique_overlapping: bool,
}

/// The start of every match of `needle`, overlapping ones included (the
/// SDK's `find(old_str, pos + 1)` scan); an empty needle matches at every
/// character boundary and at the end.
fn overlapping_matches(haystack: &str, needle: &str) -> Vec<usize> {
    let mut found = Vec::new();
    let mut start = 0;
    while start <= haystack.len() {
        let Some(offset) = haystack[start..].find(needle) else {
            break;
        };
        let at = start + offset;
        found.push(at);
        match haystack[at..].chars().next() {
            Some(c) => start = at + c.len_utf8(),
            None => break,
        }
    }
    found
}

/// Python's `str.count`: non-overlapping matches; `len + 1` for an empty needle.
fn count_non_overlapping(haystack: &str, needle: &str) -> usize {
    if needle.is_empty() {
        haystack.chars().count() + 1
    } else {
        haystack.matches(needle).count()
    }
}

/// `str_replace` on a file's content: the SDK's checks, in its order.
/// `new` is `Err(python type name)` when the field is missing or no string.
pub fn str_replace(
    path: &str,
    content: &str,
    old: &str,
    new: Result<&str, &str>,
) -> Result<Replacement, String> {
    let count = count_non_overlapping(content, old);
    if count == 0 {
        return Err(format!(
            "No replacement was performed, old_str `{old}` did not appear verbatim in {path}."
        ));
    }
    if count > 1 {
        let lines: Vec<String> = overlapping_matches(content, old)
            .into_iter()
            .map(|at| (content[..at].matches('\n').count() + 1).to_string())
            .collect();
        return Err(format!(
            "No replacement was performed. Multiple occurrences of old_str `{old}` in lines: {}. Please ensure it is unique",
            lines.join(", ")
        ));
    }
    let new = match new {
        Ok(new) => new,
        Err("NoneType") => {
            return Err(exception(
                "TypeError",
                "replace() argument 2 must be str, not None",
            ));
        }
        Err(type_name) => {
            return Err(exception(
                "TypeError",
                &format!("replace() argument 2 must be str, not {type_name}"),
            ));
        }
    };
    let at = content.find(old).unwrap_or(0);
    let new_content = if old.is_empty() {
        // Only an empty file has a single empty match.
        new.to_string()
    } else {
        content.replacen(old, new, 1)
    };
    Ok(Replacement {
        changed_line: content[..at].matches('\n').count(),
        unique_overlapping: !old.is_empty() && overlapping_matches(content, old).len() == 1,
        new_content,
    })
}

/// The text `str_replace` answers: two lines before the changed one, it, and
/// two after, of the new content.
pub fn str_replace_done(new_content: &str, changed_line: usize) -> String {
    let lines: Vec<&str> = new_content.split('\n').collect();
    let first = changed_line.saturating_sub(2);
    let end = lines.len().min(changed_line + 3);
    let snippet: Vec<String> = (first..end)
        .map(|index| numbered(index + 1, lines[index]))
        .collect();
    format!(
        "The memory file has been edited. Here is the snippet showing the change (with line numbers):\n{}",
        snippet.join("\n")
    )
}

/// The number of lines `insert` counts: split on `\n` only, without the empty
/// piece after a final newline.
pub fn insert_line_count(content: &str) -> usize {
    let pieces = content.split('\n').count();
    if content.ends_with('\n') || content.is_empty() {
        pieces - 1
    } else {
        pieces
    }
}

/// `insert`'s range check.
pub fn insert_range(line: i64, count: usize) -> Result<u64, String> {
    if line < 0 || line as u64 > count as u64 {
        return Err(format!(
            "Invalid `insert_line` parameter: {line}. It should be within the range [0, {count}]."
        ));
    }
    Ok(line as u64)
}

/// The file `insert` writes: `text` without its trailing newlines as one
/// more line after line `line`, the whole ending with a newline.
pub fn insert(content: &str, line: u64, text: &str) -> String {
    let mut lines: Vec<&str> = content.split('\n').collect();
    if lines.last() == Some(&"") {
        lines.pop();
    }
    let at = usize::try_from(line).unwrap_or(usize::MAX).min(lines.len());
    lines.insert(at, text.trim_end_matches('\n'));
    let mut out = lines.join("\n");
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

pub fn created(path: &str) -> String {
    format!("File created successfully at: {path}")
}

pub fn inserted(path: &str) -> String {
    format!("The file {path} has been edited.")
}

pub fn deleted(path: &str) -> String {
    format!("Successfully deleted {path}")
}

pub fn renamed(old_path: &str, new_path: &str) -> String {
    format!("Successfully renamed {old_path} to {new_path}")
}

pub fn not_found_valid(path: &str) -> String {
    format!("The path {path} does not exist. Please provide a valid path.")
}

pub fn not_found(path: &str) -> String {
    format!("The path {path} does not exist")
}

pub fn not_a_file(path: &str) -> String {
    format!("The path {path} is not a file.")
}

pub fn already_exists(path: &str) -> String {
    format!("File {path} already exists")
}

pub fn destination_exists(new_path: &str) -> String {
    format!("The destination {new_path} already exists")
}

pub const DELETE_ROOT: &str = "Cannot delete the /memories directory itself";
pub const RENAME_ROOT: &str = "Cannot rename the /memories directory itself";

/// What the SDK's `os.open`/`os.rename` raise when a path goes through a file.
pub fn not_a_directory() -> String {
    "NotADirectoryError(20, 'Not a directory')".to_string()
}

/// What `os.rename` raises moving a directory into itself.
pub fn invalid_argument() -> String {
    "OSError(22, 'Invalid argument')".to_string()
}

/// What the SDK raises writing into a folder it may only read: the text a
/// token with read access gets for every change.
pub fn permission_denied() -> String {
    "PermissionError(13, 'Permission denied')".to_string()
}

pub fn unknown_command(command: &str) -> String {
    exception(
        "NotImplementedError",
        &format!("Unknown command: {command}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_resolve_as_the_sdk_resolves_them() {
        assert_eq!(resolve("/memories"), Ok(vec![]));
        assert_eq!(resolve("/memories/"), Ok(vec![]));
        assert_eq!(resolve("/memories/."), Ok(vec![]));
        assert_eq!(
            resolve("/memories//a/./b/"),
            Ok(vec!["a".into(), "b".into()])
        );
        assert_eq!(resolve("/memories/a/../b"), Ok(vec!["b".into()]));
        assert_eq!(resolve("/memoriesX/y"), Ok(vec!["X".into(), "y".into()]));
        assert_eq!(resolve("/memories/../memories/x"), Ok(vec!["x".into()]));
        assert_eq!(
            resolve("/memories/../x"),
            Err("Path /memories/../x would escape /memories directory".into())
        );
        assert_eq!(
            resolve("/memories/../../etc/passwd"),
            Err("Path /memories/../../etc/passwd would escape /memories directory".into())
        );
        assert_eq!(
            resolve("memories/x"),
            Err("Path must start with /memories, got: memories/x".into())
        );
    }

    #[test]
    fn sizes_print_as_python_prints_them() {
        let cases = [
            (0, "0B"),
            (1, "1B"),
            (512, "512B"),
            (1023, "1023B"),
            (1024, "1K"),
            (1280, "1.2K"),
            (1536, "1.5K"),
            (2048, "2K"),
            (1_048_575, "1024.0K"),
            (1_048_576, "1M"),
            (1_572_864, "1.5M"),
            (5 << 40, "5120G"),
        ];
        for (bytes, text) in cases {
            assert_eq!(format_size(bytes), text, "{bytes} bytes");
        }
    }

    #[test]
    fn repr_picks_quotes_and_escapes_like_python() {
        assert_eq!(repr_str("a"), "'a'");
        assert_eq!(repr_str("it's"), "\"it's\"");
        assert_eq!(repr_str("'\""), "'\\'\"'");
        assert_eq!(repr_str("a\nb\\"), "'a\\nb\\\\'");
        assert_eq!(repr_str("\u{1}é"), "'\\x01é'");
        assert_eq!(
            unknown_command("foo"),
            "NotImplementedError('Unknown command: foo')"
        );
    }

    #[test]
    fn view_ranges_follow_python_slices() {
        let content = "a\nb\nc\n";
        let header = "Here's the content of /memories/f with line numbers:\n";
        let view = |range| view_file("/memories/f", content, range).unwrap();
        assert_eq!(
            view(None),
            format!("{header}     1\ta\n     2\tb\n     3\tc\n     4\t")
        );
        assert_eq!(view(Some((2, 3))), format!("{header}     2\tb\n     3\tc"));
        assert_eq!(view(Some((0, 1))), format!("{header}     1\ta"));
        assert_eq!(view(Some((3, -1))), format!("{header}     3\tc\n     4\t"));
        assert_eq!(view(Some((1, -3))), format!("{header}     1\ta"));
        assert_eq!(view(Some((3, 2))), header);
        assert_eq!(view(Some((9, 12))), header);
        let many = "\n".repeat(VIEW_LINES_MAX);
        assert_eq!(
            view_file("/memories/f", &many, None),
            Err("File /memories/f exceeds maximum line limit of 999,999 lines.".into())
        );
        assert!(view_file("/memories/f", &many[1..], None).is_ok());
    }

    #[test]
    fn str_replace_counts_like_python_and_lists_overlapping_lines() {
        let multi = str_replace("/m", "aaaa\nx aa", "aa", Ok("b")).unwrap_err();
        assert_eq!(
            multi,
            "No replacement was performed. Multiple occurrences of old_str `aa` in lines: 1, 1, 1, 2. Please ensure it is unique"
        );
        // One non-overlapping match, two overlapping: Python replaces it.
        let once = str_replace("/m", "aaa", "aa", Ok("b")).unwrap();
        assert_eq!(once.new_content, "ba");
        assert!(!once.unique_overlapping);
        let none = str_replace("/m", "abc", "x", Ok("y")).unwrap_err();
        assert_eq!(
            none,
            "No replacement was performed, old_str `x` did not appear verbatim in /m."
        );
        assert_eq!(
            str_replace("/m", "", "", Ok("new")).unwrap().new_content,
            "new"
        );
        assert_eq!(
            str_replace("/m", "ab", "", Ok("x")).unwrap_err(),
            "No replacement was performed. Multiple occurrences of old_str `` in lines: 1, 1, 1. Please ensure it is unique"
        );
        assert_eq!(
            str_replace("/m", "ab", "a", Err("NoneType")).unwrap_err(),
            "TypeError('replace() argument 2 must be str, not None')"
        );
        let done = str_replace("/m", "1\n2\n3\nold\n5\n6\n7", "old", Ok("new")).unwrap();
        assert_eq!(done.changed_line, 3);
        assert_eq!(
            str_replace_done(&done.new_content, done.changed_line),
            "The memory file has been edited. Here is the snippet showing the change (with line numbers):\n     2\t2\n     3\t3\n     4\tnew\n     5\t5\n     6\t6"
        );
    }

    #[test]
    fn insert_counts_lines_and_ends_with_a_newline() {
        assert_eq!(insert_line_count(""), 0);
        assert_eq!(insert_line_count("a"), 1);
        assert_eq!(insert_line_count("a\n"), 1);
        assert_eq!(insert_line_count("alpha\n\n\n"), 3);
        assert_eq!(
            insert("Line 1\nLine 2", 1, "Inserted Line"),
            "Line 1\nInserted Line\nLine 2\n"
        );
        assert_eq!(
            insert("Line 1\nLine 2", 0, "First\n\n"),
            "First\nLine 1\nLine 2\n"
        );
        assert_eq!(insert("a\r\nb\n", 2, "c"), "a\r\nb\nc\n");
        assert_eq!(insert("", 0, ""), "\n");
        assert_eq!(
            insert_range(3, 2),
            Err("Invalid `insert_line` parameter: 3. It should be within the range [0, 2].".into())
        );
        assert_eq!(
            insert_range(-1, 2),
            Err(
                "Invalid `insert_line` parameter: -1. It should be within the range [0, 2].".into()
            )
        );
    }

    #[test]
    fn listings_sort_siblings_by_name_and_hide_dot_names() {
        let entry = |path: &str, bytes: Option<u64>| TreeEntry {
            segments: path.split('/').map(str::to_string).collect(),
            bytes,
        };
        let entries = [
            entry("a.txt", Some(3)),
            entry("a", None),
            entry("a/x.md", Some(2048)),
            entry("a/deep", None),
            entry(".hidden", None),
            entry(".hidden/h.md", Some(1)),
            entry("README.md", Some(0)),
        ];
        assert_eq!(
            view_dir("/memories", &entries),
            "Here're the files and directories up to 2 levels deep in /memories, excluding hidden items:\n\
             4K\t/memories\n0B\t/memories/README.md\n4K\t/memories/a/\n4K\t/memories/a/deep/\n\
             2K\t/memories/a/x.md\n3B\t/memories/a.txt"
        );
    }
}
