//! The crate's one error type, and the one place it becomes a wire error: a
//! Kubernetes `Status` on REST ([`Error::to_status`]), a `tonic::Status` on gRPC
//! ([`Error::to_grpc_status`], from the same `Status`).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Status, StatusCause, StatusDetails};
use rudder_api::resource::ResourceInfo;
use rudder_api::status;
use rudder_api::validation::FieldError;

/// Everything a request or the server itself can fail with. Variants carry what the
/// wire form needs (the resource row for `pods "x" not found` naming); none of them
/// panics or hides a 5xx behind bad input.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// 404 for an object.
    #[error("{} \"{name}\" not found", resource.group_resource())]
    NotFound {
        /// The resource looked in.
        resource: &'static ResourceInfo,
        /// The object's name.
        name: String,
    },
    /// 404 for a path that names nothing served.
    #[error("the server could not find the requested resource")]
    PathNotFound,
    /// 409 on create of an existing name.
    #[error("{} \"{name}\" already exists", resource.group_resource())]
    AlreadyExists {
        /// The resource created in.
        resource: &'static ResourceInfo,
        /// The object's name.
        name: String,
    },
    /// 409 on a stale `resourceVersion` (or a failed precondition).
    #[error("Operation cannot be fulfilled on {} \"{name}\": {why}", resource.group_resource())]
    Conflict {
        /// The resource written to.
        resource: &'static ResourceInfo,
        /// The object's name.
        name: String,
        /// Why the write could not be applied.
        why: String,
    },
    /// 422 with field causes.
    #[error("{} \"{name}\" is invalid", resource.kind)]
    Invalid {
        /// The resource whose object is invalid.
        resource: &'static ResourceInfo,
        /// The object's name.
        name: String,
        /// One entry per invalid field.
        errors: Vec<FieldError>,
    },
    /// 409 from server-side apply: fields other managers own would change.
    #[error("{}", .0.message())]
    ApplyConflict(rudder_api::apply::Conflicts),
    /// 422 for invalid request options (`PatchOptions.meta.k8s.io "" is invalid:
    /// fieldManager: Required value: ...`), `kind` naming the options' kind.
    #[error("{kind}.meta.k8s.io \"\" is invalid")]
    InvalidOptions {
        /// `PatchOptions`, `CreateOptions` or `UpdateOptions`.
        kind: &'static str,
        /// One entry per invalid option.
        errors: Vec<FieldError>,
    },
    /// 422 for a patch whose result does not decode strictly: upstream names no kind
    /// or object, only the field `patch` (` "" is invalid: patch: Invalid value: ...`).
    #[error(" \"\" is invalid: {0}")]
    InvalidPatch(FieldError),
    /// Bad input found by rudder_api (selectors, patches, decoding), worded and
    /// coded there (`rudder_api::status::from_error`).
    #[error("{0}")]
    Api(rudder_api::Error),
    /// 400 with a message worded as upstream's.
    #[error("{0}")]
    BadRequest(String),
    /// 401: no usable credentials.
    #[error("Unauthorized")]
    Unauthorized,
    /// 403 from the authorizer or an admission plugin, with upstream's message.
    #[error("{}", .0.message.as_deref().unwrap_or("forbidden"))]
    Forbidden(Box<Status>),
    /// 405: the verb is not served on this resource.
    #[error("{verb} is not supported on resources of kind \"{}\"", resource.group_resource())]
    MethodNotAllowed {
        /// The resource asked.
        resource: &'static ResourceInfo,
        /// The verb refused.
        verb: String,
    },
    /// 406: nothing in `Accept` can be produced.
    #[error("only the following media types are accepted: {0}")]
    NotAcceptable(String),
    /// 410 `Expired`: a revision or continue token older than the store keeps.
    #[error("{0}")]
    Expired(String),
    /// 413: a body over the limit.
    #[error("Request entity too large: limit is {0}")]
    TooLarge(usize),
    /// 429: the in-flight limit is reached (`--max-requests-inflight`).
    #[error("Too many requests, please try again later.")]
    TooManyRequests,
    /// 415: a Content-Type the endpoint does not take.
    #[error("the body of the request was in an unknown format - {0}")]
    UnsupportedMediaType(String),
    /// 504: the request waited too long (e.g. a resourceVersion from the future).
    #[error("{0}")]
    Timeout(String),
    /// 503/500: the store failed or is unreachable. The message names the store
    /// error; no user data is in it.
    #[error("storage error: {0}")]
    Storage(String),
    /// 500: a bug or an object in the store that does not decode.
    #[error("{0}")]
    Internal(String),
    /// Start-up failures (bad certificates, unbindable port): not a request error.
    #[error("{0}")]
    Startup(String),
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<rudder_api::Error> for Error {
    fn from(err: rudder_api::Error) -> Self {
        Error::Api(err)
    }
}

impl From<etcd_client::Error> for Error {
    fn from(err: etcd_client::Error) -> Self {
        Error::Storage(err.to_string())
    }
}

impl Error {
    /// The HTTP status code of the wire form.
    pub fn code(&self) -> u16 {
        self.to_status()
            .code
            .and_then(|c| u16::try_from(c).ok())
            .unwrap_or(500)
    }

    /// The Kubernetes `Status` this error answers with: the single mapping from
    /// internal errors to the REST wire (gRPC derives its code from it).
    pub fn to_status(&self) -> Status {
        match self {
            Error::NotFound { resource, name } => status::not_found(resource, name),
            Error::PathNotFound => status::path_not_found(),
            Error::AlreadyExists { resource, name } => status::already_exists(resource, name),
            Error::Conflict {
                resource,
                name,
                why,
            } => status::conflict(resource, name, why),
            Error::Invalid {
                resource,
                name,
                errors,
            } => status::invalid(resource, name, errors),
            Error::ApplyConflict(conflicts) => {
                let mut s = failure(409, "Conflict", conflicts.message());
                s.details = Some(StatusDetails {
                    causes: Some(
                        conflicts
                            .fields
                            .iter()
                            .map(|(manager, field)| StatusCause {
                                reason: Some("FieldManagerConflict".to_string()),
                                message: Some(format!("conflict with {manager}")),
                                field: Some(field.clone()),
                            })
                            .collect(),
                    ),
                    ..Default::default()
                });
                s
            }
            Error::InvalidOptions { kind, errors } => {
                let body = errors.iter().map(ToString::to_string).collect::<Vec<_>>();
                let message = match body.as_slice() {
                    [one] => format!("{self}: {one}"),
                    many => format!("{self}: [{}]", many.join(", ")),
                };
                let mut s = failure(422, "Invalid", message);
                s.details = Some(StatusDetails {
                    group: Some("meta.k8s.io".to_string()),
                    kind: Some((*kind).to_string()),
                    causes: Some(
                        errors
                            .iter()
                            .map(|e| StatusCause {
                                reason: Some(e.kind.cause_type().to_string()),
                                message: Some(e.body()),
                                field: Some(e.field.clone()),
                            })
                            .collect(),
                    ),
                    ..Default::default()
                });
                s
            }
            Error::InvalidPatch(error) => {
                let mut s = failure(422, "Invalid", self.to_string());
                s.details = Some(StatusDetails {
                    causes: Some(vec![StatusCause {
                        reason: Some(error.kind.cause_type().to_string()),
                        message: Some(error.body()),
                        field: Some(error.field.clone()),
                    }]),
                    ..Default::default()
                });
                s
            }
            Error::Api(err) => status::from_error(err),
            Error::BadRequest(message) => status::bad_request(message),
            Error::Unauthorized => status::unauthorized(""),
            Error::Forbidden(s) => (**s).clone(),
            Error::MethodNotAllowed { resource, verb } => {
                status::method_not_allowed(resource, verb)
            }
            Error::NotAcceptable(_) => failure(406, "NotAcceptable", self.to_string()),
            Error::Expired(message) => failure(410, "Expired", message.clone()),
            Error::TooLarge(limit) => status::request_entity_too_large(*limit),
            Error::UnsupportedMediaType(_) => {
                failure(415, "UnsupportedMediaType", self.to_string())
            }
            Error::TooManyRequests => {
                let mut s = failure(429, "TooManyRequests", self.to_string());
                s.details = Some(StatusDetails {
                    retry_after_seconds: Some(1),
                    ..Default::default()
                });
                s
            }
            Error::Timeout(message) => {
                let mut s = failure(504, "Timeout", message.clone());
                s.details = Some(StatusDetails {
                    retry_after_seconds: Some(1),
                    ..Default::default()
                });
                s
            }
            Error::Storage(message) => {
                let mut s = status::internal_error(message);
                // An unreachable store is a transient server condition: clients retry.
                s.code = Some(503);
                s.reason = Some("ServiceUnavailable".to_string());
                s.message = Some(format!("storage is unavailable: {message}"));
                s.details = None;
                s
            }
            Error::Internal(message) | Error::Startup(message) => status::internal_error(message),
        }
    }
}

impl Error {
    /// The gRPC status of this error: the Kubernetes Status in the convention of
    /// `rudder_proto::grpc_error` (a stable code, the Status JSON in the details), so a
    /// client recovers reason, causes and details.
    pub fn to_grpc_status(&self) -> tonic::Status {
        let status = self.to_status();
        // A Status always serializes; the fallback only keeps this function total.
        let json = serde_json::to_vec(&status).unwrap_or_default();
        rudder_proto::grpc_error::encode(
            status.code.unwrap_or(500),
            status.reason.as_deref().unwrap_or(""),
            status.message.as_deref().unwrap_or(""),
            json,
        )
    }
}

fn failure(code: i32, reason: &str, message: String) -> Status {
    Status {
        status: Some("Failure".to_string()),
        code: Some(code),
        reason: Some(reason.to_string()),
        message: Some(message),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rudder_api::resource::resolve;

    #[test]
    fn maps_to_upstream_statuses() {
        let pods = resolve("pods").unwrap();
        let cases = [
            (
                Error::NotFound {
                    resource: pods,
                    name: "x".into(),
                },
                404,
                "NotFound",
                "pods \"x\" not found",
            ),
            (
                Error::AlreadyExists {
                    resource: pods,
                    name: "x".into(),
                },
                409,
                "AlreadyExists",
                "pods \"x\" already exists",
            ),
            (
                Error::TooLarge(3 * 1024 * 1024),
                413,
                "RequestEntityTooLarge",
                "Request entity too large: limit is 3145728",
            ),
            (
                Error::Expired("too old resource version: 1 (5)".into()),
                410,
                "Expired",
                "too old resource version: 1 (5)",
            ),
            (
                Error::PathNotFound,
                404,
                "NotFound",
                "the server could not find the requested resource",
            ),
            (
                Error::Timeout("Too large resource version: 9, current: 5".into()),
                504,
                "Timeout",
                "Too large resource version: 9, current: 5",
            ),
        ];
        for (err, code, reason, message) in cases {
            let s = err.to_status();
            assert_eq!(err.code(), code);
            assert_eq!(
                (s.code, s.reason.as_deref(), s.message.as_deref()),
                (Some(i32::from(code)), Some(reason), Some(message))
            );
            assert_eq!(s.status.as_deref(), Some("Failure"));
        }
        assert_eq!(Error::Storage("down".into()).code(), 503);
        let g = Error::NotFound {
            resource: pods,
            name: "x".into(),
        }
        .to_grpc_status();
        assert_eq!(g.code(), tonic::Code::NotFound);
        assert_eq!(g.message(), "pods \"x\" not found");
        let details = rudder_proto::grpc_error::decode(&g).unwrap();
        let details: serde_json::Value = serde_json::from_slice(&details).unwrap();
        assert_eq!(details["reason"], "NotFound");
        assert_eq!(
            Error::Conflict {
                resource: pods,
                name: "x".into(),
                why: "w".into()
            }
            .to_grpc_status()
            .code(),
            tonic::Code::Aborted
        );
        assert_eq!(
            Error::from(rudder_api::Error::LabelSelector("bad".into())).code(),
            400
        );
    }
}
