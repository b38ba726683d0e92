//! Rudder's PKI: the cluster CA, one certificate per identity (as kubeadm makes them),
//! kubeconfigs, and the rustls/tonic configurations for mutual TLS.
//!
//! Identity is the certificate subject, as in Kubernetes: CN is the user, every O a
//! group. Every server requires a client certificate issued by the cluster CA.
//!
//! # API
//!
//! ```text
//! install_crypto_provider()                      once at start-up; idempotent
//!
//! TlsPaths { pub ca, pub cert, pub key: PathBuf }          all three or none
//!   TlsPaths::new(ca, cert, key) -> TlsPaths
//!   TlsPaths::from_flags(Option<PathBuf> x3) -> Result<Option<TlsPaths>, PkiError>
//!   .server_config() -> Result<Arc<rustls::ServerConfig>, PkiError>
//!                        client cert REQUIRED, verified against ca; ALPN h2, http/1.1
//!   .client_config() -> Result<Arc<rustls::ClientConfig>, PkiError>
//!                        presents cert, verifies the server against ca; ALPN h2
//!   .tonic_server() -> Result<tonic::transport::ServerTlsConfig, PkiError>
//!   .tonic_client(domain: &str) -> Result<tonic::transport::ClientTlsConfig, PkiError>
//!   .load() -> Result<TlsMaterial, PkiError>       the same four methods on PEM in memory
//!
//! Identity { pub user: String, pub groups: Vec<String> }   Serialize + Deserialize
//!   Identity::new(user, groups), Identity::from_der(&[u8]) -> Result<Identity, PkiError>
//! peer_identity<T>(&tonic::Request<T>) -> Option<Identity>        in a tonic handler
//! connection_identity(&rustls::ServerConnection) -> Option<Identity>
//!                        hyper over tokio-rustls: tls_stream.get_ref().1
//! not_after(&[u8]) -> Option<i64>      a DER certificate's notAfter, unix seconds
//!
//! CertificateAuthority::generate(cn) | ::load(pki_dir) | ::load_files(crt, key)
//!   .issue_client(user, groups: &[impl AsRef<str>], Validity) -> Result<IssuedCert, PkiError>
//!   .issue(&CertRequest) -> Result<IssuedCert, PkiError>   server / peer / client
//! Validity::days(n) | Validity::expired() | Validity { not_before, not_after }
//! IssuedCert { pub cert_pem: String, pub key: PrivateKeyPem }
//!   ::load(crt, key), .write(crt, key), .identity(), .cert_der(), .missing_sans(..)
//! PrivateKeyPem                                  Debug prints <redacted>; .expose_pem()
//!
//! certs::write_cluster_certs(&CertsOptions) -> Result<CertsReport, PkiError>
//!                        what `rudderadm certs` runs; CertsOptions::new(dir) has its defaults
//! certs::CertsLayout::new(dir)                   paths it writes; apiserver_tls(),
//!                        apiserver_etcd_client_tls(), store_member_tls(m), client_tls(name)
//! kubeconfig::Kubeconfig (serde)                 for_identity, load, save, from_yaml,
//!                        to_yaml, client_credentials() -> server, server_name, TlsMaterial
//! PkiError                                       thiserror; one-line messages naming the file
//! ```
//!
//! Keys are ECDSA P-256 throughout. The service-account pair `pki/sa.key` (PKCS#8 PEM)
//! and `pki/sa.pub` (SubjectPublicKeyInfo PEM) is ES256 for JWTs: it loads with the
//! `jsonwebtoken` crate's `EncodingKey::from_ec_pem` and `DecodingKey::from_ec_pem`.
//!
//! Choices (the layout itself is in [`certs`]):
//! - Each client identity is written twice, embedded in `<dir>/<name>.conf` and as
//!   `<dir>/pki/<name>.crt|key`, so a gRPC component can take either `--kubeconfig`
//!   or `--tls-ca/--tls-cert/--tls-key` flags. Both hold the same certificate.
//! - No kubelet identity unless a node is named (`--node`); one store member,
//!   `default`, unless members are named.
//! - A subject may carry several groups (O); rcgen allows one, so [`CertificateAuthority`]
//!   writes the subject itself for those (see `subject.rs`).
//! - Constructors of rustls/tonic configs install the ring provider themselves;
//!   calling [`install_crypto_provider`] at start-up is still right for code that
//!   builds rustls configs elsewhere.

mod ca;
pub mod certs;
mod error;
mod files;
mod identity;
mod key;
pub mod kubeconfig;
mod subject;
mod tls;

pub use ca::{
    CA_VALIDITY_DAYS, CertRequest, CertUsage, CertificateAuthority, IssuedCert, LEAF_VALIDITY_DAYS,
    ServiceAccountKey, Validity,
};
pub use error::PkiError;
pub use identity::{Identity, connection_identity, not_after, peer_identity};
pub use key::PrivateKeyPem;
pub use tls::{TlsMaterial, TlsPaths, install_crypto_provider};
