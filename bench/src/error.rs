//! The one error type of the library; the binary maps it to an exit code.

use std::path::PathBuf;
use std::time::Duration;

/// What can go wrong in a benchmark run or a comparison.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A flag or option that cannot describe a run (exit 64, as bad configuration).
    #[error("{0}")]
    Invalid(String),
    /// A TLS file or a result file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A result file that is not a rudder-bench result.
    #[error("{path}: not a rudder-bench result: {source}")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    /// The client could not be built for an endpoint (bad URL, bad TLS material).
    #[error("connecting to {endpoint}: {source}")]
    Connect {
        endpoint: String,
        source: etcd_client::Error,
    },
    /// Client TLS material (a kubeconfig, certificate files) that cannot be used.
    #[error("client TLS: {0}")]
    Tls(String),
    /// A request outside the measured phases (preparing namespaces and pods) failed.
    #[error("{what}: {reason}")]
    Request { what: String, reason: String },
    /// No endpoint answered a read within the wait.
    #[error("{endpoint} did not answer within {waited:?}: {last}")]
    NotReady {
        endpoint: String,
        waited: Duration,
        last: String,
    },
    /// A request outside the measured phases (seeding the range key) failed.
    #[error("{what}: {source}")]
    Rpc {
        what: &'static str,
        source: etcd_client::Error,
    },
    /// A client task that panicked or was cancelled: the phase's figures would be partial.
    #[error("a client task of the phase failed: {0}")]
    ClientTask(#[from] tokio::task::JoinError),
    /// Latency histograms that cannot be built or merged (never with our fixed bounds).
    #[error("latency histogram: {0}")]
    Histogram(String),
}

/// The library's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The process exit code for this error: 64 for bad configuration, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Invalid(_) => 64,
            _ => 1,
        }
    }
}
