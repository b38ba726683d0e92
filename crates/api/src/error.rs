//! The crate's one error type. Every variant carries the text the API server
//! puts in a 400 Status message, worded as kube-apiserver words it.

/// Errors from parsing or applying user input (selectors, quantities, patches,
/// keys, resource names). None of them is fatal to the caller: each maps to a
/// 4xx Status (see [`crate::status::from_error`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A resource name that is not in the resource table.
    #[error("the server doesn't have a resource type \"{0}\"")]
    UnknownResource(String),
    /// A storage key that does not have the `/registry/...` shape.
    #[error("invalid storage key {key:?}: {reason}")]
    InvalidKey {
        /// The key as given (lossily decoded when not UTF-8).
        key: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A label selector that does not parse or convert.
    #[error("{0}")]
    LabelSelector(String),
    /// A field selector that does not parse, or names an unsupported field.
    #[error("{0}")]
    FieldSelector(String),
    /// A resource quantity that does not parse or overflows.
    #[error("{0}")]
    Quantity(String),
    /// A body that does not decode as the kind it claims to be.
    #[error("{kind} in version \"{version}\" cannot be handled as a {kind}: {message}")]
    Decode {
        /// The kind expected (`Pod`).
        kind: String,
        /// The version expected (`v1`).
        version: String,
        /// The decoder's complaint.
        message: String,
    },
    /// A protobuf body of a kind this server has no message layout for: upstream
    /// answers such bodies with 415 too.
    #[error(
        "the body of the request was in an unknown format - protobuf is not supported for {api_version} {kind}; send application/json"
    )]
    UnsupportedProtobufKind {
        /// The envelope's apiVersion.
        api_version: String,
        /// The envelope's kind.
        kind: String,
    },
    /// A patch document that is malformed (400).
    #[error("{0}")]
    Patch(String),
    /// A well-formed JSON patch whose operations fail on this object (a `test`
    /// that does not hold, a path that does not exist): upstream answers 422.
    #[error("{0}")]
    PatchApply(String),
}
