//! `cairn watch STORE`: follows the store's change feed, printing each
//! change as it arrives, and reconnects after the last change seen
//! (`Last-Event-ID`) when the stream breaks, goes silent, or its node stops.

use std::io::Write;
use std::time::Duration;

use cairn_client::{ClientError, WatchChange, WatchEndReason, WatchEvent, WatchQuery};

use crate::cli::WatchArgs;
use crate::commands::Context;
use crate::exit::Failure;
use crate::render;

/// The first pause before reconnecting; it doubles up to `RECONNECT_PAUSE_MAX`.
const RECONNECT_PAUSE: Duration = Duration::from_millis(200);
const RECONNECT_PAUSE_MAX: Duration = Duration::from_secs(5);

pub async fn run(context: Context, args: WatchArgs) -> Result<Vec<u8>, Failure> {
    let idle = Duration::from_millis(args.idle_timeout_ms.max(1));
    let mut last_seen: Option<u64> = None;
    let mut remaining = args.limit;
    let mut failures = 0u32;
    let mut pause = RECONNECT_PAUSE;
    loop {
        let query = WatchQuery {
            from_revision: args.from_revision,
            until_revision: args.until_revision,
            limit: remaining,
            consistency: None,
        };
        let mut stream = match context.client.watch(&args.store, query, last_seen).await {
            Ok(stream) => stream,
            Err(error) if reconnectable(&error) && failures < args.retries => {
                failures += 1;
                eprintln!("watch: {}: {}; reconnecting", error.code(), error.detail());
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(RECONNECT_PAUSE_MAX);
                continue;
            }
            Err(error) => return Err(error.into()),
        };
        failures = 0;
        pause = RECONNECT_PAUSE;
        loop {
            let event = match tokio::time::timeout(idle, stream.next()).await {
                Ok(Ok(Some(event))) => event,
                // Closed, broken or silent: resume after the last change seen.
                Ok(Ok(None)) | Ok(Err(_)) | Err(_) => break,
            };
            match event {
                WatchEvent::Change(change) => {
                    last_seen = Some(change.revision);
                    remaining = remaining.map(|left| left.saturating_sub(1));
                    print_change(&context, &change)?;
                }
                WatchEvent::Heartbeat(_) => {}
                WatchEvent::End(end) if end.reason == WatchEndReason::Shutdown => break,
                WatchEvent::End(_) => return Ok(Vec::new()),
                WatchEvent::TooOld(too_old) => {
                    return Err(Failure::refused(
                        "too_old",
                        format!(
                            "revision {} is older than the node replays (oldest {}, current {}): \
                             read the tree at {} and watch --from {}",
                            too_old.from_revision,
                            too_old.oldest_revision,
                            too_old.current_revision,
                            too_old.current_revision,
                            too_old.current_revision + 1
                        ),
                    ));
                }
                WatchEvent::Error(problem) => {
                    return Err(Failure::Client(ClientError::Api(Box::new(problem))));
                }
            }
        }
        if remaining == Some(0) {
            return Ok(Vec::new());
        }
    }
}

/// Worth another try: the node was unreachable, timed out or unavailable.
fn reconnectable(error: &ClientError) -> bool {
    !error.is_client_error()
        && !matches!(
            error,
            ClientError::InvalidUrl(_) | ClientError::InvalidHeader(_)
        )
}

fn print_change(context: &Context, change: &WatchChange) -> Result<(), Failure> {
    let line = if context.json {
        serde_json::to_string(change)
            .map_err(|error| Failure::usage("io", format!("encode JSON: {error}")))?
    } else {
        render::watch_change(change)
    };
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")
        .and_then(|()| out.flush())
        .map_err(|error| Failure::usage("io", format!("write standard output: {error}")))
}
