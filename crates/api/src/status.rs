//! meta/v1 `Status` objects for every error the API server answers, with the
//! reason, code, details and message text kube-apiserver uses, so kubectl prints
//! `Error from server (NotFound): pods "x" not found` exactly as upstream.
//!
//! Builders take the resource's table row (for `pods` / `deployments.apps` naming)
//! or the raw pieces where the caller has no row.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Status, StatusCause, StatusDetails};

use crate::error::Error;
use crate::resource::ResourceInfo;
use crate::validation::FieldError;

/// The message of a 409 on a stale `resourceVersion`.
pub const OPTIMISTIC_LOCK_MESSAGE: &str =
    "the object has been modified; please apply your changes to the latest version and try again";

/// Largest request body the API server accepts (3 MiB), as upstream.
pub const MAX_REQUEST_BODY_BYTES: usize = 3 * 1024 * 1024;

fn failure(code: i32, reason: &str, message: String, details: Option<StatusDetails>) -> Status {
    Status {
        status: Some("Failure".to_string()),
        code: Some(code),
        reason: Some(reason.to_string()),
        message: Some(message),
        details,
        ..Default::default()
    }
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

/// Details naming an object by resource (`kind` holds the plural, as upstream).
fn resource_details(resource: &ResourceInfo, name: &str) -> Option<StatusDetails> {
    Some(StatusDetails {
        name: non_empty(name),
        group: non_empty(resource.group),
        kind: Some(resource.plural.to_string()),
        ..Default::default()
    })
}

/// 404: `pods "x" not found`.
pub fn not_found(resource: &ResourceInfo, name: &str) -> Status {
    failure(
        404,
        "NotFound",
        format!("{} \"{name}\" not found", resource.group_resource()),
        resource_details(resource, name),
    )
}

/// 404 for a path that names no resource: `the server could not find the requested resource`.
pub fn path_not_found() -> Status {
    failure(
        404,
        "NotFound",
        "the server could not find the requested resource".to_string(),
        Some(StatusDetails::default()),
    )
}

/// 409: `pods "x" already exists`.
pub fn already_exists(resource: &ResourceInfo, name: &str) -> Status {
    failure(
        409,
        "AlreadyExists",
        format!("{} \"{name}\" already exists", resource.group_resource()),
        resource_details(resource, name),
    )
}

/// 409: `Operation cannot be fulfilled on pods "x": <why>`.
pub fn conflict(resource: &ResourceInfo, name: &str, why: &str) -> Status {
    failure(
        409,
        "Conflict",
        format!(
            "Operation cannot be fulfilled on {} \"{name}\": {why}",
            resource.group_resource()
        ),
        resource_details(resource, name),
    )
}

/// 409 for a stale `resourceVersion` on update.
pub fn optimistic_lock_conflict(resource: &ResourceInfo, name: &str) -> Status {
    conflict(resource, name, OPTIMISTIC_LOCK_MESSAGE)
}

/// 422: `Pod "x" is invalid: metadata.name: Invalid value: ...`, one cause per field
/// error. Details name the kind (`Deployment`, group `apps`), not the resource.
pub fn invalid(resource: &ResourceInfo, name: &str, errors: &[FieldError]) -> Status {
    let qualified_kind = if resource.group.is_empty() {
        resource.kind.to_string()
    } else {
        format!("{}.{}", resource.kind, resource.group)
    };
    let message = match errors {
        [] => format!("{qualified_kind} \"{name}\" is invalid"),
        [one] => format!("{qualified_kind} \"{name}\" is invalid: {one}"),
        many => format!(
            "{qualified_kind} \"{name}\" is invalid: [{}]",
            many.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let causes = errors
        .iter()
        .map(|e| StatusCause {
            reason: Some(e.kind.cause_type().to_string()),
            message: Some(e.body()),
            field: Some(e.field.clone()),
        })
        .collect();
    failure(
        422,
        "Invalid",
        message,
        Some(StatusDetails {
            name: non_empty(name),
            group: non_empty(resource.group),
            kind: Some(resource.kind.to_string()),
            causes: Some(causes),
            ..Default::default()
        }),
    )
}

/// 400 with the given message (bad selectors, bad patches, malformed bodies).
pub fn bad_request(message: &str) -> Status {
    failure(400, "BadRequest", message.to_string(), None)
}

/// 401.
pub fn unauthorized(message: &str) -> Status {
    let message = if message.is_empty() {
        "Unauthorized"
    } else {
        message
    };
    failure(401, "Unauthorized", message.to_string(), None)
}

/// 403: `pods "x" is forbidden: <why>` (`pods is forbidden: <why>` without a name).
pub fn forbidden(resource: &ResourceInfo, name: &str, why: &str) -> Status {
    let subject = if name.is_empty() {
        resource.group_resource()
    } else {
        format!("{} \"{name}\"", resource.group_resource())
    };
    failure(
        403,
        "Forbidden",
        format!("{subject} is forbidden: {why}"),
        resource_details(resource, name),
    )
}

/// The RBAC denial text: `User "bob" cannot list resource "pods" in API group "" in
/// the namespace "default"` (cluster-wide: `at the cluster scope`).
pub fn rbac_denial(
    user: &str,
    verb: &str,
    resource: &ResourceInfo,
    subresource: Option<&str>,
    namespace: Option<&str>,
) -> String {
    let res = match subresource {
        Some(s) => format!("{}/{s}", resource.plural),
        None => resource.plural.to_string(),
    };
    let scope = match namespace {
        Some(ns) => format!("in the namespace \"{ns}\""),
        None => "at the cluster scope".to_string(),
    };
    format!(
        "User \"{user}\" cannot {verb} resource \"{res}\" in API group \"{}\" {scope}",
        resource.group
    )
}

/// 405: `<verb> is not supported on resources of kind "pods"`.
pub fn method_not_allowed(resource: &ResourceInfo, verb: &str) -> Status {
    failure(
        405,
        "MethodNotAllowed",
        format!(
            "{verb} is not supported on resources of kind \"{}\"",
            resource.group_resource()
        ),
        resource_details(resource, ""),
    )
}

/// 410 `Expired`: a watch or list from a compacted revision.
pub fn resource_expired(requested: i64, oldest: i64) -> Status {
    failure(
        410,
        "Expired",
        format!("too old resource version: {requested} ({oldest})"),
        None,
    )
}

/// 410 `Gone` with a message.
pub fn gone(message: &str) -> Status {
    failure(410, "Gone", message.to_string(), None)
}

/// 413 for a body over [`MAX_REQUEST_BODY_BYTES`].
pub fn request_entity_too_large(limit: usize) -> Status {
    failure(
        413,
        "RequestEntityTooLarge",
        format!("Request entity too large: limit is {limit}"),
        None,
    )
}

/// 415 for a Content-Type the endpoint does not take; `accepted` lists the ones it does.
pub fn unsupported_media_type(content_type: &str, accepted: &[&str]) -> Status {
    let message = if accepted.is_empty() {
        format!("the body of the request was in an unknown format - {content_type}")
    } else {
        format!(
            "the body of the request was in an unknown format - accepted media types include: {}",
            accepted.join(", ")
        )
    };
    failure(415, "UnsupportedMediaType", message, None)
}

/// 429 with a retry hint.
pub fn too_many_requests(retry_after_seconds: i32) -> Status {
    failure(
        429,
        "TooManyRequests",
        "Too many requests, please try again later.".to_string(),
        Some(StatusDetails {
            retry_after_seconds: Some(retry_after_seconds),
            ..Default::default()
        }),
    )
}

/// 500: `Internal error occurred: <err>`.
pub fn internal_error(err: &str) -> Status {
    failure(
        500,
        "InternalError",
        format!("Internal error occurred: {err}"),
        Some(StatusDetails {
            causes: Some(vec![StatusCause {
                message: Some(err.to_string()),
                ..Default::default()
            }]),
            ..Default::default()
        }),
    )
}

/// The `Success` Status a delete may answer with.
pub fn success(resource: &ResourceInfo, name: &str, uid: &str) -> Status {
    Status {
        status: Some("Success".to_string()),
        details: Some(StatusDetails {
            name: non_empty(name),
            group: non_empty(resource.group),
            kind: Some(resource.plural.to_string()),
            uid: non_empty(uid),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// 422 for a JSON patch whose operations fail, worded as upstream's generic
/// server response: a fixed message, the reason in the one cause.
pub fn patch_apply_failed(err: &str) -> Status {
    failure(
        422,
        "Invalid",
        "the server rejected our request due to an error in our request".to_string(),
        Some(StatusDetails {
            causes: Some(vec![StatusCause {
                reason: Some("UnexpectedServerResponse".to_string()),
                message: Some(err.to_string()),
                field: None,
            }]),
            ..Default::default()
        }),
    )
}

/// Maps this crate's errors to the Status the API server answers: an unknown
/// resource is a 404, a failing JSON patch a 422, everything else bad input (400).
pub fn from_error(err: &Error) -> Status {
    match err {
        Error::UnknownResource(_) => path_not_found(),
        Error::PatchApply(e) => patch_apply_failed(e),
        Error::UnsupportedProtobufKind { .. } => {
            failure(415, "UnsupportedMediaType", err.to_string(), None)
        }
        other => bad_request(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::resolve;
    use crate::validation::{FieldError, FieldErrorType};
    use serde_json::json;

    fn js(s: Status) -> serde_json::Value {
        serde_json::to_value(s).unwrap()
    }

    #[test]
    fn statuses_as_kube_apiserver_words_them() {
        let pods = resolve("pods").unwrap();
        let deploy = resolve("deploy").unwrap();
        assert_eq!(
            js(not_found(pods, "x")),
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                   "message": "pods \"x\" not found", "reason": "NotFound",
                   "details": {"name": "x", "kind": "pods"}, "code": 404})
        );
        assert_eq!(
            js(already_exists(deploy, "web")),
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                   "message": "deployments.apps \"web\" already exists", "reason": "AlreadyExists",
                   "details": {"name": "web", "group": "apps", "kind": "deployments"}, "code": 409})
        );
        let c = optimistic_lock_conflict(pods, "x");
        assert_eq!(
            c.message.as_deref(),
            Some(
                "Operation cannot be fulfilled on pods \"x\": the object has been modified; please apply your changes to the latest version and try again"
            )
        );
        assert_eq!((c.code, c.reason.as_deref()), (Some(409), Some("Conflict")));

        let errs = vec![
            FieldError::invalid("metadata.name", json!("Web"), "bad name"),
            FieldError::required("spec.containers[0].image", ""),
        ];
        assert_eq!(
            js(invalid(deploy, "Web", &errs)),
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                   "message": "Deployment.apps \"Web\" is invalid: [metadata.name: Invalid value: \"Web\": bad name, spec.containers[0].image: Required value]",
                   "reason": "Invalid", "code": 422,
                   "details": {"name": "Web", "group": "apps", "kind": "Deployment", "causes": [
                       {"reason": "FieldValueInvalid", "message": "Invalid value: \"Web\": bad name", "field": "metadata.name"},
                       {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.containers[0].image"}]}})
        );
        assert_eq!(
            invalid(pods, "p", &errs[1..]).message.as_deref(),
            Some("Pod \"p\" is invalid: spec.containers[0].image: Required value")
        );
        let fe = FieldError {
            field: "x".into(),
            kind: FieldErrorType::Duplicate,
            bad_value: Some(json!(80)),
            detail: String::new(),
        };
        assert_eq!(fe.to_string(), "x: Duplicate value: 80");

        let f = forbidden(
            pods,
            "",
            &rbac_denial("bob", "list", pods, None, Some("default")),
        );
        assert_eq!(
            f.message.as_deref(),
            Some(
                "pods is forbidden: User \"bob\" cannot list resource \"pods\" in API group \"\" in the namespace \"default\""
            )
        );
        assert_eq!(f.code, Some(403));
        assert_eq!(
            rbac_denial("n", "create", pods, Some("binding"), None),
            "User \"n\" cannot create resource \"pods/binding\" in API group \"\" at the cluster scope"
        );
        let table = [
            (bad_request("x"), 400, "BadRequest"),
            (unauthorized(""), 401, "Unauthorized"),
            (
                method_not_allowed(pods, "deletecollection"),
                405,
                "MethodNotAllowed",
            ),
            (resource_expired(5, 10), 410, "Expired"),
            (gone("gone"), 410, "Gone"),
            (
                request_entity_too_large(MAX_REQUEST_BODY_BYTES),
                413,
                "RequestEntityTooLarge",
            ),
            (
                unsupported_media_type("text/plain", &["application/json"]),
                415,
                "UnsupportedMediaType",
            ),
            (too_many_requests(1), 429, "TooManyRequests"),
            (internal_error("boom"), 500, "InternalError"),
            (path_not_found(), 404, "NotFound"),
        ];
        for (s, code, reason) in table {
            assert_eq!(
                (s.code, s.reason.as_deref(), s.status.as_deref()),
                (Some(code), Some(reason), Some("Failure"))
            );
        }
        assert_eq!(unauthorized("").message.as_deref(), Some("Unauthorized"));
        assert_eq!(
            resource_expired(5, 10).message.as_deref(),
            Some("too old resource version: 5 (10)")
        );
        assert_eq!(
            request_entity_too_large(3145728).message.as_deref(),
            Some("Request entity too large: limit is 3145728")
        );
        assert_eq!(
            internal_error("boom").message.as_deref(),
            Some("Internal error occurred: boom")
        );
        assert_eq!(
            method_not_allowed(pods, "deletecollection")
                .message
                .as_deref(),
            Some("deletecollection is not supported on resources of kind \"pods\"")
        );
        assert_eq!(
            js(success(pods, "x", "u")),
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": {"name": "x", "kind": "pods", "uid": "u"}})
        );
        assert_eq!(from_error(&Error::Quantity("q".into())).code, Some(400));
        assert_eq!(
            from_error(&Error::UnknownResource("q".into())).code,
            Some(404)
        );
    }
}
