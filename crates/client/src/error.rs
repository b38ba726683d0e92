//! The crate's one error type. Whether an error is worth retrying is in its variant:
//! [`Error::Transient`] may succeed later, everything else will not.

use std::fmt;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;

use crate::grpc_status;

/// Everything a call of this crate can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The API server refused the request with a Kubernetes `Status` (404, 409, 422,
    /// 403...). Retrying the same request gets the same answer. `Display` prints it as
    /// kubectl does: `Error from server (NotFound): pods "x" not found`.
    #[error("{0}")]
    Api(Box<ServerError>),
    /// A failure that may pass: the server could not be reached, dropped the
    /// connection, or said it is overloaded or unavailable (429, 503, 504). Idempotent
    /// calls are retried with back-off before this is returned.
    #[error("{0}")]
    Transient(Box<TransientError>),
    /// The kubeconfig or TLS material is unusable.
    #[error("kubeconfig: {0}")]
    Config(String),
    /// The server answered something that is not the expected JSON.
    #[error("cannot decode {what} from the server: {source}")]
    Decode {
        /// What was being decoded (`Pod`, `list`, `watch event`).
        what: String,
        /// The JSON error.
        source: serde_json::Error,
    },
    /// An object or patch could not be serialized to JSON.
    #[error("cannot encode the request: {0}")]
    Encode(#[source] serde_json::Error),
    /// The call makes no sense as asked (a namespaced create without a namespace,
    /// an object without a name); nothing was sent.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A Kubernetes `Status` the API server answered with.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerError {
    /// The meta/v1 Status: `code` (HTTP), `reason`, `message`, `details`.
    pub status: Status,
}

impl ServerError {
    /// The HTTP code (404...), 500 when the server left it out.
    pub fn code(&self) -> i32 {
        self.status.code.unwrap_or(500)
    }

    /// The reason (`NotFound`, `Conflict`...), empty when the server left it out.
    pub fn reason(&self) -> &str {
        self.status.reason.as_deref().unwrap_or("")
    }

    /// The human message (`pods "x" not found`).
    pub fn message(&self) -> &str {
        self.status.message.as_deref().unwrap_or("")
    }
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Error from server ({}): {}",
            self.reason(),
            self.message()
        )
    }
}

/// A failure that may pass on a later attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct TransientError {
    /// The Status the server sent (429, 503, 504), or one made from the gRPC error
    /// (`ServiceUnavailable` for a refused connection).
    pub status: Status,
    /// The gRPC code of the failure.
    pub grpc_code: tonic::Code,
    /// True when the request certainly did not reach the API server's registry (the
    /// connection could not be made, or the server shed it with 429): then even a
    /// write is safe to retry.
    pub not_processed: bool,
}

impl fmt::Display for TransientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let message = self.status.message.as_deref().unwrap_or("");
        if self.not_processed && self.grpc_code == tonic::Code::Unavailable {
            write!(f, "cannot reach the API server: {message}")
        } else {
            write!(
                f,
                "Error from server ({}): {message}",
                self.status.reason.as_deref().unwrap_or("")
            )
        }
    }
}

impl Error {
    /// The Kubernetes `Status` of the error, when it has one (server errors and
    /// transient ones).
    pub fn status(&self) -> Option<&Status> {
        match self {
            Error::Api(e) => Some(&e.status),
            Error::Transient(e) => Some(&e.status),
            _ => None,
        }
    }

    /// The HTTP code of the error's Status, if any.
    pub fn code(&self) -> Option<i32> {
        self.status().and_then(|s| s.code)
    }

    /// The reason of the error's Status, if any.
    pub fn reason(&self) -> Option<&str> {
        self.status().and_then(|s| s.reason.as_deref())
    }

    /// 404 from the server.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::Api(e) if e.code() == 404)
    }

    /// 409 `AlreadyExists`.
    pub fn is_already_exists(&self) -> bool {
        matches!(self, Error::Api(e) if e.code() == 409 && e.reason() == "AlreadyExists")
    }

    /// 409 other than `AlreadyExists`: a stale resourceVersion or failed precondition.
    pub fn is_conflict(&self) -> bool {
        matches!(self, Error::Api(e) if e.code() == 409 && e.reason() != "AlreadyExists")
    }

    /// 410: the resourceVersion (or continue token) is older than the server keeps; a
    /// watcher answers it by listing again.
    pub fn is_expired(&self) -> bool {
        matches!(self, Error::Api(e) if e.code() == 410)
    }

    /// Whether the same call may succeed later ([`Error::Transient`]).
    pub fn is_transient(&self) -> bool {
        matches!(self, Error::Transient(_))
    }

    /// A server error with this Status (used for watch `ERROR` events, which carry one
    /// as their object).
    pub fn from_status(status: Status) -> Error {
        match status.code {
            Some(429 | 503 | 504) => {
                let code = rudder_proto::grpc_error::grpc_code(status.code.unwrap_or(503), "");
                Error::Transient(Box::new(TransientError {
                    not_processed: status.code == Some(429),
                    status,
                    grpc_code: code,
                }))
            }
            _ => Error::Api(Box::new(ServerError { status })),
        }
    }

    /// Classifies a gRPC error of the `Api` service (see [`crate::grpc_status`]).
    pub fn from_grpc(status: tonic::Status) -> Error {
        match grpc_status::from_grpc(&status) {
            Some(k8s) => Error::from_status(k8s),
            None => {
                let code = status.code();
                let transient = matches!(
                    code,
                    tonic::Code::Unavailable
                        | tonic::Code::Unknown
                        | tonic::Code::ResourceExhausted
                        | tonic::Code::DeadlineExceeded
                        | tonic::Code::Cancelled
                );
                let k8s = grpc_status::status_of(&status);
                if transient {
                    Error::Transient(Box::new(TransientError {
                        not_processed: code == tonic::Code::Unavailable
                            && is_connect_error(&status),
                        status: k8s,
                        grpc_code: code,
                    }))
                } else {
                    Error::Api(Box::new(ServerError { status: k8s }))
                }
            }
        }
    }
}

/// Whether a transport error happened while connecting, so no request was sent.
/// tonic reports refused and failed connections as `Unavailable` with a transport
/// error as the source; its text is the only stable signal it offers.
fn is_connect_error(status: &tonic::Status) -> bool {
    let mut texts = vec![status.message().to_ascii_lowercase()];
    let mut source = std::error::Error::source(status);
    while let Some(err) = source {
        texts.push(err.to_string().to_ascii_lowercase());
        source = err.source();
    }
    texts.iter().any(|t| {
        t.contains("connect error")
            || t.contains("connection refused")
            || t.contains("error trying to connect")
            || t.contains("dns error")
            || t.contains("tls handshake")
    })
}

impl From<rudder_pki::PkiError> for Error {
    fn from(err: rudder_pki::PkiError) -> Self {
        Error::Config(err.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rudder_api::resource::resolve;
    use rudder_api::status;

    #[test]
    fn server_errors_print_as_kubectl_does() {
        let pods = resolve("pods").unwrap();
        let err = Error::from_grpc(grpc_status::to_grpc(&status::not_found(pods, "x")));
        assert_eq!(
            err.to_string(),
            "Error from server (NotFound): pods \"x\" not found"
        );
        assert!(err.is_not_found() && !err.is_transient());
        assert_eq!(err.code(), Some(404));
    }

    #[test]
    fn unavailability_is_transient_and_a_refused_connection_was_not_processed() {
        let err = Error::from_grpc(tonic::Status::unavailable("tcp connect error"));
        let Error::Transient(t) = &err else {
            panic!("{err:?}")
        };
        assert!(t.not_processed);
        assert_eq!(err.code(), Some(503));

        let overloaded = Error::from_grpc(grpc_status::to_grpc(&status::too_many_requests(1)));
        assert!(matches!(&overloaded, Error::Transient(t) if t.not_processed));

        let conflict = Error::from_grpc(grpc_status::to_grpc(&status::optimistic_lock_conflict(
            resolve("pods").unwrap(),
            "x",
        )));
        assert!(conflict.is_conflict() && !conflict.is_transient());
        let gone = Error::from_grpc(grpc_status::to_grpc(&status::resource_expired(1, 2)));
        assert!(gone.is_expired());
    }
}
