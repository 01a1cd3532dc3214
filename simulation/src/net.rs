//! The seams, filled with turmoil: the peer connector and listener the Raft
//! layer is given, the HTTP listener axum serves on, the client's connector,
//! and the clock the server stamps proposals with.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use cairn_raft::{BoxFuture, PeerStream};

use crate::peer_faults::{FaultyStream, PeerFaults};

/// Dials peers over turmoil's simulated TCP, under the run's per-message
/// faults (`peer_faults`).
pub struct PeerConnector(pub Arc<PeerFaults>);

impl cairn_raft::Connector for PeerConnector {
    fn connect(&self, addr: &str) -> BoxFuture<'_, std::io::Result<Box<dyn PeerStream>>> {
        let addr = addr.to_string();
        Box::pin(async move {
            let stream = turmoil::net::TcpStream::connect(addr.as_str()).await?;
            Ok(Box::new(FaultyStream::new(stream, self.0.clone())) as Box<dyn PeerStream>)
        })
    }
}

/// Accepts peers on a turmoil listener.
pub struct PeerListener(pub turmoil::net::TcpListener);

impl cairn_raft::Listener for PeerListener {
    fn accept(&mut self) -> BoxFuture<'_, std::io::Result<(Box<dyn PeerStream>, String)>> {
        Box::pin(async move {
            let (stream, remote) = self.0.accept().await?;
            Ok((Box::new(stream) as Box<dyn PeerStream>, remote.to_string()))
        })
    }
}

/// The HTTP API's listener.
pub struct HttpListener(pub turmoil::net::TcpListener);

impl axum::serve::Listener for HttpListener {
    type Io = turmoil::net::TcpStream;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.0.accept().await {
                Ok(accepted) => return accepted,
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(10)).await,
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

/// The agents' connector.
pub struct ClientConnector;

impl cairn_client::Connector for ClientConnector {
    fn connect<'a>(&'a self, host: &'a str, port: u16) -> cairn_client::ConnectFuture<'a> {
        Box::pin(async move {
            let stream = turmoil::net::TcpStream::connect((host, port)).await?;
            Ok(Box::new(stream) as Box<dyn cairn_client::Connection>)
        })
    }
}

/// Simulated wall-clock time, off by the skew the nemesis sets.
#[derive(Debug, Default)]
pub struct SimClock {
    skew_ms: AtomicI64,
}

impl SimClock {
    /// From now on this clock reads `skew_ms` ahead (behind, if negative)
    /// of simulated time; `0` heals.
    pub fn skew(&self, skew_ms: i64) {
        self.skew_ms.store(skew_ms, Ordering::Relaxed);
    }
}

impl cairn_server::Clock for SimClock {
    fn now_ms(&self) -> u64 {
        let now = turmoil::since_epoch()
            .map(|since| since.as_millis() as u64)
            .unwrap_or(0);
        now.saturating_add_signed(self.skew_ms.load(Ordering::Relaxed))
    }
}
