//! The HTTP/1 server loop: one task per connection, each under hyper's
//! header read timeout, so a client that opens connections and trickles
//! their request heads (slowloris) cannot hold a task and a socket for
//! ever; the body is bounded separately (`BoundedBody`, by the request
//! timeout). `axum::serve` has no timer, hence this loop.
//!
//! The timeout also closes a keep-alive connection that stays idle longer:
//! `cairn-client` never reuses an idle connection older than
//! `IDLE_CONNECTION_MS_MAX`, well below any allowed timeout.

use std::future::Future;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tower::ServiceExt;

use super::RemoteAddr;

/// The shortest header read timeout a configuration may set: above any
/// client's idle reuse window, with room to spare.
pub const HEADER_READ_TIMEOUT_MS_MIN: u64 = 5_000;

/// How long shutting down waits for requests in flight.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `router` on `listener` until `shutdown` completes, then lets the
/// requests in flight finish (up to `DRAIN_TIMEOUT`).
pub async fn serve<L>(
    mut listener: L,
    router: Router,
    header_read_timeout: Duration,
    shutdown: impl Future<Output = ()>,
) where
    L: axum::serve::Listener,
    L::Addr: std::fmt::Display,
{
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (io, addr) = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let remote = RemoteAddr(addr.to_string().parse().ok());
        let service = router.clone().map_request(
            move |mut request: hyper::Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(ConnectInfo(remote));
                request
            },
        );
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(header_read_timeout)
            .serve_connection(TokioIo::new(io), TowerToHyperService::new(service));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, remote = ?remote.0, "connection ended with an error");
            }
        });
    }
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still in flight after {DRAIN_TIMEOUT:?}; stopping anyway");
    }
}
