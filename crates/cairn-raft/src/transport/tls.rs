//! TLS over the network seams (rustls, ring provider). Peers use mutual TLS:
//! each side presents its certificate and requires one from the other signed
//! by the cluster's CA. The hello and its cluster secret still follow the
//! handshake, so a certificate admits a peer to the hello and the secret to
//! the cluster; neither alone is enough.
//!
//! - `NodeTls`: a node's certificate, key and CA loaded from PEM files, and
//!   the rustls configurations made from them (peer server, peer client, and
//!   a server without client certificates for the HTTP API).
//! - `TlsConnector`: wraps any `Connector`; dials, then handshakes, naming the
//!   dialed host (the peer's `advertise_raft` host) as the server.
//! - `TlsListener`: wraps any `Listener`; each handshake runs on a task of
//!   its own, bounded in time and in number, so a slow or failed handshake
//!   never holds up or stops the accept loop.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinHandle;

use crate::{BoxFuture, Connector, Listener, PeerStream};

/// How long a TLS handshake may take, either side, before the connection is dropped.
pub const TLS_HANDSHAKE_TIMEOUT_MS: u64 = 10_000;

/// Most handshakes a `TlsListener` runs at once; past it, connections wait
/// in the kernel's backlog until one finishes.
pub const TLS_HANDSHAKES_IN_FLIGHT_MAX: usize = 128;

/// Most finished handshakes a `TlsListener` holds for its caller to accept.
const TLS_ACCEPTED_QUEUE_MAX: usize = 32;

/// A TLS file that could not be used, naming the setting and the file.
#[derive(Debug, thiserror::Error)]
#[error("{setting} {}: {reason}", path.display())]
pub struct TlsError {
    /// `cert_file`, `key_file` or `ca_file`.
    pub setting: &'static str,
    pub path: PathBuf,
    pub reason: String,
}

/// A node's TLS identity and trust, made into the configurations it serves
/// and dials with. Every check (readable files, PEM, a key that matches the
/// certificate, a usable CA) happens in `load`, at start-up.
#[derive(Clone)]
pub struct NodeTls {
    /// Accepts peers: presents this node's certificate, requires one signed by the CA.
    pub peer_server: Arc<ServerConfig>,
    /// Dials peers: requires their certificate signed by the CA, presents this node's.
    pub peer_client: Arc<ClientConfig>,
    /// Accepts HTTP clients: presents this node's certificate, asks for none.
    pub http_server: Arc<ServerConfig>,
}

impl std::fmt::Debug for NodeTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NodeTls")
    }
}

/// The crypto provider of every TLS configuration here: ring, chosen
/// explicitly rather than through rustls's process-wide default.
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn read(setting: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|error| TlsError {
        setting,
        path: path.to_path_buf(),
        reason: format!("cannot read: {error}"),
    })
}

/// Every certificate in a PEM file (at least one).
pub fn load_certificates(
    setting: &'static str,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let fail = |reason: String| TlsError {
        setting,
        path: path.to_path_buf(),
        reason,
    };
    let pem = read(setting, path)?;
    let certificates = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| fail(format!("not a PEM certificate file: {error}")))?;
    if certificates.is_empty() {
        return Err(fail(
            "no PEM certificate (BEGIN CERTIFICATE) in the file".into(),
        ));
    }
    Ok(certificates)
}

/// The CA certificates of a PEM file, as a root store.
pub fn load_roots(setting: &'static str, path: &Path) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for certificate in load_certificates(setting, path)? {
        roots.add(certificate).map_err(|error| TlsError {
            setting,
            path: path.to_path_buf(),
            reason: format!("not a usable CA certificate: {error}"),
        })?;
    }
    Ok(roots)
}

fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let pem = read("key_file", path)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|error| TlsError {
        setting: "key_file",
        path: path.to_path_buf(),
        reason: match error {
            rustls_pki_types::pem::Error::NoItemsFound => {
                "no PEM private key (PKCS#8, PKCS#1 or SEC1) in the file".into()
            }
            error => format!("not a PEM private key file: {error}"),
        },
    })
}

impl NodeTls {
    /// Loads the node's certificate chain, its private key and the CA that
    /// signs every member's certificate.
    pub fn load(cert_file: &Path, key_file: &Path, ca_file: &Path) -> Result<NodeTls, TlsError> {
        let certificates = load_certificates("cert_file", cert_file)?;
        let key = load_key(key_file)?;
        let roots = Arc::new(load_roots("ca_file", ca_file)?);
        let provider = provider();
        let key_error = |error: rustls::Error| TlsError {
            setting: "key_file",
            path: key_file.to_path_buf(),
            reason: match error {
                rustls::Error::InconsistentKeys(_) => format!(
                    "the key does not belong to the certificate in cert_file {}",
                    cert_file.display()
                ),
                error => format!("unusable with cert_file {}: {error}", cert_file.display()),
            },
        };
        let ca_error = |reason: String| TlsError {
            setting: "ca_file",
            path: ca_file.to_path_buf(),
            reason,
        };

        let verifier = WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone())
            .build()
            .map_err(|error| ca_error(format!("cannot verify peers with it: {error}")))?;
        let peer_server = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|error| ca_error(error.to_string()))?
            .with_client_cert_verifier(verifier)
            .with_single_cert(certificates.clone(), key.clone_key())
            .map_err(key_error)?;
        let peer_client = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|error| ca_error(error.to_string()))?
            .with_root_certificates(roots)
            .with_client_auth_cert(certificates.clone(), key.clone_key())
            .map_err(key_error)?;
        let mut http_server = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|error| ca_error(error.to_string()))?
            .with_no_client_auth()
            .with_single_cert(certificates, key)
            .map_err(key_error)?;
        // The API speaks HTTP/1.1 only.
        http_server.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(NodeTls {
            peer_server: Arc::new(peer_server),
            peer_client: Arc::new(peer_client),
            http_server: Arc::new(http_server),
        })
    }
}

/// The TLS server name for a dialed `host:port`: the host, a DNS name or an
/// IP address (brackets around IPv6 removed). The peer's certificate must
/// name it among its subject alternative names.
pub fn server_name(addr: &str) -> io::Result<ServerName<'static>> {
    let host = match addr.rsplit_once(':') {
        Some((host, _port)) => host,
        None => addr,
    };
    let host = host
        .strip_prefix('[')
        .and_then(|host| host.strip_suffix(']'))
        .unwrap_or(host);
    ServerName::try_from(host.to_string()).map_err(|error| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{addr}: {host:?} is no DNS name or IP address to check a certificate against: {error}"),
        )
    })
}

fn handshake_timeout() -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        format!("TLS handshake not done within {TLS_HANDSHAKE_TIMEOUT_MS} ms"),
    )
}

/// Dials through another connector, then handshakes as a TLS client.
pub struct TlsConnector {
    inner: Arc<dyn Connector>,
    tls: tokio_rustls::TlsConnector,
}

impl TlsConnector {
    pub fn new(inner: Arc<dyn Connector>, config: Arc<ClientConfig>) -> TlsConnector {
        TlsConnector {
            inner,
            tls: tokio_rustls::TlsConnector::from(config),
        }
    }
}

impl Connector for TlsConnector {
    fn connect(&self, addr: &str) -> BoxFuture<'_, io::Result<Box<dyn PeerStream>>> {
        let addr = addr.to_string();
        Box::pin(async move {
            let name = server_name(&addr)?;
            let stream = self.inner.connect(&addr).await?;
            let handshake = self.tls.connect(name, stream);
            let timeout = Duration::from_millis(TLS_HANDSHAKE_TIMEOUT_MS);
            let stream = tokio::time::timeout(timeout, handshake)
                .await
                .map_err(|_| handshake_timeout())?
                .map_err(|error| {
                    io::Error::new(error.kind(), format!("TLS handshake with {addr}: {error}"))
                })?;
            Ok(Box::new(stream) as Box<dyn PeerStream>)
        })
    }
}

/// Accepts TLS connections over another listener: a task accepts, and each
/// handshake runs on its own task; finished ones queue for `accept`. A
/// handshake that fails (no certificate, one the CA did not sign, not TLS at
/// all) or times out is logged and dropped; the listener goes on.
pub struct TlsListener {
    accepted: mpsc::Receiver<(Box<dyn PeerStream>, String)>,
    accept_loop: JoinHandle<()>,
}

impl TlsListener {
    /// Starts accepting on `inner` at once (on the current tokio runtime).
    /// `label` names the port in logs (`raft`, `http`).
    pub fn new(
        inner: Box<dyn Listener>,
        config: Arc<ServerConfig>,
        label: &'static str,
    ) -> TlsListener {
        let (sender, accepted) = mpsc::channel(TLS_ACCEPTED_QUEUE_MAX);
        let acceptor = tokio_rustls::TlsAcceptor::from(config);
        let accept_loop = tokio::spawn(accept_loop(inner, acceptor, sender, label));
        TlsListener {
            accepted,
            accept_loop,
        }
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.accept_loop.abort();
    }
}

impl Listener for TlsListener {
    fn accept(&mut self) -> BoxFuture<'_, io::Result<(Box<dyn PeerStream>, String)>> {
        Box::pin(async move {
            self.accepted
                .recv()
                .await
                .ok_or_else(|| io::Error::other("the TLS accept loop stopped"))
        })
    }
}

async fn accept_loop(
    mut inner: Box<dyn Listener>,
    acceptor: tokio_rustls::TlsAcceptor,
    sender: mpsc::Sender<(Box<dyn PeerStream>, String)>,
    label: &'static str,
) {
    let in_flight = Arc::new(Semaphore::new(TLS_HANDSHAKES_IN_FLIGHT_MAX));
    loop {
        let Ok(permit) = in_flight.clone().acquire_owned().await else {
            return;
        };
        let (stream, remote) = match inner.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!(port = label, %error, "listener failed; retrying");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        if sender.is_closed() {
            return;
        }
        let acceptor = acceptor.clone();
        let sender = sender.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let timeout = Duration::from_millis(TLS_HANDSHAKE_TIMEOUT_MS);
            match tokio::time::timeout(timeout, acceptor.accept(stream)).await {
                Ok(Ok(stream)) => {
                    let _ = sender.send((Box::new(stream), remote)).await;
                }
                Ok(Err(error)) => {
                    tracing::warn!(port = label, %remote, %error, "TLS handshake refused");
                }
                Err(_) => {
                    tracing::warn!(port = label, %remote, error = %handshake_timeout(), "TLS handshake refused");
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;
    use crate::transport::frame;
    use crate::{TcpConnector, TcpPeerListener};

    /// Two CAs with node certificates each, made by the script the docs
    /// point operators to: `good` is the cluster's, `rogue` another.
    struct Certs {
        dir: tempfile::TempDir,
    }

    impl Certs {
        fn make() -> Certs {
            let dir = tempfile::tempdir().unwrap();
            let script =
                Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/cluster-3/make-certs.sh");
            for ca in ["good", "rogue"] {
                let output = std::process::Command::new("bash")
                    .arg(&script)
                    .arg(dir.path().join(ca))
                    .arg("2")
                    .output()
                    .expect("run make-certs.sh (needs bash and openssl)");
                assert!(
                    output.status.success(),
                    "make-certs.sh failed: {}",
                    String::from_utf8_lossy(&output.stderr)
                );
            }
            Certs { dir }
        }

        fn path(&self, ca: &str, file: &str) -> PathBuf {
            self.dir.path().join(ca).join(file)
        }

        /// Node `n` of CA `ca`, trusting CA `trusting`.
        fn node(&self, ca: &str, n: u64, trusting: &str) -> NodeTls {
            NodeTls::load(
                &self.path(ca, &format!("node{n}.pem")),
                &self.path(ca, &format!("node{n}.key")),
                &self.path(trusting, "ca.pem"),
            )
            .unwrap()
        }

        /// A certificate that signs itself, for 127.0.0.1, made with openssl.
        fn self_signed(&self) -> (PathBuf, PathBuf) {
            let cert = self.dir.path().join("self.pem");
            let key = self.dir.path().join("self.key");
            let status = std::process::Command::new("openssl")
                .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
                .args(["ec_paramgen_curve:P-256", "-nodes", "-days", "30"])
                .args(["-subj", "/CN=self-signed", "-addext"])
                .args(["subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout"])
                .arg(&key)
                .arg("-out")
                .arg(&cert)
                .stderr(std::process::Stdio::null())
                .status()
                .expect("run openssl");
            assert!(status.success());
            (cert, key)
        }
    }

    async fn listen(tls: &NodeTls) -> (String, TlsListener) {
        let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = tcp.local_addr().unwrap().to_string();
        let listener = TlsListener::new(
            Box::new(TcpPeerListener(tcp)),
            tls.peer_server.clone(),
            "raft",
        );
        (addr, listener)
    }

    fn dialer(config: Arc<ClientConfig>) -> TlsConnector {
        TlsConnector::new(Arc::new(TcpConnector), config)
    }

    /// The client sends `ping`, the server answers `pong`: both sides of a
    /// connection that got through.
    async fn exchange(connector: &TlsConnector, addr: &str, listener: &mut TlsListener) {
        let mut client = connector.connect(addr).await.unwrap();
        client.write_all(b"ping").await.unwrap();
        let (mut server, _remote) = listener.accept().await.unwrap();
        let mut got = [0u8; 4];
        server.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"ping");
        server.write_all(b"pong").await.unwrap();
        client.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"pong");
    }

    /// A client the server must refuse. TLS 1.3 finishes the client's side
    /// of the handshake before the server has checked the client's
    /// certificate, so the refusal reaches the client as a fatal alert on its
    /// first read. Meanwhile the listener must yield only the good
    /// connection made after it (were the rogue one accepted, it would come
    /// first and `exchange` would read `evil`).
    async fn assert_refused(config: Arc<ClientConfig>, server: &NodeTls, good: &NodeTls) {
        let (addr, mut listener) = listen(server).await;
        let rogue_addr = addr.clone();
        let rogue = tokio::spawn(async move {
            let mut stream = dialer(config).connect(&rogue_addr).await?;
            stream.write_all(b"evil").await?;
            let mut got = [0u8; 4];
            stream.read(&mut got).await
        });
        exchange(&dialer(good.peer_client.clone()), &addr, &mut listener).await;
        // Had the rogue connection been accepted, dropping the listener drops
        // it unanswered, and its read ends without an alert.
        drop(listener);
        match rogue.await.unwrap() {
            Err(error) => {
                let message = error.to_string();
                assert!(
                    message.contains("alert") || message.contains("TLS handshake"),
                    "{message}"
                );
            }
            Ok(read) => panic!("a refused peer read {read} bytes"),
        }
    }

    #[tokio::test]
    async fn peers_with_certificates_of_the_cluster_ca_talk() {
        let certs = Certs::make();
        let (one, two) = (certs.node("good", 1, "good"), certs.node("good", 2, "good"));
        let (addr, mut listener) = listen(&one).await;
        let connector = dialer(two.peer_client.clone());
        exchange(&connector, &addr, &mut listener).await;
        // Also by name: `localhost` is among the certificate's names.
        let port = addr.rsplit_once(':').unwrap().1;
        exchange(&connector, &format!("localhost:{port}"), &mut listener).await;
    }

    #[tokio::test]
    async fn a_peer_whose_certificate_another_ca_signed_is_refused() {
        let certs = Certs::make();
        let good = certs.node("good", 1, "good");
        // A rogue node that trusts the cluster's CA but carries another CA's certificate.
        let rogue = certs.node("rogue", 1, "good");
        assert_refused(
            rogue.peer_client.clone(),
            &good,
            &certs.node("good", 2, "good"),
        )
        .await;
    }

    #[tokio::test]
    async fn a_peer_with_a_self_signed_certificate_is_refused() {
        let certs = Certs::make();
        let (cert, key) = certs.self_signed();
        let rogue = NodeTls::load(&cert, &key, &certs.path("good", "ca.pem")).unwrap();
        let good = certs.node("good", 1, "good");
        assert_refused(
            rogue.peer_client.clone(),
            &good,
            &certs.node("good", 2, "good"),
        )
        .await;
    }

    #[tokio::test]
    async fn a_peer_without_a_certificate_is_refused() {
        let certs = Certs::make();
        let roots = load_roots("ca_file", &certs.path("good", "ca.pem")).unwrap();
        let anonymous = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let good = certs.node("good", 1, "good");
        assert_refused(Arc::new(anonymous), &good, &certs.node("good", 2, "good")).await;
    }

    #[tokio::test]
    async fn a_plaintext_peer_is_refused_and_the_listener_goes_on() {
        let certs = Certs::make();
        let good = certs.node("good", 1, "good");
        let (addr, mut listener) = listen(&good).await;
        let mut plain = TcpConnector.connect(&addr).await.unwrap();
        plain.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
        let mut answer = Vec::new();
        // The server answers with at most an alert, then closes.
        let _ = plain.read_to_end(&mut answer).await;
        assert!(!answer.starts_with(b"HTTP"), "{answer:?}");
        exchange(
            &dialer(certs.node("good", 2, "good").peer_client.clone()),
            &addr,
            &mut listener,
        )
        .await;
    }

    #[tokio::test]
    async fn a_server_whose_certificate_another_ca_signed_is_refused() {
        let certs = Certs::make();
        let (addr, _listener) = listen(&certs.node("rogue", 1, "good")).await;
        let error = dialer(certs.node("good", 2, "good").peer_client.clone())
            .connect(&addr)
            .await
            .err()
            .expect("a server the CA did not sign is refused");
        assert!(error.to_string().contains("certificate"), "{error}");
    }

    #[tokio::test]
    async fn the_cluster_secret_is_still_checked_over_tls() {
        let certs = Certs::make();
        let (one, two) = (certs.node("good", 1, "good"), certs.node("good", 2, "good"));
        let (addr, mut listener) = listen(&one).await;
        let connector = dialer(two.peer_client.clone());
        let server = tokio::spawn(async move {
            let mut outcomes = Vec::new();
            for _ in 0..2 {
                let (stream, _) = listener.accept().await.unwrap();
                let mut conn = frame::framed(stream);
                outcomes.push(frame::accept_hello(&mut conn, "s3cret", 1).await.ok());
            }
            outcomes
        });
        let refused = frame::dial(&connector, &addr, "guess", (2, Some(1)))
            .await
            .err()
            .expect("a wrong secret is refused over TLS too");
        assert!(
            refused.to_string().contains("wrong cluster secret"),
            "{refused}"
        );
        frame::dial(&connector, &addr, "s3cret", (2, Some(1)))
            .await
            .unwrap();
        assert_eq!(server.await.unwrap(), vec![None, Some(2)]);
    }

    #[test]
    fn the_server_name_is_the_dialed_host() {
        let ip =
            |text: &str| ServerName::IpAddress(text.parse::<std::net::IpAddr>().unwrap().into());
        assert_eq!(server_name("127.0.0.1:7711").unwrap(), ip("127.0.0.1"));
        assert_eq!(server_name("[::1]:7711").unwrap(), ip("::1"));
        assert_eq!(
            server_name("node-1.example:7711").unwrap(),
            ServerName::try_from("node-1.example").unwrap()
        );
        assert!(server_name("bad host:7711").is_err());
    }

    #[test]
    fn unusable_files_are_named() {
        let certs = Certs::make();
        let (cert, key, ca) = (
            certs.path("good", "node1.pem"),
            certs.path("good", "node1.key"),
            certs.path("good", "ca.pem"),
        );
        let missing = certs.dir.path().join("missing.pem");
        let error = NodeTls::load(&missing, &key, &ca).unwrap_err();
        assert_eq!(error.setting, "cert_file");
        assert!(error.to_string().contains("missing.pem"), "{error}");
        assert!(error.to_string().contains("cannot read"), "{error}");

        // A key given as the certificate, and the reverse.
        let error = NodeTls::load(&key, &key, &ca).unwrap_err();
        assert_eq!(error.setting, "cert_file", "{error}");
        assert!(error.to_string().contains("no PEM certificate"), "{error}");
        let error = NodeTls::load(&cert, &cert, &ca).unwrap_err();
        assert_eq!(error.setting, "key_file", "{error}");
        assert!(error.to_string().contains("no PEM private key"), "{error}");

        // Node 2's key with node 1's certificate.
        let error = NodeTls::load(&cert, &certs.path("good", "node2.key"), &ca).unwrap_err();
        assert_eq!(error.setting, "key_file", "{error}");
        assert!(error.to_string().contains("does not belong"), "{error}");

        let error = NodeTls::load(&cert, &key, &missing).unwrap_err();
        assert_eq!(error.setting, "ca_file", "{error}");

        NodeTls::load(&cert, &key, &ca).unwrap();
    }
}
