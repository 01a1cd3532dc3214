//! The seams, filled with turmoil: the peer connector and listener the Raft
//! layer is given, the HTTP listener axum serves on, the client's connector,
//! and the clock the server stamps proposals with.

use cairn_raft::{BoxFuture, PeerStream};

/// Dials peers over turmoil's simulated TCP.
pub struct PeerConnector;

impl cairn_raft::Connector for PeerConnector {
    fn connect(&self, addr: &str) -> BoxFuture<'_, std::io::Result<Box<dyn PeerStream>>> {
        let addr = addr.to_string();
        Box::pin(async move {
            let stream = turmoil::net::TcpStream::connect(addr.as_str()).await?;
            Ok(Box::new(stream) as Box<dyn PeerStream>)
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

/// Simulated wall-clock time.
pub struct SimClock;

impl cairn_server::Clock for SimClock {
    fn now_ms(&self) -> u64 {
        turmoil::since_epoch()
            .map(|since| since.as_millis() as u64)
            .unwrap_or(0)
    }
}
