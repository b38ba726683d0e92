//! The security seam (issue 5): who is asking ([`RequestContext`]), what they ask
//! ([`Attributes`]), and the two hooks the registry calls: an [`Authorizer`] before
//! every verb and an [`AdmissionChain`] before every write. Both front ends (REST and
//! gRPC) reach the store only through the registry, so these hooks cannot be skipped.
//!
//! Both default to allow-all ([`AllowAll`]); the server plugs in RBAC and the node
//! authorizer (`crate::auth`) and its admission plugins (`crate::plugins`) here,
//! without touching the registry or the front ends.

use std::sync::Arc;

use futures::future::BoxFuture;
use rudder_api::resource::ResourceInfo;
use rudder_pki::Identity;
use serde_json::Value;

use crate::error::Result;

/// Who sent a request, as authenticated (the client certificate's CN and O, or a
/// service-account token's account; the impersonated identity when allowed), carried into every registry call,
/// the audit log and the traces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestContext {
    /// The authenticated caller.
    pub identity: Identity,
}

impl RequestContext {
    /// A context for `identity`.
    pub fn new(identity: Identity) -> Self {
        RequestContext { identity }
    }

    /// The user name (`admin`, `system:node:n1`).
    pub fn user(&self) -> &str {
        &self.identity.user
    }
}

/// The verb of a request, in Kubernetes' vocabulary (what RBAC rules name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verb {
    /// Read one object.
    Get,
    /// Read a collection.
    List,
    /// Stream changes of a collection.
    Watch,
    /// Create an object.
    Create,
    /// Replace an object.
    Update,
    /// Patch an object.
    Patch,
    /// Delete an object.
    Delete,
    /// Delete a collection.
    DeleteCollection,
}

impl Verb {
    /// The lower-case name RBAC and discovery use.
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "get",
            Verb::List => "list",
            Verb::Watch => "watch",
            Verb::Create => "create",
            Verb::Update => "update",
            Verb::Patch => "patch",
            Verb::Delete => "delete",
            Verb::DeleteCollection => "deletecollection",
        }
    }

    /// Whether the verb writes.
    pub fn is_write(self) -> bool {
        !matches!(self, Verb::Get | Verb::List | Verb::Watch)
    }
}

/// What a request asks for, as the authorizer sees it (upstream's
/// `authorizer.Attributes` for resource requests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attributes<'a> {
    /// The verb.
    pub verb: Verb,
    /// The resource's table row.
    pub resource: &'static ResourceInfo,
    /// `status`, `scale` ... for subresource requests.
    pub subresource: Option<&'a str>,
    /// The namespace, for namespaced requests (None across all namespaces).
    pub namespace: Option<&'a str>,
    /// The object's name; empty for collection verbs.
    pub name: &'a str,
}

/// Decides whether a caller may perform a request. Called by the registry before
/// every verb; a denial is an `Err` carrying the 403 (see
/// `rudder_api::status::forbidden` and `rbac_denial` for upstream's wording).
pub trait Authorizer: Send + Sync {
    /// `Ok(())` to allow.
    fn authorize(&self, ctx: &RequestContext, attrs: &Attributes<'_>) -> Result<()>;

    /// Decides a request for a path outside the resource tree (discovery,
    /// `/version`, `/healthz`, `/openapi/...`); `verb` is the lower-case HTTP
    /// method (`get`). Allowed unless an authorizer says otherwise.
    fn authorize_path(&self, _ctx: &RequestContext, _verb: &str, _path: &str) -> Result<()> {
        Ok(())
    }

    /// Whether `request` (any user, any resource, also ones the server does not
    /// serve) would be allowed: what access reviews and impersonation ask.
    fn decide(&self, _request: &crate::auth::rbac::Request<'_>) -> bool {
        true
    }

    /// The rules `user` holds in `namespace`, for SelfSubjectRulesReview; allow-all
    /// answers with the all-powerful rules.
    fn rules(
        &self,
        _user: &crate::auth::rbac::UserInfo<'_>,
        _namespace: Option<&str>,
    ) -> Vec<k8s_openapi::api::rbac::v1::PolicyRule> {
        crate::auth::rbac::all_powerful_rules()
    }
}

/// One admission step on a write. `object` is the object about to be stored (None
/// for deletes), `old` the stored one (None for creates). Mutating plugins may change
/// `object`; validating ones only return errors. Called after the registry has set
/// its own metadata and before the store write.
pub trait AdmissionChain: Send + Sync {
    /// `Ok(())` to admit, possibly after changing `object`.
    fn admit<'a>(
        &'a self,
        ctx: &'a RequestContext,
        attrs: &'a Attributes<'a>,
        object: Option<&'a mut Value>,
        old: Option<&'a Value>,
    ) -> BoxFuture<'a, Result<()>>;
}

/// Allow-all: every request allowed and admitted unchanged
/// (`--authorization-mode=AlwaysAllow`, and registry tests).
#[derive(Debug, Clone, Copy, Default)]
pub struct AllowAll;

impl Authorizer for AllowAll {
    fn authorize(&self, _ctx: &RequestContext, _attrs: &Attributes<'_>) -> Result<()> {
        Ok(())
    }
}

impl AdmissionChain for AllowAll {
    fn admit<'a>(
        &'a self,
        _ctx: &'a RequestContext,
        _attrs: &'a Attributes<'a>,
        _object: Option<&'a mut Value>,
        _old: Option<&'a Value>,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async { Ok(()) })
    }
}

/// The hooks a registry runs, shared by every request.
#[derive(Clone)]
pub struct SecurityHooks {
    /// Runs before every verb.
    pub authorizer: Arc<dyn Authorizer>,
    /// Runs before every write.
    pub admission: Arc<dyn AdmissionChain>,
}

impl Default for SecurityHooks {
    fn default() -> Self {
        SecurityHooks {
            authorizer: Arc::new(AllowAll),
            admission: Arc::new(AllowAll),
        }
    }
}

impl std::fmt::Debug for SecurityHooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecurityHooks").finish_non_exhaustive()
    }
}
