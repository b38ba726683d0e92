//! The wire convention for errors of the `Api` gRPC service: how the API server sends a
//! Kubernetes meta/v1 `Status` inside a gRPC error, and how a client gets it back.
//!
//! Both sides use this module, so they cannot drift apart:
//! - the API server answers a failed call with [`to_grpc`]`(&status)`;
//! - the client reads it with [`from_grpc`] (or [`status_of`], which also makes a
//!   `Status` for errors that never reached the server).
//!
//! # The convention
//!
//! A failed call is a `tonic::Status` whose
//! - **code** is [`grpc_code`]`(status.code, status.reason)`, the table below;
//! - **message** is the Status' `message` (`pods "x" not found`), so plain gRPC
//!   tools (grpcurl) print the same text kubectl does;
//! - **details** (the `grpc-status-details-bin` trailer) are a protobuf
//!   `google.rpc.Status { code, message, details: [Any] }`, as gRPC specifies for that
//!   trailer, with exactly one `Any` whose `type_url` is [`STATUS_TYPE_URL`] and whose
//!   `value` is the **JSON** of the meta/v1 `Status` (`{"kind":"Status",
//!   "apiVersion":"v1","status":"Failure","reason":"NotFound","code":404,...}`) — the
//!   same JSON REST answers. Other gRPC clients can decode the trailer as usual and
//!   ignore the `Any` they do not know.
//!
//! | HTTP code (reason)           | gRPC code           |
//! |------------------------------|---------------------|
//! | 400, 406, 413, 415, 422      | `InvalidArgument`   |
//! | 401                          | `Unauthenticated`   |
//! | 403                          | `PermissionDenied`  |
//! | 404                          | `NotFound`          |
//! | 405, 501                     | `Unimplemented`     |
//! | 409 `AlreadyExists`          | `AlreadyExists`     |
//! | 409 (`Conflict`, other)      | `Aborted`           |
//! | 410 (`Expired`, `Gone`)      | `OutOfRange` (as etcd's "compacted") |
//! | 429                          | `ResourceExhausted` |
//! | 500                          | `Internal`          |
//! | 503                          | `Unavailable`       |
//! | 504                          | `DeadlineExceeded`  |
//! | other 4xx                    | `FailedPrecondition`|
//! | other 5xx, anything else     | `Unknown`           |
//!
//! A watch that fails after it started sends a `WatchEvent` of type `ERROR` whose
//! object is the `Status` JSON (as REST does) and then ends the stream; a watch that
//! cannot start (410 on a compacted resourceVersion) fails the RPC itself with the
//! convention above. Clients handle both.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;
use prost::Message;
use tonic::Code;

/// The `type_url` of the `Any` that carries the Kubernetes `Status` JSON in the gRPC
/// error details. The value is JSON, not protobuf: the suffix says so.
pub const STATUS_TYPE_URL: &str =
    "type.rudder.dev/io.k8s.apimachinery.pkg.apis.meta.v1.Status+json";

/// `google.rpc.Status`, the message gRPC puts in `grpc-status-details-bin`
/// (google/rpc/status.proto), written out here so no extra crate is needed.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
    #[prost(message, repeated, tag = "3")]
    details: Vec<prost_types::Any>,
}

/// The gRPC code for a Kubernetes HTTP status code and reason (the table above).
pub fn grpc_code(http_code: i32, reason: &str) -> Code {
    match http_code {
        400 | 406 | 413 | 415 | 422 => Code::InvalidArgument,
        401 => Code::Unauthenticated,
        403 => Code::PermissionDenied,
        404 => Code::NotFound,
        405 | 501 => Code::Unimplemented,
        409 if reason == "AlreadyExists" => Code::AlreadyExists,
        409 => Code::Aborted,
        410 => Code::OutOfRange,
        429 => Code::ResourceExhausted,
        500 => Code::Internal,
        503 => Code::Unavailable,
        504 => Code::DeadlineExceeded,
        400..=499 => Code::FailedPrecondition,
        _ => Code::Unknown,
    }
}

/// The HTTP code and reason a client assumes for a gRPC error that carries no
/// Kubernetes `Status` (it never reached the API server's registry).
pub fn http_code_and_reason(code: Code) -> (i32, &'static str) {
    match code {
        Code::InvalidArgument => (400, "BadRequest"),
        Code::Unauthenticated => (401, "Unauthorized"),
        Code::PermissionDenied => (403, "Forbidden"),
        Code::NotFound => (404, "NotFound"),
        Code::Unimplemented => (405, "MethodNotAllowed"),
        Code::AlreadyExists => (409, "AlreadyExists"),
        Code::Aborted => (409, "Conflict"),
        Code::OutOfRange => (410, "Expired"),
        Code::ResourceExhausted => (429, "TooManyRequests"),
        Code::Unavailable => (503, "ServiceUnavailable"),
        Code::DeadlineExceeded => (504, "Timeout"),
        Code::FailedPrecondition => (400, "BadRequest"),
        _ => (500, "InternalError"),
    }
}

/// Server side: the gRPC error that carries `status` (see the module docs).
pub fn to_grpc(status: &Status) -> tonic::Status {
    let http_code = status.code.unwrap_or(500);
    let code = grpc_code(http_code, status.reason.as_deref().unwrap_or(""));
    let message = status.message.clone().unwrap_or_default();
    // A Status always serializes; the fallback only keeps this function total.
    let json = serde_json::to_vec(status).unwrap_or_default();
    let details = RpcStatus {
        code: code as i32,
        message: message.clone(),
        details: vec![prost_types::Any {
            type_url: STATUS_TYPE_URL.to_string(),
            value: json,
        }],
    };
    tonic::Status::with_details(code, message, details.encode_to_vec().into())
}

/// Client side: the Kubernetes `Status` a gRPC error carries, if it carries one.
pub fn from_grpc(status: &tonic::Status) -> Option<Status> {
    if status.details().is_empty() {
        return None;
    }
    // Also the bare Status JSON in the details, as rudder-apiserver sends it today.
    if let Ok(bare) = serde_json::from_slice::<Status>(status.details())
        && bare.code.is_some()
    {
        return Some(bare);
    }
    let rpc = RpcStatus::decode(status.details()).ok()?;
    rpc.details
        .iter()
        .find(|any| any.type_url == STATUS_TYPE_URL)
        .and_then(|any| serde_json::from_slice(&any.value).ok())
}

/// The Kubernetes `Status` of any gRPC error: the one the server sent, or one made from
/// the gRPC code and message (`ServiceUnavailable` for a refused connection).
pub fn status_of(status: &tonic::Status) -> Status {
    from_grpc(status).unwrap_or_else(|| {
        let (code, reason) = http_code_and_reason(status.code());
        failure(code, reason, status.message())
    })
}

/// A `Failure` Status with no details, for errors made on the client side.
pub(crate) fn failure(code: i32, reason: &str, message: &str) -> Status {
    Status {
        status: Some("Failure".to_string()),
        code: Some(code),
        reason: Some(reason.to_string()),
        message: Some(message.to_string()),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rudder_api::resource::resolve;
    use rudder_api::status;

    #[test]
    fn a_status_survives_the_grpc_round_trip() {
        let pods = resolve("pods").unwrap();
        let not_found = status::not_found(pods, "x");
        let grpc = to_grpc(&not_found);
        assert_eq!(grpc.code(), Code::NotFound);
        assert_eq!(grpc.message(), "pods \"x\" not found");
        assert_eq!(from_grpc(&grpc), Some(not_found));

        let conflict = status::optimistic_lock_conflict(pods, "x");
        assert_eq!(to_grpc(&conflict).code(), Code::Aborted);
        let exists = status::already_exists(pods, "x");
        assert_eq!(to_grpc(&exists).code(), Code::AlreadyExists);
        assert_eq!(
            to_grpc(&status::resource_expired(1, 5)).code(),
            Code::OutOfRange
        );
    }

    #[test]
    fn a_bare_status_json_in_the_details_is_read_too() {
        let invalid = Status {
            code: Some(422),
            reason: Some("Invalid".into()),
            message: Some("Deployment.apps \"bad\" is invalid".into()),
            ..Default::default()
        };
        let grpc = tonic::Status::with_details(
            Code::InvalidArgument,
            "Deployment.apps \"bad\" is invalid",
            serde_json::to_vec(&invalid).unwrap().into(),
        );
        assert_eq!(from_grpc(&grpc), Some(invalid));
    }

    #[test]
    fn an_error_without_details_gets_a_status_from_its_code() {
        let grpc = tonic::Status::unavailable("tcp connect error");
        assert_eq!(from_grpc(&grpc), None);
        let status = status_of(&grpc);
        assert_eq!(status.code, Some(503));
        assert_eq!(status.reason.as_deref(), Some("ServiceUnavailable"));
        assert_eq!(status.message.as_deref(), Some("tcp connect error"));
        // Details that are not ours are ignored, not an error.
        let foreign = tonic::Status::with_details(Code::Internal, "x", vec![1, 2, 3].into());
        assert_eq!(status_of(&foreign).code, Some(500));
    }
}
