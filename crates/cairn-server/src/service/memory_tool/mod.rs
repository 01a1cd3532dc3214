//! Claude's client-side memory tool (`memory_20250818`) answered by a store:
//! `/memories` is the store's root, each call is one read or one transaction,
//! and every outcome of the tool itself is a `MemoryToolResult` (the
//! reference profile's texts are in `python.rs`). Authentication and an
//! unknown store stay service errors, as on every other route.
//!
//! A write is planned from a linearizable read, then proposed as one
//! transaction: `str_replace` and `insert` as `WriteOp::StrReplace` /
//! `WriteOp::Insert` without a precondition, so two agents editing different
//! lines of one file both succeed; when the state changed under the plan so
//! that the operation no longer applies, the call is planned again from a new
//! read (at most `ATTEMPTS_MAX` times), so its answer is the one the new state
//! gives.

mod python;

/// The memory tool's line-numbered view of a file, which the MCP `view` tool
/// shows too.
pub(crate) use python::view_file;

use cairn_api::{Consistency, MemoryToolResult};
use cairn_core::command::{Precondition, WriteOp};
use cairn_core::read::{self, EntryKind, ListOptions};
use cairn_core::{Access, At, CoreError, DirPath, FilePath, Limits, ReadError, Resource, StoreRef};
use cairn_raft::StateReader;
use serde_json::Value;

use self::python::TreeEntry;
use super::{RequestContext, Service, ServiceError, ServiceResult};

/// How often one call is planned again after the state moved under it.
const ATTEMPTS_MAX: u32 = 8;

/// What a path names in the store.
enum Found {
    Missing,
    /// Some ancestor of the path is a file.
    UnderFile,
    File {
        content: String,
        version: u64,
    },
    /// A directory (the root always is one), with the files and directories
    /// below it that the command needs.
    Dir {
        entries: Vec<TreeEntry>,
        files: Vec<(String, u64)>,
    },
}

/// A planned change: the operations and the text answered once they applied.
struct Plan {
    ops: Vec<WriteOp>,
    done: String,
    /// Whether `done` reports an error although the operations apply.
    done_is_error: bool,
    /// For `str_replace`: the file and the occurrence, to show the snippet
    /// of the content the change really made.
    replaced: Option<(FilePath, String, String)>,
}

fn ok(content: String) -> MemoryToolResult {
    MemoryToolResult {
        content,
        is_error: false,
    }
}

fn tool_error(content: String) -> MemoryToolResult {
    MemoryToolResult {
        content,
        is_error: true,
    }
}

/// A string field, or the Python type name of what stands there instead.
fn string_field<'a>(input: &'a Value, name: &str) -> Result<&'a str, &'static str> {
    match input.get(name) {
        Some(Value::String(text)) => Ok(text),
        other => Err(python::type_name(other)),
    }
}

/// An integer field; the SDK's model types turn `"3"` into `3` as well.
fn integer(value: Option<&Value>) -> Option<i64> {
    match value? {
        Value::Number(number) => number.as_i64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

/// A path field resolved under `/memories`, as the SDK validates it.
fn path_field(input: &Value, name: &str) -> Result<(String, Vec<String>), String> {
    let raw = string_field(input, name)
        .map_err(|_| python::no_attribute(input.get(name), "startswith"))?;
    let segments = python::resolve(raw)?;
    Ok((raw.to_string(), segments))
}

/// The store path of resolved segments: `None` for the root.
fn store_path(segments: &[String], service: &Service) -> Result<Option<FilePath>, String> {
    if segments.is_empty() {
        return Ok(None);
    }
    FilePath::parse(&format!("/{}", segments.join("/")), &service.limits)
        .map(Some)
        .map_err(|error| error.to_string())
}

/// What `path` names, in one read. `depth` bounds the directory entries
/// gathered (`None`: every file below).
fn find(
    reader: &StateReader,
    store: &StoreRef,
    path: Option<&FilePath>,
    depth: Option<u64>,
    limits: &Limits,
) -> Result<Found, ReadError> {
    let dir = match path {
        None => DirPath::root(),
        Some(path) => {
            // A file path is a directory path by the same rules.
            let dir = DirPath::parse(path.as_str(), limits)?;
            match read::read_file(reader, store, path, At::Current) {
                Ok(file) => {
                    return Ok(Found::File {
                        content: file.content,
                        version: file.meta.version,
                    });
                }
                Err(ReadError::Domain(CoreError::NotFound {
                    resource: Resource::File,
                    ..
                })) => {}
                Err(error) => return Err(error),
            }
            dir
        }
    };
    let listing = match read::list(
        reader,
        store,
        &dir,
        ListOptions {
            depth,
            revision: None,
        },
    ) {
        Ok(listing) => listing,
        Err(ReadError::Domain(CoreError::NotFound {
            resource: Resource::File,
            ..
        })) => return under_file_or_missing(reader, store, path, limits),
        Err(error) => return Err(error),
    };
    if listing.entries.is_empty() && path.is_some() {
        return under_file_or_missing(reader, store, path, limits);
    }
    let prefix = dir.prefix();
    let mut entries = Vec::with_capacity(listing.entries.len());
    let mut files = Vec::new();
    for entry in listing.entries {
        let Some(relative) = entry.path.strip_prefix(&prefix) else {
            continue;
        };
        if let (EntryKind::File, Some(version)) = (entry.kind, entry.version) {
            files.push((entry.path.clone(), version));
        }
        entries.push(TreeEntry {
            segments: relative.split('/').map(str::to_string).collect(),
            bytes: match entry.kind {
                EntryKind::File => entry.bytes,
                EntryKind::Dir => None,
            },
        });
    }
    Ok(Found::Dir { entries, files })
}

fn under_file_or_missing(
    reader: &StateReader,
    store: &StoreRef,
    path: Option<&FilePath>,
    limits: &Limits,
) -> Result<Found, ReadError> {
    let Some(path) = path else {
        return Ok(Found::Missing);
    };
    for ancestor in path.ancestors() {
        let Ok(ancestor) = FilePath::parse(ancestor, limits) else {
            continue;
        };
        if read::stat(reader, store, &ancestor, At::Current).is_ok() {
            return Ok(Found::UnderFile);
        }
    }
    Ok(Found::Missing)
}

/// Whether a refused transaction may succeed, or fail differently, when
/// planned again from a newer state.
fn raced(error: &CoreError) -> bool {
    matches!(
        error,
        CoreError::NotFound {
            resource: Resource::File,
            ..
        } | CoreError::AlreadyExists { .. }
            | CoreError::VersionConflict { .. }
            | CoreError::PathConflict { .. }
            | CoreError::NoUniqueMatch { .. }
            | CoreError::InvalidLine { .. }
    )
}

impl Service {
    /// Runs one memory tool call (`input` as the model emitted it) on `store`.
    #[tracing::instrument(level = "debug", skip_all, fields(node_id = self.node_id(), store = %store, request_id = %context.request_id))]
    pub async fn memory_tool(
        &self,
        context: &RequestContext,
        store: &str,
        input: Value,
    ) -> ServiceResult<MemoryToolResult> {
        // Who may not read the store, or cannot see it, gets the HTTP error.
        self.authorize_store(context, store, Access::Read).await?;
        let command = match input.get("command") {
            Some(Value::String(command)) => command.clone(),
            None | Some(Value::Null) => "None".to_string(),
            Some(other) => other.to_string(),
        };
        if command == "view" {
            return self.memory_view(context, store, &input).await;
        }
        if !matches!(
            command.as_str(),
            "create" | "str_replace" | "insert" | "delete" | "rename"
        ) {
            return Ok(tool_error(python::unknown_command(&command)));
        }
        let mut last_refusal = None;
        for _ in 0..ATTEMPTS_MAX {
            let plan = match self.memory_plan(context, store, &command, &input).await? {
                Ok(plan) => plan,
                Err(text) => return Ok(tool_error(text)),
            };
            match self.txn_of(context, store, plan.ops, None).await {
                Ok(_) if plan.done_is_error => return Ok(tool_error(plan.done)),
                Ok(result) => {
                    let done = match plan.replaced {
                        Some((path, old, new)) => self
                            .replaced_snippet(context, store, &path, result.revision, &old, &new)
                            .await
                            .unwrap_or(plan.done),
                        None => plan.done,
                    };
                    return Ok(ok(done));
                }
                Err(ServiceError::Refused(refusal))
                    if matches!(refusal.error, CoreError::Forbidden { .. }) =>
                {
                    // The refusal is an audit event of its own (`refused`).
                    tracing::info!(
                        store = %store,
                        command = %command,
                        reason = %refusal.error,
                        "memory tool: write refused, the token may only read this store"
                    );
                    let operation = format!("memory_tool.{command}");
                    self.record_refusal(context, store, &operation, &refusal.error.to_string())
                        .await;
                    return Ok(tool_error(python::permission_denied()));
                }
                Err(ServiceError::Refused(refusal)) if raced(&refusal.error) => {
                    last_refusal = Some(refusal.error.to_string());
                }
                Err(ServiceError::Refused(refusal)) => {
                    return Ok(tool_error(refusal.error.to_string()));
                }
                Err(error) => return Err(error),
            }
        }
        Ok(tool_error(last_refusal.unwrap_or_default()))
    }

    async fn memory_find(
        &self,
        context: &RequestContext,
        store: &str,
        path: Option<&FilePath>,
        depth: Option<u64>,
    ) -> ServiceResult<Found> {
        let limits = self.limits;
        self.read_store(
            context,
            store,
            Consistency::Linearizable,
            |reader, store| find(reader, store, path, depth, &limits),
        )
        .await
    }

    async fn memory_view(
        &self,
        context: &RequestContext,
        store: &str,
        input: &Value,
    ) -> ServiceResult<MemoryToolResult> {
        let (raw, segments) = match path_field(input, "path") {
            Ok(found) => found,
            Err(text) => return Ok(tool_error(text)),
        };
        let path = match store_path(&segments, self) {
            Ok(path) => path,
            Err(text) => return Ok(tool_error(text)),
        };
        let view_range = match input.get("view_range") {
            Some(Value::Array(range)) if range.len() == 2 => {
                match (integer(range.first()), integer(range.get(1))) {
                    (Some(first), Some(last)) => Some((first, last)),
                    _ => {
                        return Ok(tool_error(format!(
                            "Invalid `view_range` parameter: {}. It should be two integers.",
                            Value::Array(range.clone())
                        )));
                    }
                }
            }
            _ => None,
        };
        Ok(
            match self
                .memory_find(context, store, path.as_ref(), Some(2))
                .await?
            {
                Found::Missing | Found::UnderFile => tool_error(python::not_found_valid(&raw)),
                Found::Dir { entries, .. } => ok(python::view_dir(&raw, &entries)),
                Found::File { content, .. } => {
                    match python::view_file(&raw, &content, view_range) {
                        Ok(text) => ok(text),
                        Err(text) => tool_error(text),
                    }
                }
            },
        )
    }

    /// Plans one write command from a fresh read: the operations, or the
    /// tool's error text.
    async fn memory_plan(
        &self,
        context: &RequestContext,
        store: &str,
        command: &str,
        input: &Value,
    ) -> ServiceResult<Result<Plan, String>> {
        macro_rules! attempt {
            ($result:expr) => {
                match $result {
                    Ok(value) => value,
                    Err(text) => return Ok(Err(text)),
                }
            };
        }
        let plan = |ops: Vec<WriteOp>, done: String| {
            Ok(Ok(Plan {
                ops,
                done,
                done_is_error: false,
                replaced: None,
            }))
        };
        if command == "rename" {
            let (old_raw, old_segments) = attempt!(path_field(input, "old_path"));
            let (new_raw, new_segments) = attempt!(path_field(input, "new_path"));
            if old_segments.is_empty() {
                return Ok(Err(python::RENAME_ROOT.to_string()));
            }
            let old = attempt!(store_path(&old_segments, self));
            let new = attempt!(store_path(&new_segments, self));
            let (Some(old), Some(new)) = (old, new) else {
                // The destination is the root, which always exists.
                return Ok(Err(python::destination_exists(&new_raw)));
            };
            match self
                .memory_find(context, store, Some(&new), Some(1))
                .await?
            {
                Found::File { .. } | Found::Dir { .. } => {
                    return Ok(Err(python::destination_exists(&new_raw)));
                }
                Found::UnderFile => return Ok(Err(python::not_a_directory())),
                Found::Missing => {}
            }
            let done = python::renamed(&old_raw, &new_raw);
            return match self.memory_find(context, store, Some(&old), None).await? {
                Found::Missing => Ok(Err(python::not_found(&old_raw))),
                Found::UnderFile => Ok(Err(python::not_a_directory())),
                Found::File { version, .. } => plan(
                    vec![WriteOp::Rename {
                        from: old,
                        to: new,
                        overwrite: false,
                        precondition: Precondition::IfVersion(version),
                    }],
                    done,
                ),
                Found::Dir { files, .. } => {
                    if new.as_str().starts_with(&format!("{}/", old.as_str())) {
                        return Ok(Err(python::invalid_argument()));
                    }
                    let mut ops = Vec::with_capacity(files.len());
                    for (path, version) in files {
                        let to = format!("{}{}", new.as_str(), &path[old.as_str().len()..]);
                        ops.push(WriteOp::Rename {
                            from: attempt!(self.file_path(&path).map_err(|e| e.to_string())),
                            to: attempt!(self.file_path(&to).map_err(|e| e.to_string())),
                            overwrite: false,
                            precondition: Precondition::IfVersion(version),
                        });
                    }
                    plan(ops, done)
                }
            };
        }
        let (raw, segments) = attempt!(path_field(input, "path"));
        if command == "delete" && segments.is_empty() {
            return Ok(Err(python::DELETE_ROOT.to_string()));
        }
        let path = attempt!(store_path(&segments, self));
        let depth = if command == "delete" { None } else { Some(1) };
        let found = self
            .memory_find(context, store, path.as_ref(), depth)
            .await?;
        let Some(path) = path else {
            // The root: a directory that always exists.
            return Ok(Err(match command {
                "create" => python::already_exists(&raw),
                _ => python::not_a_file(&raw),
            }));
        };
        match command {
            "create" => {
                match found {
                    Found::File { .. } | Found::Dir { .. } => {
                        return Ok(Err(python::already_exists(&raw)));
                    }
                    Found::UnderFile => return Ok(Err(python::not_a_directory())),
                    Found::Missing => {}
                }
                let (content, done, done_is_error) = match string_field(input, "file_text") {
                    Ok(content) => (content.to_string(), python::created(&raw), false),
                    // The SDK opens the file before it encodes the text: the
                    // call fails and leaves an empty file.
                    Err(_) => (
                        String::new(),
                        python::no_attribute(input.get("file_text"), "encode"),
                        true,
                    ),
                };
                Ok(Ok(Plan {
                    ops: vec![WriteOp::Write {
                        path,
                        content,
                        precondition: Precondition::IfAbsent,
                    }],
                    done,
                    done_is_error,
                    replaced: None,
                }))
            }
            "delete" => match found {
                Found::Missing | Found::UnderFile => Ok(Err(python::not_found(&raw))),
                Found::File { version, .. } => plan(
                    vec![WriteOp::Delete {
                        path,
                        recursive: false,
                        precondition: Precondition::IfVersion(version),
                    }],
                    python::deleted(&raw),
                ),
                Found::Dir { .. } => plan(
                    vec![WriteOp::Delete {
                        path,
                        recursive: true,
                        precondition: Precondition::None,
                    }],
                    python::deleted(&raw),
                ),
            },
            _ => {
                let (content, version) = match found {
                    Found::Missing | Found::UnderFile => {
                        return Ok(Err(python::not_found_valid(&raw)));
                    }
                    Found::Dir { .. } => return Ok(Err(python::not_a_file(&raw))),
                    Found::File { content, version } => (content, version),
                };
                if command == "str_replace" {
                    self.plan_str_replace(input, &raw, path, &content, version)
                } else {
                    Ok(plan_insert(input, &raw, path, &content, version))
                }
            }
        }
    }

    fn plan_str_replace(
        &self,
        input: &Value,
        raw: &str,
        path: FilePath,
        content: &str,
        version: u64,
    ) -> ServiceResult<Result<Plan, String>> {
        let old = match string_field(input, "old_str") {
            Ok(old) => old,
            Err(type_name) => {
                return Ok(Err(python::exception(
                    "TypeError",
                    &format!("must be str, not {type_name}"),
                )));
            }
        };
        let new = string_field(input, "new_str");
        let replacement = match python::str_replace(raw, content, old, new) {
            Ok(replacement) => replacement,
            Err(text) => return Ok(Err(text)),
        };
        let new = new.unwrap_or_default().to_string();
        let done = python::str_replace_done(&replacement.new_content, replacement.changed_line);
        // The state machine's `StrReplace` refuses overlapping matches that
        // Python's count does not see; such a file is written whole, on the
        // version read.
        let op = if replacement.unique_overlapping {
            WriteOp::StrReplace {
                path: path.clone(),
                old: old.to_string(),
                new: new.clone(),
                precondition: Precondition::None,
            }
        } else {
            WriteOp::Write {
                path: path.clone(),
                content: replacement.new_content,
                precondition: Precondition::IfVersion(version),
            }
        };
        Ok(Ok(Plan {
            ops: vec![op],
            done,
            done_is_error: false,
            replaced: Some((path, old.to_string(), new)),
        }))
    }

    /// The `str_replace` answer from the content the change really made: the
    /// file just before and at the transaction's revision (another agent may
    /// have edited other lines between the plan and the apply).
    async fn replaced_snippet(
        &self,
        context: &RequestContext,
        store: &str,
        path: &FilePath,
        revision: u64,
        old: &str,
        new: &str,
    ) -> Option<String> {
        let (before, after) = self
            .read_store(
                context,
                store,
                Consistency::Linearizable,
                |reader, store| {
                    let before = read::read_file(reader, store, path, At::Revision(revision - 1))?;
                    let after = read::read_file(reader, store, path, At::Version(revision))?;
                    Ok((before.content, after.content))
                },
            )
            .await
            .ok()?;
        let replacement = python::str_replace("", &before, old, Ok(new)).ok()?;
        (replacement.new_content == after)
            .then(|| python::str_replace_done(&after, replacement.changed_line))
    }
}

fn plan_insert(
    input: &Value,
    raw: &str,
    path: FilePath,
    content: &str,
    version: u64,
) -> Result<Plan, String> {
    let line = match input.get("insert_line") {
        value
        @ (None | Some(Value::Null | Value::Bool(_) | Value::Array(_) | Value::Object(_))) => {
            return Err(python::exception(
                "TypeError",
                &format!(
                    "'<' not supported between instances of '{}' and 'int'",
                    python::type_name(value)
                ),
            ));
        }
        Some(Value::Number(number)) if number.is_f64() => {
            return Err(python::exception(
                "TypeError",
                "'float' object cannot be interpreted as an integer",
            ));
        }
        value => match integer(value) {
            Some(line) => line,
            None => {
                return Err(python::exception(
                    "TypeError",
                    "'<' not supported between instances of 'str' and 'int'",
                ));
            }
        },
    };
    let line = python::insert_range(line, python::insert_line_count(content))?;
    let text = string_field(input, "insert_text")
        .map_err(|_| python::no_attribute(input.get("insert_text"), "rstrip"))?;
    let text = text.trim_end_matches('\n');
    // The state machine's `Insert` makes the SDK's file but where the SDK
    // also ends a file that lacked a final newline, or adds an empty last
    // line that its join swallows: such a file is written whole, on the
    // version read.
    let wanted = python::insert(content, line, text);
    let op = match cairn_core::apply::insert_at_line(&path, content, line, text) {
        Ok(made) if made == wanted => WriteOp::Insert {
            path,
            line,
            text: text.to_string(),
            precondition: Precondition::None,
        },
        _ => WriteOp::Write {
            path,
            content: wanted,
            precondition: Precondition::IfVersion(version),
        },
    };
    Ok(Plan {
        ops: vec![op],
        done: python::inserted(raw),
        done_is_error: false,
        replaced: None,
    })
}
