//! https:// URLs: which certificate authorities the client trusts, and the
//! handshake on a connection the connector opened. A client trusts the CA
//! file it is given ([`Client::with_ca_file`](crate::Client::with_ca_file);
//! the CLI's `--ca-file` / `CAIRN_CA_FILE`), else Mozilla's public roots,
//! which a node with a certificate from a private CA (such as the one
//! `config/cluster-3/make-certs.sh` makes) does not have.

use std::io;
use std::path::Path;
use std::sync::Arc;

use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};

use crate::connector::Connection;
use crate::error::ClientError;

/// The certificate authorities a client trusts for https:// URLs.
#[derive(Clone)]
pub struct TlsTrust {
    config: Arc<ClientConfig>,
    /// What is trusted, for error messages.
    source: String,
}

impl std::fmt::Debug for TlsTrust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsTrust")
            .field("source", &self.source)
            .finish()
    }
}

impl TlsTrust {
    /// Mozilla's root certificates (webpki-roots), as a browser would trust.
    pub fn public_roots() -> Result<TlsTrust, ClientError> {
        let roots = RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        TlsTrust::from_roots(roots, "the public web PKI roots only".to_string())
    }

    /// The CA certificates in a PEM file, and no others.
    pub fn ca_file(path: &Path) -> Result<TlsTrust, ClientError> {
        let fail =
            |reason: String| ClientError::Tls(format!("CA file {}: {reason}", path.display()));
        let pem = std::fs::read(path).map_err(|error| fail(format!("cannot read: {error}")))?;
        let certificates = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| fail(format!("not a PEM certificate file: {error}")))?;
        if certificates.is_empty() {
            return Err(fail(
                "no PEM certificate (BEGIN CERTIFICATE) in the file".into(),
            ));
        }
        let mut roots = RootCertStore::empty();
        for certificate in certificates {
            roots
                .add(certificate)
                .map_err(|error| fail(format!("not a usable CA certificate: {error}")))?;
        }
        TlsTrust::from_roots(roots, format!("the CA file {}", path.display()))
    }

    fn from_roots(roots: RootCertStore, source: String) -> Result<TlsTrust, ClientError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|error| ClientError::Tls(format!("TLS set-up: {error}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(TlsTrust {
            config: Arc::new(config),
            source,
        })
    }

    /// Handshakes on `stream` with the server at `host` (`authority` names
    /// it in errors). A certificate the trusted CAs did not sign is a
    /// [`ClientError::Tls`] that says what to do; a connection that dies is
    /// a transport error, as before TLS.
    pub(crate) async fn handshake(
        &self,
        host: &str,
        authority: &str,
        stream: Box<dyn Connection>,
    ) -> Result<Box<dyn Connection>, ClientError> {
        let name = ServerName::try_from(host.to_string()).map_err(|error| {
            ClientError::InvalidUrl(format!(
                "{authority}: {host:?} is no DNS name or IP address for TLS: {error}"
            ))
        })?;
        let connector = tokio_rustls::TlsConnector::from(self.config.clone());
        match connector.connect(name, stream).await {
            Ok(stream) => Ok(Box::new(stream)),
            Err(error) => Err(self.handshake_error(host, authority, error)),
        }
    }

    fn handshake_error(&self, host: &str, authority: &str, error: io::Error) -> ClientError {
        let Some(tls_error) = error
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        else {
            return ClientError::Transport(format!("TLS handshake with {authority}: {error}"));
        };
        let advice = match tls_error {
            rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForName)
            | rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForNameContext { .. },
            ) => format!("the server's certificate does not name {host}"),
            rustls::Error::InvalidCertificate(_) => format!(
                "the server's certificate is not signed by a CA this client trusts ({}); \
                 give the client the CA that signed it (cairn: --ca-file or CAIRN_CA_FILE)",
                self.source
            ),
            _ => "is the server serving https on this port?".to_string(),
        };
        ClientError::Tls(format!(
            "TLS handshake with {authority} failed: {tls_error}: {advice}"
        ))
    }
}
