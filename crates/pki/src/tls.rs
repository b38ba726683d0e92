//! rustls and tonic configurations for mutual TLS against the cluster CA.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use crate::{Identity, PkiError, PrivateKeyPem, files};

/// Installs rustls' `ring` crypto provider as the process default. Call it once at
/// start-up; later calls (and a provider installed by someone else) are fine. Every
/// constructor of this module calls it too, because tonic builds its rustls configs
/// with the process default.
pub fn install_crypto_provider() {
    let _already_installed = rustls::crypto::ring::default_provider().install_default();
}

/// Where a component finds its TLS files: the CA bundle it trusts, its certificate
/// (chain) and its private key. There is no partial TLS: all three or none, see
/// [`TlsPaths::from_flags`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsPaths {
    /// PEM bundle of the CA(s) peers are verified against (`pki/ca.crt`).
    pub ca: PathBuf,
    /// PEM certificate chain presented to peers.
    pub cert: PathBuf,
    /// PEM private key of that certificate.
    pub key: PathBuf,
}

impl TlsPaths {
    /// The three paths.
    pub fn new(ca: impl Into<PathBuf>, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        TlsPaths {
            ca: ca.into(),
            cert: cert.into(),
            key: key.into(),
        }
    }

    /// Turns three optional flags into all-or-nothing TLS: `Ok(None)` when none is
    /// given, `Ok(Some(_))` when all are, and an error naming the missing ones otherwise.
    pub fn from_flags(
        ca: Option<PathBuf>,
        cert: Option<PathBuf>,
        key: Option<PathBuf>,
    ) -> Result<Option<TlsPaths>, PkiError> {
        match (ca, cert, key) {
            (None, None, None) => Ok(None),
            (Some(ca), Some(cert), Some(key)) => Ok(Some(TlsPaths { ca, cert, key })),
            (ca, cert, key) => {
                let missing: Vec<&str> = [
                    ("CA", ca.is_none()),
                    ("certificate", cert.is_none()),
                    ("key", key.is_none()),
                ]
                .into_iter()
                .filter_map(|(name, is_missing)| is_missing.then_some(name))
                .collect();
                Err(PkiError::Incomplete(format!(
                    "TLS needs a CA, a certificate and a key, or none of them; missing: {}",
                    missing.join(", ")
                )))
            }
        }
    }

    /// Reads and checks the three files.
    pub fn load(&self) -> Result<TlsMaterial, PkiError> {
        let ca_pem = files::read_to_string(&self.ca)?;
        let cert_pem = files::read_to_string(&self.cert)?;
        let key = PrivateKeyPem::parse(
            files::read_to_string(&self.key)?,
            &self.key.display().to_string(),
        )?;
        TlsMaterial::with_sources(
            ca_pem,
            cert_pem,
            key,
            &self.ca.display().to_string(),
            &self.cert.display().to_string(),
        )
    }

    /// A server config that requires a client certificate issued by the CA, with ALPN
    /// `h2` and `http/1.1`.
    pub fn server_config(&self) -> Result<Arc<ServerConfig>, PkiError> {
        self.load()?.server_config()
    }

    /// A client config that presents the certificate and verifies the server against
    /// the CA, with ALPN `h2`.
    pub fn client_config(&self) -> Result<Arc<ClientConfig>, PkiError> {
        self.load()?.client_config()
    }

    /// The same server side for `tonic::transport::Server::tls_config`.
    pub fn tonic_server(&self) -> Result<tonic::transport::ServerTlsConfig, PkiError> {
        self.load()?.tonic_server()
    }

    /// The same client side for `tonic::transport::Endpoint::tls_config`; `domain` is
    /// the name (or IP) the server certificate must carry, e.g. `localhost`.
    pub fn tonic_client(
        &self,
        domain: &str,
    ) -> Result<tonic::transport::ClientTlsConfig, PkiError> {
        self.load()?.tonic_client(domain)
    }
}

/// The contents behind [`TlsPaths`], or the embedded data of a kubeconfig: CA bundle,
/// certificate chain and key, all PEM and checked to parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsMaterial {
    /// CA bundle peers are verified against.
    pub ca_pem: String,
    /// Our certificate, leaf first, then any intermediates.
    pub cert_pem: String,
    /// Our certificate's key.
    pub key: PrivateKeyPem,
}

impl TlsMaterial {
    /// Checks and bundles the three PEM parts.
    pub fn from_pem(
        ca_pem: String,
        cert_pem: String,
        key: PrivateKeyPem,
    ) -> Result<Self, PkiError> {
        Self::with_sources(ca_pem, cert_pem, key, "CA bundle", "certificate")
    }

    fn with_sources(
        ca_pem: String,
        cert_pem: String,
        key: PrivateKeyPem,
        ca_what: &str,
        cert_what: &str,
    ) -> Result<Self, PkiError> {
        parse_certs(&ca_pem, ca_what)?;
        parse_certs(&cert_pem, cert_what)?;
        Ok(TlsMaterial {
            ca_pem,
            cert_pem,
            key,
        })
    }

    /// The identity our own certificate names.
    pub fn identity(&self) -> Result<Identity, PkiError> {
        let chain = parse_certs(&self.cert_pem, "certificate")?;
        Identity::from_der(&chain[0])
    }

    /// See [`TlsPaths::server_config`].
    pub fn server_config(&self) -> Result<Arc<ServerConfig>, PkiError> {
        install_crypto_provider();
        let verifier = WebPkiClientVerifier::builder(Arc::new(self.roots()?)).build()?;
        let mut config = ServerConfig::builder()
            .with_client_cert_verifier(verifier)
            .with_single_cert(
                parse_certs(&self.cert_pem, "certificate")?,
                self.key.to_der()?,
            )?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }

    /// See [`TlsPaths::client_config`].
    pub fn client_config(&self) -> Result<Arc<ClientConfig>, PkiError> {
        install_crypto_provider();
        let mut config = ClientConfig::builder()
            .with_root_certificates(self.roots()?)
            .with_client_auth_cert(
                parse_certs(&self.cert_pem, "certificate")?,
                self.key.to_der()?,
            )?;
        config.alpn_protocols = vec![b"h2".to_vec()];
        Ok(Arc::new(config))
    }

    /// See [`TlsPaths::tonic_server`]. Client certificates are required.
    pub fn tonic_server(&self) -> Result<tonic::transport::ServerTlsConfig, PkiError> {
        // Surfaces a bad CA, or a key that does not match the certificate, here with a
        // clear message rather than later inside tonic.
        self.server_config()?;
        Ok(tonic::transport::ServerTlsConfig::new()
            .identity(self.tonic_identity())
            .client_ca_root(tonic::transport::Certificate::from_pem(&self.ca_pem))
            .client_auth_optional(false))
    }

    /// See [`TlsPaths::tonic_client`].
    pub fn tonic_client(
        &self,
        domain: &str,
    ) -> Result<tonic::transport::ClientTlsConfig, PkiError> {
        self.client_config()?;
        Ok(tonic::transport::ClientTlsConfig::new()
            .ca_certificate(tonic::transport::Certificate::from_pem(&self.ca_pem))
            .identity(self.tonic_identity())
            .domain_name(domain))
    }

    /// tonic's identity type holds the key bytes and derives `Debug`: never log it.
    fn tonic_identity(&self) -> tonic::transport::Identity {
        tonic::transport::Identity::from_pem(&self.cert_pem, self.key.expose_pem())
    }

    fn roots(&self) -> Result<RootCertStore, PkiError> {
        let mut roots = RootCertStore::empty();
        for cert in parse_certs(&self.ca_pem, "CA bundle")? {
            roots.add(cert)?;
        }
        Ok(roots)
    }
}

/// Every certificate of a PEM bundle; at least one.
fn parse_certs(pem: &str, what: &str) -> Result<Vec<CertificateDer<'static>>, PkiError> {
    let invalid = |reason: String| PkiError::InvalidPem {
        what: what.to_string(),
        reason,
    };
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| invalid(format!("not a PEM certificate bundle ({err})")))?;
    if certs.is_empty() {
        return Err(invalid("holds no PEM certificate".to_string()));
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_flags_are_all_or_nothing() {
        assert_eq!(TlsPaths::from_flags(None, None, None).unwrap(), None);
        let all = TlsPaths::from_flags(Some("ca".into()), Some("c".into()), Some("k".into()));
        assert_eq!(all.unwrap(), Some(TlsPaths::new("ca", "c", "k")));
        let err = TlsPaths::from_flags(Some("ca".into()), None, None).unwrap_err();
        assert!(
            err.to_string().ends_with("missing: certificate, key"),
            "{err}"
        );
    }
}
