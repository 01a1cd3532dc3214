//! `[tls]`: the node's certificate, key and CA. When `cert_file` and
//! `key_file` are set the HTTP API serves https and peers speak mutual TLS
//! (`cairn_raft::TlsConnector`, `cairn_raft::TlsListener`); the cluster
//! secret is still checked in every peer hello. Without them the node serves
//! plain HTTP and plain TCP, and warns at start-up about any port that is
//! not on loopback.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use cairn_raft::{
    Connector, Listener, NodeTls, PeerStream, TcpConnector, TcpPeerListener, TlsConnector,
    TlsListener,
};
use serde::{Deserialize, Serialize};

use crate::config::{Config, ConfigError};

/// `[tls]`. All three files are PEM; `config/cluster-3/make-certs.sh` makes
/// a local CA and node certificates.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// This node's certificate (chain), presented to HTTP clients and peers.
    /// Its subject alternative names must include the host of the node's
    /// `advertise_raft` (peers check it) and the host clients dial.
    pub cert_file: Option<PathBuf>,
    /// The private key of `cert_file`.
    pub key_file: Option<PathBuf>,
    /// The CA whose signature every peer's certificate must carry.
    pub ca_file: Option<PathBuf>,
}

impl TlsConfig {
    /// Whether the node serves TLS: `cert_file` and `key_file` are set.
    pub fn enabled(&self) -> bool {
        self.cert_file.is_some() && self.key_file.is_some()
    }

    /// Checks which settings go together; reading the files waits for `load`.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let fail = |message: &str| Err(ConfigError(format!("[tls] {message}")));
        for (name, path) in [
            ("cert_file", &self.cert_file),
            ("key_file", &self.key_file),
            ("ca_file", &self.ca_file),
        ] {
            if path
                .as_ref()
                .is_some_and(|path| path.as_os_str().is_empty())
            {
                return fail(&format!("{name} must not be empty"));
            }
        }
        match (&self.cert_file, &self.key_file, &self.ca_file) {
            (None, None, None) | (Some(_), Some(_), Some(_)) => Ok(()),
            (Some(_), None, _) => fail(
                "cert_file is set but key_file is not: TLS needs the certificate and its private key",
            ),
            (None, Some(_), _) => fail(
                "key_file is set but cert_file is not: TLS needs the certificate and its private key",
            ),
            (Some(_), Some(_), None) => fail(
                "ca_file is required with cert_file and key_file: peers' certificates are checked against it",
            ),
            (None, None, Some(_)) => {
                fail("ca_file is set without cert_file and key_file, which turn TLS on")
            }
        }
    }

    /// Reads and checks the files (at start-up); `None` when TLS is off. An
    /// error names the setting and the file.
    pub fn load(&self) -> Result<Option<NodeTls>, ConfigError> {
        self.validate()?;
        let (Some(cert_file), Some(key_file), Some(ca_file)) =
            (&self.cert_file, &self.key_file, &self.ca_file)
        else {
            return Ok(None);
        };
        NodeTls::load(cert_file, key_file, ca_file)
            .map(Some)
            .map_err(|error| ConfigError(format!("[tls] {error}")))
    }
}

/// The listening settings (`listen_http`, `listen_raft`) whose address is
/// not on loopback while TLS is off: traffic there, the cluster secret in
/// every peer hello included, crosses the network in clear.
pub fn exposed_without_tls(config: &Config) -> Vec<(&'static str, &str)> {
    if config.tls.enabled() {
        return Vec::new();
    }
    [
        ("listen_http", config.listen_http.as_str()),
        ("listen_raft", config.listen_raft.as_str()),
    ]
    .into_iter()
    .filter(|(_, addr)| {
        addr.parse::<SocketAddr>()
            .is_ok_and(|addr| !addr.ip().is_loopback())
    })
    .collect()
}

/// Logs one warning per port reachable beyond this machine without TLS.
pub fn warn_if_exposed(config: &Config) {
    for (setting, addr) in exposed_without_tls(config) {
        tracing::warn!(
            setting,
            addr,
            "listening beyond loopback without TLS: API requests and peer traffic cross the network in clear; set [tls] cert_file, key_file and ca_file"
        );
    }
}

/// The peer seams on real sockets: mutual TLS over TCP when `tls` is given.
pub fn peer_seams(
    tls: Option<&NodeTls>,
    raft: tokio::net::TcpListener,
) -> (Box<dyn Listener>, Arc<dyn Connector>) {
    let listener = Box::new(TcpPeerListener(raft));
    match tls {
        None => (listener, Arc::new(TcpConnector)),
        Some(tls) => (
            Box::new(TlsListener::new(listener, tls.peer_server.clone(), "raft")),
            Arc::new(TlsConnector::new(
                Arc::new(TcpConnector),
                tls.peer_client.clone(),
            )),
        ),
    }
}

/// The HTTP API's listener with TLS on: handshakes run off the accept loop
/// (`TlsListener`), so a client that fails one (plain HTTP, an untrusted
/// certificate) is logged and dropped while others are served.
pub struct HttpsListener {
    inner: TlsListener,
    local_addr: SocketAddr,
}

impl HttpsListener {
    pub fn new(http: tokio::net::TcpListener, tls: &NodeTls) -> std::io::Result<HttpsListener> {
        let local_addr = http.local_addr()?;
        let inner = TlsListener::new(
            Box::new(TcpPeerListener(http)),
            tls.http_server.clone(),
            "http",
        );
        Ok(HttpsListener { inner, local_addr })
    }
}

impl axum::serve::Listener for HttpsListener {
    type Io = Box<dyn PeerStream>;
    /// The remote address, as the TCP listener reported it.
    type Addr = String;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.inner.accept().await {
                Ok(accepted) => return accepted,
                Err(error) => {
                    // Only if the accept task died; axum's own TCP listener
                    // also retries after a pause.
                    tracing::error!(%error, "https listener failed; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local_addr.to_string())
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn tls(toml: &str) -> TlsConfig {
        toml::from_str::<Config>(toml).unwrap().tls
    }

    fn refused(toml: &str) -> String {
        let config: Config = toml::from_str(toml).unwrap();
        config.validate().unwrap_err().to_string()
    }

    #[test]
    fn tls_is_off_by_default_and_on_with_a_certificate_and_its_key() {
        assert!(!Config::default().tls.enabled());
        let on = tls("[tls]\ncert_file = \"n.pem\"\nkey_file = \"n.key\"\nca_file = \"ca.pem\"");
        assert!(on.enabled());
        on.validate().unwrap();
    }

    #[test]
    fn settings_that_do_not_go_together_are_refused_by_name() {
        let error = refused("[tls]\ncert_file = \"n.pem\"\nca_file = \"ca.pem\"");
        assert!(
            error.contains("[tls]") && error.contains("key_file"),
            "{error}"
        );
        let error = refused("[tls]\nkey_file = \"n.key\"\nca_file = \"ca.pem\"");
        assert!(error.contains("cert_file"), "{error}");
        let error = refused("[tls]\ncert_file = \"n.pem\"\nkey_file = \"n.key\"");
        assert!(error.contains("ca_file is required"), "{error}");
        let error = refused("[tls]\nca_file = \"ca.pem\"");
        assert!(error.contains("ca_file is set without"), "{error}");
        let error = refused("[tls]\ncert_file = \"\"\nkey_file = \"n.key\"\nca_file = \"c\"");
        assert!(error.contains("cert_file must not be empty"), "{error}");
        let unknown = toml::from_str::<Config>("[tls]\ncert = \"n.pem\"")
            .unwrap_err()
            .to_string();
        assert!(unknown.contains("cert"), "{unknown}");
    }

    #[test]
    fn an_unreadable_file_is_named_at_start_up() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("node1.pem");
        let not_pem = dir.path().join("node1.key");
        std::fs::write(&not_pem, "not a key").unwrap();
        let config = TlsConfig {
            cert_file: Some(missing.clone()),
            key_file: Some(not_pem.clone()),
            ca_file: Some(dir.path().join("ca.pem")),
        };
        // Validation alone does not read files; loading does.
        config.validate().unwrap();
        let error = config.load().unwrap_err().to_string();
        assert!(error.starts_with("[tls] cert_file"), "{error}");
        assert!(error.contains(&missing.display().to_string()), "{error}");
        assert!(error.contains("cannot read"), "{error}");

        // With the files made by the script, only the key is wrong.
        let certs = dir.path().join("certs");
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/cluster-3/make-certs.sh");
        let status = std::process::Command::new("bash")
            .arg(script)
            .arg(&certs)
            .arg("1")
            .stdout(std::process::Stdio::null())
            .status()
            .expect("run make-certs.sh (needs bash and openssl)");
        assert!(status.success());
        let config = TlsConfig {
            cert_file: Some(certs.join("node1.pem")),
            key_file: Some(not_pem.clone()),
            ca_file: Some(certs.join("ca.pem")),
        };
        let error = config.load().unwrap_err().to_string();
        assert!(error.starts_with("[tls] key_file"), "{error}");
        assert!(error.contains(&not_pem.display().to_string()), "{error}");
        let config = TlsConfig {
            key_file: Some(certs.join("node1.key")),
            ..config
        };
        assert!(config.load().unwrap().is_some());
        assert!(TlsConfig::default().load().unwrap().is_none());
    }

    #[test]
    fn cluster_3_tls_configs_are_the_plain_ones_with_tls() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/cluster-3");
        for n in 1..=3 {
            let plain = Config::load(Some(&dir.join(format!("node{n}.toml")))).unwrap();
            let tls = Config::load(Some(&dir.join(format!("tls/node{n}.toml")))).unwrap();
            tls.validate().unwrap();
            assert!(tls.tls.enabled());
            let cert_file = tls.tls.cert_file.clone().unwrap();
            assert!(cert_file.ends_with(format!("node{n}.pem")), "{cert_file:?}");
            assert_ne!(tls.data_dir, plain.data_dir);
            let same = Config {
                data_dir: plain.data_dir.clone(),
                tls: TlsConfig::default(),
                ..tls
            };
            assert_eq!(
                same, plain,
                "tls/node{n}.toml differs beyond data_dir and [tls]"
            );
        }
    }

    #[test]
    fn ports_beyond_loopback_without_tls_are_reported() {
        assert!(exposed_without_tls(&Config::default()).is_empty());
        let mut config = Config {
            listen_http: "0.0.0.0:7700".into(),
            listen_raft: "[::1]:7701".into(),
            ..Config::default()
        };
        assert_eq!(
            exposed_without_tls(&config),
            vec![("listen_http", "0.0.0.0:7700")]
        );
        config.listen_raft = "10.1.2.3:7701".into();
        assert_eq!(exposed_without_tls(&config).len(), 2);
        config.tls = tls("[tls]\ncert_file = \"n.pem\"\nkey_file = \"n.key\"\nca_file = \"c.pem\"");
        assert!(exposed_without_tls(&config).is_empty());
    }
}
