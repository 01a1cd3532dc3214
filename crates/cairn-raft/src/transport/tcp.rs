//! The network seams on real sockets: `TcpConnector` dials peers and
//! `TcpPeerListener` accepts them, both with Nagle's algorithm off since
//! every frame is a whole request or response.

use crate::{BoxFuture, Connector, Listener, PeerStream};

/// Dials peers over TCP.
pub struct TcpConnector;

impl Connector for TcpConnector {
    fn connect(&self, addr: &str) -> BoxFuture<'_, std::io::Result<Box<dyn PeerStream>>> {
        let addr = addr.to_string();
        Box::pin(async move {
            let stream = tokio::net::TcpStream::connect(&addr).await?;
            stream.set_nodelay(true)?;
            Ok(Box::new(stream) as Box<dyn PeerStream>)
        })
    }
}

/// Accepts peers on a TCP listener.
pub struct TcpPeerListener(pub tokio::net::TcpListener);

impl Listener for TcpPeerListener {
    fn accept(&mut self) -> BoxFuture<'_, std::io::Result<(Box<dyn PeerStream>, String)>> {
        Box::pin(async move {
            let (stream, remote) = self.0.accept().await?;
            stream.set_nodelay(true)?;
            Ok((Box::new(stream) as Box<dyn PeerStream>, remote.to_string()))
        })
    }
}
