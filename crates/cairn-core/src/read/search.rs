//! Search: the lines of a store's files that match a pattern, now or as of a
//! past revision, under a path prefix, a page at a time.
//!
//! The only mode is lexical ([`SearchMode::Lexical`]): a literal substring or
//! a regular expression (`regex`, linear time in the text, its compiled size
//! bounded), matched line by line against the files' content. It reads the
//! files themselves and keeps no index. A semantic mode would be another
//! [`SearchMode`] with its own index, built as files change and queried
//! through the same request and result shapes; none exists yet, and a request
//! can only name `lexical`.
//!
//! A page ends after `matches_max` matches, or once `files_max` files or
//! `bytes_max` content bytes were read (a file is always read whole), and
//! then says where to go on ([`SearchCursor`]).

use regex::RegexBuilder;

use super::{check_revision, get_store};
use crate::codec::{self, FileRecord};
use crate::error::{CoreError, ReadError, StorageError};
use crate::governance::StoreRef;
use crate::kv::{KvRead, Table, scan_prefix};
use crate::limits::{
    SEARCH_LINE_BYTES_MAX, SEARCH_PATTERN_BYTES_MAX, SEARCH_REGEX_BYTES_MAX,
    SEARCH_REGEX_DFA_BYTES_MAX,
};
use crate::path::DirPath;

/// How a search matches. The seam for other kinds of search: each is a
/// variant, and only `Lexical` is implemented.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SearchMode {
    /// Lines that contain the pattern (literal) or match it (regex).
    #[default]
    Lexical,
}

/// A compiled pattern.
#[derive(Clone, Debug)]
pub enum Pattern {
    Literal(String),
    Regex(regex::Regex),
}

impl Pattern {
    /// `text` as a literal substring (`regex: false`) or a regular expression.
    /// Empty and overlong patterns are refused, and so is a regular
    /// expression that does not parse or compiles larger than
    /// `SEARCH_REGEX_BYTES_MAX` (`invalid_pattern`).
    pub fn new(text: &str, regex: bool) -> Result<Pattern, CoreError> {
        if text.is_empty() {
            return Err(CoreError::invalid_request("q must not be empty"));
        }
        if text.len() > SEARCH_PATTERN_BYTES_MAX {
            return Err(CoreError::limit(
                "search_pattern_bytes_max",
                SEARCH_PATTERN_BYTES_MAX as u64,
                text.len() as u64,
            ));
        }
        if !regex {
            return Ok(Pattern::Literal(text.to_string()));
        }
        RegexBuilder::new(text)
            .size_limit(SEARCH_REGEX_BYTES_MAX)
            .dfa_size_limit(SEARCH_REGEX_DFA_BYTES_MAX)
            .build()
            .map(Pattern::Regex)
            .map_err(|error| CoreError::InvalidPattern {
                pattern: text.to_string(),
                reason: match error {
                    regex::Error::CompiledTooBig(limit) => format!(
                        "the compiled pattern would exceed {limit} bytes (search_regex_bytes_max)"
                    ),
                    // The parser's message spans several lines with a caret
                    // under the error; one line reads better in a problem.
                    other => other
                        .to_string()
                        .lines()
                        .map(str::trim)
                        .filter(|line| !line.is_empty())
                        .collect::<Vec<_>>()
                        .join(" "),
                },
            })
    }

    pub fn is_match(&self, line: &str) -> bool {
        match self {
            Pattern::Literal(text) => line.contains(text.as_str()),
            Pattern::Regex(regex) => regex.is_match(line),
        }
    }
}

/// Where the next page starts: after line `line` of `path` (line 0: at the
/// start of `path`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchCursor {
    pub path: String,
    pub line: u64,
}

impl SearchCursor {
    /// `LINE:PATH`, the text a client passes back as `cursor`.
    pub fn encode(&self) -> String {
        format!("{}:{}", self.line, self.path)
    }

    pub fn decode(text: &str) -> Result<SearchCursor, CoreError> {
        let invalid = || {
            CoreError::invalid_request(format!(
                "cursor {text:?} is not one a search answered (LINE:PATH)"
            ))
        };
        let (line, path) = text.split_once(':').ok_or_else(invalid)?;
        let line = line.parse().map_err(|_| invalid())?;
        if !path.starts_with('/') {
            return Err(invalid());
        }
        Ok(SearchCursor {
            path: path.to_string(),
            line,
        })
    }
}

/// One page's request.
#[derive(Clone, Debug)]
pub struct SearchRequest<'a> {
    pub mode: SearchMode,
    pub pattern: &'a Pattern,
    /// Only files under this directory.
    pub prefix: &'a DirPath,
    /// The files as of this store revision; `None`: as they are now.
    pub revision: Option<u64>,
    pub after: Option<SearchCursor>,
    pub matches_max: u64,
    pub files_max: u64,
    pub bytes_max: u64,
}

/// One matching line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchMatch {
    pub path: String,
    /// The file's version that holds the line.
    pub version: u64,
    /// 1-based.
    pub line_number: u64,
    /// The line without its end, cut to `SEARCH_LINE_BYTES_MAX`.
    pub line: String,
    /// The line was longer than `SEARCH_LINE_BYTES_MAX` and was cut.
    pub truncated: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchPage {
    /// The revision searched: the store's current one, or the one asked for.
    pub revision: u64,
    /// In path order, then line order.
    pub matches: Vec<SearchMatch>,
    /// Where the next page starts; `None` when the search is complete.
    pub next: Option<SearchCursor>,
    pub files_scanned: u64,
    pub bytes_scanned: u64,
}

/// A file to search: its path and the version to read.
struct Candidate {
    path: String,
    version: u64,
}

pub fn search(
    kv: &(impl KvRead + ?Sized),
    store: &StoreRef,
    request: &SearchRequest<'_>,
) -> Result<SearchPage, ReadError> {
    let SearchMode::Lexical = request.mode;
    let info = get_store(kv, store)?;
    if let Some(revision) = request.revision {
        check_revision(&info, revision)?;
    }
    // The directory's files, or the file the prefix names (as listings do).
    let dir = request.prefix.as_str();
    let start = request
        .after
        .as_ref()
        .map_or(dir, |cursor| cursor.path.as_str());
    let mut candidates = match request.revision {
        None => files_now(kv, info.id, dir, start)?,
        Some(revision) => files_as_of(kv, info.id, dir, start, revision)?,
    };
    candidates.retain(|file| crate::audit::path_is_under(&file.path, dir));
    let mut page = SearchPage {
        revision: request.revision.unwrap_or(info.revision),
        matches: Vec::new(),
        next: None,
        files_scanned: 0,
        bytes_scanned: 0,
    };
    let matches_max = usize::try_from(request.matches_max.max(1)).unwrap_or(usize::MAX);
    let mut files = candidates.iter().peekable();
    while let Some(file) = files.next() {
        let skip_lines = match &request.after {
            Some(cursor) if cursor.path == file.path => cursor.line,
            _ => 0,
        };
        let Some(content) = content(kv, info.id, &file.path, file.version)? else {
            // Redacted whole: there is nothing left to search.
            continue;
        };
        page.files_scanned += 1;
        page.bytes_scanned += content.len() as u64;
        for (index, line) in content.split('\n').enumerate() {
            let line_number = index as u64 + 1;
            if line_number <= skip_lines {
                continue;
            }
            let line = line.strip_suffix('\r').unwrap_or(line);
            if !request.pattern.is_match(line) {
                continue;
            }
            if page.matches.len() >= matches_max {
                page.next = Some(SearchCursor {
                    path: file.path.clone(),
                    line: line_number - 1,
                });
                return Ok(page);
            }
            let (line, truncated) = cut(line, SEARCH_LINE_BYTES_MAX);
            page.matches.push(SearchMatch {
                path: file.path.clone(),
                version: file.version,
                line_number,
                line: line.to_string(),
                truncated,
            });
        }
        let spent =
            page.files_scanned >= request.files_max || page.bytes_scanned >= request.bytes_max;
        if spent && let Some(next) = files.peek() {
            page.next = Some(SearchCursor {
                path: next.path.clone(),
                line: 0,
            });
            return Ok(page);
        }
    }
    Ok(page)
}

/// `line` cut to at most `max` bytes at a character boundary.
fn cut(line: &str, max: usize) -> (&str, bool) {
    if line.len() <= max {
        return (line, false);
    }
    let mut end = max;
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    (&line[..end], true)
}

/// The live files under `prefix` from `start` on, in path order.
fn files_now(
    kv: &(impl KvRead + ?Sized),
    store_id: u64,
    prefix: &str,
    start: &str,
) -> Result<Vec<Candidate>, StorageError> {
    let mut files = Vec::new();
    scan_prefix(
        kv,
        Table::Files,
        &codec::file_key(store_id, prefix),
        false,
        &mut |key, value| {
            let path = codec::file_key_path(key)?;
            if path >= start {
                let record: FileRecord = codec::decode(value)?;
                files.push(Candidate {
                    path: path.to_string(),
                    version: record.version,
                });
            }
            Ok(true)
        },
    )?;
    Ok(files)
}

/// The files live at `revision` under `prefix` from `start` on, in path order.
fn files_as_of(
    kv: &(impl KvRead + ?Sized),
    store_id: u64,
    prefix: &str,
    start: &str,
    revision: u64,
) -> Result<Vec<Candidate>, StorageError> {
    Ok(
        super::list::live_files_as_of(kv, store_id, prefix, revision)?
            .into_iter()
            .filter(|file| file.path.as_str() >= start)
            .map(|file| Candidate {
                path: file.path,
                version: file.version,
            })
            .collect(),
    )
}

/// The content of `path` at `version`, or `None` if a redaction removed it whole.
fn content(
    kv: &(impl KvRead + ?Sized),
    store_id: u64,
    path: &str,
    version: u64,
) -> Result<Option<String>, StorageError> {
    let record = super::file::version_record(kv, store_id, path, version)?.ok_or_else(|| {
        StorageError::corrupt(format!("live file {path} has no version {version}"))
    })?;
    if record.redaction.as_ref().is_some_and(|mark| mark.whole) {
        return Ok(None);
    }
    super::file::version_content(kv, store_id, path, &record).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_are_checked_and_match_lines() {
        assert!(Pattern::new("a.c", false).unwrap().is_match("xa.cx"));
        assert!(!Pattern::new("a.c", false).unwrap().is_match("abc"));
        assert!(Pattern::new("a.c", true).unwrap().is_match("abc"));
        assert_eq!(
            Pattern::new("", false).unwrap_err().code(),
            "invalid_request"
        );
        assert_eq!(
            Pattern::new("(", true).unwrap_err().code(),
            "invalid_pattern"
        );
        let long = "a".repeat(SEARCH_PATTERN_BYTES_MAX + 1);
        assert_eq!(
            Pattern::new(&long, false).unwrap_err().code(),
            "limit_exceeded"
        );
        // Small to write, huge compiled: refused by the size limit.
        let error = Pattern::new(r"\w{1000}\w{1000}", true).unwrap_err();
        assert_eq!(error.code(), "invalid_pattern");
        assert!(
            error.to_string().contains("search_regex_bytes_max"),
            "{error}"
        );
    }

    #[test]
    fn cursors_round_trip_and_lines_cut_at_characters() {
        let cursor = SearchCursor {
            path: "/a:b/c.md".into(),
            line: 7,
        };
        assert_eq!(SearchCursor::decode(&cursor.encode()).unwrap(), cursor);
        assert!(SearchCursor::decode("x:/a").is_err());
        assert!(SearchCursor::decode("3:a").is_err());
        assert!(SearchCursor::decode("3").is_err());
        assert_eq!(cut("héllo", 2), ("h", true));
        assert_eq!(cut("héllo", 3), ("hé", true));
        assert_eq!(cut("hi", 2), ("hi", false));
    }
}
