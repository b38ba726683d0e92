//! The Kubernetes side of the wire convention for errors of the `Api` gRPC service
//! ([`rudder_proto::grpc_error`] documents it and holds the code table): a client reads
//! the meta/v1 `Status` from a gRPC error with [`from_grpc`] (or [`status_of`], which
//! also makes a `Status` for errors that never reached the server); [`to_grpc`] is the
//! server side, for stand-in servers in tests (the API server has its own in its error
//! module, over the same encoder).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;
use rudder_proto::grpc_error;

/// Server side: the gRPC error that carries `status`.
pub fn to_grpc(status: &Status) -> tonic::Status {
    // A Status always serializes; the fallback only keeps this function total.
    let json = serde_json::to_vec(status).unwrap_or_default();
    grpc_error::encode(
        status.code.unwrap_or(500),
        status.reason.as_deref().unwrap_or(""),
        status.message.as_deref().unwrap_or(""),
        json,
    )
}

/// Client side: the Kubernetes `Status` a gRPC error carries, if it carries one.
pub fn from_grpc(status: &tonic::Status) -> Option<Status> {
    serde_json::from_slice(&grpc_error::decode(status)?).ok()
}

/// The Kubernetes `Status` of any gRPC error: the one the server sent, or one made from
/// the gRPC code and message (`ServiceUnavailable` for a refused connection).
pub fn status_of(status: &tonic::Status) -> Status {
    from_grpc(status).unwrap_or_else(|| {
        let (code, reason) = grpc_error::http_code_and_reason(status.code());
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
    use rudder_api::validation::FieldError;
    use tonic::Code;

    #[test]
    fn a_status_survives_the_grpc_round_trip() {
        let pods = resolve("pods").unwrap();
        let not_found = status::not_found(pods, "x");
        let grpc = to_grpc(&not_found);
        assert_eq!(grpc.code(), Code::NotFound);
        assert_eq!(grpc.message(), "pods \"x\" not found");
        assert_eq!(from_grpc(&grpc), Some(not_found));

        let invalid = status::invalid(pods, "x", &[FieldError::required("spec.containers", "")]);
        let grpc = to_grpc(&invalid);
        assert_eq!(grpc.code(), Code::InvalidArgument);
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
