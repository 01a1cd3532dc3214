//! Requests a follower sends to the leader (proposals, read indexes,
//! membership changes) over the peer protocol, on a small pool of
//! connections per leader address.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::{FutureExt, StreamExt};

use crate::Connector;
use crate::transport::{self, Conn, PeerRequest, PeerResponse};

/// Idle connections kept per peer address.
const IDLE_PER_PEER_MAX: usize = 64;

pub(crate) enum ForwardFailure {
    /// The request never reached the peer: safe to retry.
    NotSent(std::io::Error),
    /// The request was sent but no answer came back: it may have taken effect.
    NoAnswer(String),
}

pub(crate) struct Forwarder {
    from: u64,
    connector: Arc<dyn Connector>,
    secret: Arc<str>,
    deadline: Duration,
    /// A `BTreeMap`, not a `HashMap`: when the node stops, the pool closes its
    /// connections in map order, and each close sends a message; std's
    /// `HashMap` orders by a seed drawn per process, which made simulation
    /// runs of one seed differ from process to process.
    idle: Mutex<BTreeMap<String, Vec<Conn>>>,
}

impl Forwarder {
    pub(crate) fn new(
        from: u64,
        connector: Arc<dyn Connector>,
        secret: Arc<str>,
        deadline: Duration,
    ) -> Forwarder {
        Forwarder {
            from,
            connector,
            secret,
            deadline,
            idle: Mutex::new(BTreeMap::new()),
        }
    }

    /// An idle connection the peer has not closed. A closed one (the peer
    /// restarted, or died) would take the request and lose it, making its
    /// outcome unknown; checking first keeps that to true races.
    fn take_idle(&self, addr: &str) -> Option<Conn> {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        let conns = idle.get_mut(addr)?;
        while let Some(mut conn) = conns.pop() {
            // Idle means the peer owes us nothing: anything readable now is EOF or junk.
            if conn.next().now_or_never().is_none() {
                return Some(conn);
            }
        }
        None
    }

    fn put_idle(&self, addr: &str, conn: Conn) {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        let conns = idle.entry(addr.to_string()).or_default();
        if conns.len() < IDLE_PER_PEER_MAX {
            conns.push(conn);
        }
    }

    /// Sends `request` to the peer at `addr` and waits for its answer, within the deadline.
    /// Sets `sent` once the request may have reached the peer.
    pub(crate) async fn call(
        &self,
        addr: &str,
        request: &PeerRequest,
        sent: &AtomicBool,
    ) -> Result<PeerResponse, ForwardFailure> {
        let mut conn = match self.take_idle(addr) {
            Some(conn) => conn,
            None => tokio::time::timeout(
                self.deadline,
                // The leader is known here by its address alone.
                transport::dial(&*self.connector, addr, &self.secret, (self.from, None)),
            )
            .await
            .map_err(|_| {
                ForwardFailure::NotSent(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "connect timed out",
                ))
            })?
            .map_err(ForwardFailure::NotSent)?,
        };
        sent.store(true, Ordering::Relaxed);
        let exchange = async {
            transport::write_frame(&mut conn, request).await?;
            transport::read_frame::<PeerResponse>(&mut conn).await
        };
        match tokio::time::timeout(self.deadline, exchange).await {
            Ok(Ok(response)) => {
                self.put_idle(addr, conn);
                Ok(response)
            }
            Ok(Err(error)) => Err(ForwardFailure::NoAnswer(error.to_string())),
            Err(_) => Err(ForwardFailure::NoAnswer(format!(
                "no answer from {addr} within {} ms",
                self.deadline.as_millis()
            ))),
        }
    }
}
