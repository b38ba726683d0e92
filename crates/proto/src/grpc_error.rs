//! The wire convention for errors of the `Api` gRPC service, at the byte level: how a
//! Kubernetes meta/v1 `Status` (as its JSON) rides inside a gRPC error. The API server
//! encodes with [`encode`], the client decodes with [`decode`]; both wrap these in their
//! own `Status` types, so the two sides cannot drift apart.
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

/// Server side: the gRPC error for a Kubernetes `Status` with this HTTP code, reason and
/// message, whose whole JSON is `status_json`.
pub fn encode(http_code: i32, reason: &str, message: &str, status_json: Vec<u8>) -> tonic::Status {
    let code = grpc_code(http_code, reason);
    let details = RpcStatus {
        code: code as i32,
        message: message.to_string(),
        details: vec![prost_types::Any {
            type_url: STATUS_TYPE_URL.to_string(),
            value: status_json,
        }],
    };
    tonic::Status::with_details(code, message, details.encode_to_vec().into())
}

/// Client side: the Kubernetes `Status` JSON a gRPC error carries, if it carries one.
pub fn decode(status: &tonic::Status) -> Option<Vec<u8>> {
    if status.details().is_empty() {
        return None;
    }
    RpcStatus::decode(status.details())
        .ok()?
        .details
        .into_iter()
        .find(|any| any.type_url == STATUS_TYPE_URL)
        .map(|any| any.value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_json_survives_the_round_trip() {
        let json = br#"{"kind":"Status","code":404,"reason":"NotFound"}"#.to_vec();
        let grpc = encode(404, "NotFound", "pods \"x\" not found", json.clone());
        assert_eq!(grpc.code(), Code::NotFound);
        assert_eq!(grpc.message(), "pods \"x\" not found");
        assert_eq!(decode(&grpc), Some(json));
        assert_eq!(encode(409, "Conflict", "", vec![]).code(), Code::Aborted);
        assert_eq!(
            encode(409, "AlreadyExists", "", vec![]).code(),
            Code::AlreadyExists
        );
        assert_eq!(encode(410, "Expired", "", vec![]).code(), Code::OutOfRange);
    }

    #[test]
    fn details_in_another_form_are_not_a_status() {
        assert_eq!(
            decode(&tonic::Status::unavailable("tcp connect error")),
            None
        );
        // The bare Status JSON (not a google.rpc.Status) is not the convention.
        let bare = tonic::Status::with_details(
            Code::NotFound,
            "x",
            br#"{"kind":"Status","code":404}"#.to_vec().into(),
        );
        assert_eq!(decode(&bare), None);
        let foreign = tonic::Status::with_details(Code::Internal, "x", vec![1, 2, 3].into());
        assert_eq!(decode(&foreign), None);
    }
}
