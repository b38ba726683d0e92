//! The library's one error type, and its mapping to the wire (etcd's error strings and gRPC
//! codes) in one place.

use serde::{Deserialize, Serialize};

/// An error a client is meant to see, with etcd's exact message. These are decided by the
/// replicated state (so they travel in raft responses, hence serde) or by request checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum EtcdError {
    #[error("etcdserver: mvcc: required revision has been compacted")]
    Compacted,
    #[error("etcdserver: mvcc: required revision is a future revision")]
    FutureRevision,
    #[error("etcdserver: requested lease not found")]
    LeaseNotFound,
    #[error("etcdserver: lease already exists")]
    LeaseExists,
    #[error("etcdserver: too large lease TTL")]
    LeaseTtlTooLarge,
    #[error("etcdserver: key not found")]
    KeyNotFound,
    #[error("etcdserver: key is not provided")]
    EmptyKey,
    #[error("etcdserver: duplicate key given in txn request")]
    DuplicateKey,
    #[error("etcdserver: too many operations in txn request")]
    TooManyOps,
    #[error("etcdserver: no leader")]
    NoLeader,
    #[error("etcdserver: request timed out")]
    Timeout,
    #[error("etcdserver: server stopped")]
    Stopped,
    #[error("etcdserver: member not found")]
    MemberNotFound,
    #[error("etcdserver: Peer URLs already exists")]
    PeerUrlExists,
    #[error("etcdserver: can only promote a learner member")]
    MemberNotLearner,
    #[error("etcdserver: re-configuration failed due to not enough started members")]
    MembershipChange,
}

impl EtcdError {
    /// The gRPC code etcd answers this error with (etcd's `rpctypes`).
    pub fn code(self) -> tonic::Code {
        use tonic::Code;
        match self {
            EtcdError::Compacted | EtcdError::FutureRevision | EtcdError::LeaseTtlTooLarge => {
                Code::OutOfRange
            }
            EtcdError::LeaseNotFound => Code::NotFound,
            EtcdError::LeaseExists => Code::FailedPrecondition,
            EtcdError::KeyNotFound
            | EtcdError::EmptyKey
            | EtcdError::DuplicateKey
            | EtcdError::TooManyOps => Code::InvalidArgument,
            EtcdError::NoLeader | EtcdError::Timeout | EtcdError::Stopped => Code::Unavailable,
            EtcdError::MemberNotFound => Code::NotFound,
            EtcdError::PeerUrlExists
            | EtcdError::MemberNotLearner
            | EtcdError::MembershipChange => Code::FailedPrecondition,
        }
    }
}

/// Everything that can go wrong in the store library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A request the store refuses, as etcd would.
    #[error(transparent)]
    Etcd(#[from] EtcdError),
    #[error("rocksdb: {0}")]
    Rocksdb(#[from] rocksdb::Error),
    #[error("encoding: {0}")]
    Codec(#[from] postcard::Error),
    /// Stored data that breaks an invariant (a revision the index names but the history lacks).
    #[error("corrupt store: {0}")]
    Corrupt(String),
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// raft refused to start or failed; the member cannot serve.
    #[error("raft: {0}")]
    Raft(String),
    /// The server's configuration is unusable (bad flags, unreadable certificates).
    #[error("config: {0}")]
    Config(String),
}

impl Error {
    pub fn corrupt(what: impl Into<String>) -> Self {
        Error::Corrupt(what.into())
    }

    /// What a client sees of this error when it must be an etcd error (a request forwarded
    /// to the leader, a shared read index): anything but a refusal is logged and becomes
    /// "server stopped".
    pub fn into_etcd(self) -> EtcdError {
        match self {
            Error::Etcd(e) => e,
            other => {
                tracing::warn!(error = %other, "request failed");
                EtcdError::Stopped
            }
        }
    }
}

impl From<Error> for tonic::Status {
    fn from(err: Error) -> Self {
        match err {
            Error::Etcd(e) => tonic::Status::new(e.code(), e.to_string()),
            other => tonic::Status::internal(other.to_string()),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
