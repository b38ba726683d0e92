//! The one error type of this crate. Every message is a single line that names the
//! file or the input at fault, so a CLI can print it as is.

use std::path::PathBuf;

/// Everything that can go wrong while making, loading or using certificates.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// A file could not be read, written or created.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A file or value that should hold PEM (certificates or a key) holds something else.
    #[error("{what}: {reason}")]
    InvalidPem { what: String, reason: String },

    /// A certificate could not be parsed or does not fit its use.
    #[error("{what}: {reason}")]
    InvalidCertificate { what: String, reason: String },

    /// A name given for a certificate (SAN, node, member, user) is not usable.
    #[error("invalid {what} {value:?}: {reason}")]
    InvalidName {
        what: &'static str,
        value: String,
        reason: String,
    },

    /// Only some of the files of a pair (or of a TLS configuration) are present.
    #[error("{0}")]
    Incomplete(String),

    /// rcgen failed to generate a key or sign a certificate.
    #[error("generating {what}: {source}")]
    Generate {
        what: String,
        #[source]
        source: rcgen::Error,
    },

    /// rustls refused the assembled configuration (e.g. the key does not match the certificate).
    #[error("building TLS configuration: {0}")]
    Tls(#[from] rustls::Error),

    /// rustls could not build the client-certificate verifier (e.g. an empty CA bundle).
    #[error("building client certificate verifier: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),

    /// A kubeconfig could not be parsed, or lacks what the caller asked of it.
    #[error("kubeconfig {what}: {reason}")]
    Kubeconfig { what: String, reason: String },
}

impl PkiError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        PkiError::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn generate(what: impl Into<String>, source: rcgen::Error) -> Self {
        PkiError::Generate {
            what: what.into(),
            source,
        }
    }
}
