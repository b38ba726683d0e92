//! `--max-requests-inflight` and `--max-mutating-requests-inflight`, as
//! kube-apiserver's max-in-flight filter: a request that finds its pool full is
//! answered 429 with `Retry-After: 1` at once rather than queued, so an overloaded
//! server sheds load instead of growing latency. Long-running requests (watches,
//! followed logs, gRPC streams) are not counted, and `system:masters` is always
//! served, as upstream ("a super-admin should always get an answer").

use std::sync::Arc;

use http::Method;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::admission::RequestContext;
use crate::error::{Error, Result};

/// The two pools; `None` is unlimited (a flag of 0).
#[derive(Debug, Clone, Default)]
pub struct InflightLimits {
    readonly: Option<Arc<Semaphore>>,
    mutating: Option<Arc<Semaphore>>,
}

/// What a request is, for the limiter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestClass {
    /// Watches, followed logs, gRPC streams: not limited.
    LongRunning,
    /// get, list, discovery...
    ReadOnly,
    /// create, update, patch, delete.
    Mutating,
}

impl InflightLimits {
    /// Limits of `readonly` and `mutating` requests at once (0: no limit).
    pub fn new(readonly: usize, mutating: usize) -> Self {
        let pool = |n: usize| (n > 0).then(|| Arc::new(Semaphore::new(n)));
        InflightLimits {
            readonly: pool(readonly),
            mutating: pool(mutating),
        }
    }

    /// A permit for a request of `class` by `ctx`, held until the response is
    /// produced; 429 when the pool is full.
    pub fn admit(
        &self,
        class: RequestClass,
        ctx: &RequestContext,
    ) -> Result<Option<OwnedSemaphorePermit>> {
        let pool = match class {
            RequestClass::LongRunning => return Ok(None),
            RequestClass::ReadOnly => &self.readonly,
            RequestClass::Mutating => &self.mutating,
        };
        let Some(pool) = pool else {
            return Ok(None);
        };
        match pool.clone().try_acquire_owned() {
            Ok(permit) => Ok(Some(permit)),
            Err(_) if ctx.identity.groups.iter().any(|g| g == "system:masters") => Ok(None),
            Err(_) => Err(Error::TooManyRequests),
        }
    }
}

/// Classifies a REST request by method, path and query, or a gRPC call by its path.
pub fn classify(method: &Method, path: &str, query: Option<&str>, grpc: bool) -> RequestClass {
    if grpc {
        let call = path.rsplit('/').next().unwrap_or("");
        return match call {
            "Watch" | "Logs" => RequestClass::LongRunning,
            "Get" | "List" | "Version" => RequestClass::ReadOnly,
            _ => RequestClass::Mutating,
        };
    }
    let flag = |name: &str| {
        query.into_iter().flat_map(|q| q.split('&')).any(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            k == name && matches!(v, "true" | "1" | "")
        })
    };
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let watch_path = matches!(
        segments.as_slice(),
        ["api", _, "watch", ..] | ["apis", _, _, "watch", ..]
    );
    let followed_log = segments.last() == Some(&"log") && flag("follow");
    if flag("watch") || watch_path || followed_log {
        return RequestClass::LongRunning;
    }
    match *method {
        Method::GET | Method::HEAD | Method::OPTIONS => RequestClass::ReadOnly,
        _ => RequestClass::Mutating,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rudder_pki::Identity;

    fn ctx(groups: &[&str]) -> RequestContext {
        RequestContext::new(Identity::new("u", groups.iter().copied()))
    }

    #[test]
    fn classifies_as_upstream() {
        use RequestClass::*;
        let c = |m: Method, p: &str, q: Option<&str>| classify(&m, p, q, false);
        assert_eq!(c(Method::GET, "/api/v1/pods", None), ReadOnly);
        assert_eq!(
            c(Method::GET, "/api/v1/pods", Some("watch=true")),
            LongRunning
        );
        assert_eq!(
            c(Method::GET, "/api/v1/pods", Some("watch=1&rv=3")),
            LongRunning
        );
        assert_eq!(
            c(Method::GET, "/api/v1/pods", Some("watch=false")),
            ReadOnly
        );
        assert_eq!(c(Method::GET, "/api/v1/watch/pods", None), LongRunning);
        assert_eq!(
            c(Method::GET, "/apis/apps/v1/watch/deployments", None),
            LongRunning
        );
        assert_eq!(
            c(
                Method::GET,
                "/api/v1/namespaces/a/pods/p/log",
                Some("follow=true")
            ),
            LongRunning
        );
        assert_eq!(
            c(Method::GET, "/api/v1/namespaces/a/pods/p/log", None),
            ReadOnly
        );
        assert_eq!(c(Method::POST, "/api/v1/namespaces/a/pods", None), Mutating);
        assert_eq!(
            c(Method::DELETE, "/api/v1/namespaces/a/pods/p", None),
            Mutating
        );
        assert_eq!(
            classify(&Method::POST, "/rudder.api.v1.Api/Watch", None, true),
            LongRunning
        );
        assert_eq!(
            classify(&Method::POST, "/rudder.api.v1.Api/List", None, true),
            ReadOnly
        );
        assert_eq!(
            classify(&Method::POST, "/rudder.api.v1.Api/Create", None, true),
            Mutating
        );
    }

    #[test]
    fn a_full_pool_refuses_all_but_masters() {
        let limits = InflightLimits::new(1, 1);
        let held = limits.admit(RequestClass::Mutating, &ctx(&[])).unwrap();
        assert!(held.is_some());
        let err = limits.admit(RequestClass::Mutating, &ctx(&[])).unwrap_err();
        assert_eq!(err.code(), 429);
        assert!(
            limits
                .admit(RequestClass::Mutating, &ctx(&["system:masters"]))
                .is_ok()
        );
        assert!(
            limits
                .admit(RequestClass::ReadOnly, &ctx(&[]))
                .unwrap()
                .is_some(),
            "pools are separate"
        );
        assert!(
            limits
                .admit(RequestClass::LongRunning, &ctx(&[]))
                .unwrap()
                .is_none()
        );
        drop(held);
        assert!(
            limits
                .admit(RequestClass::Mutating, &ctx(&[]))
                .unwrap()
                .is_some()
        );
        let unlimited = InflightLimits::new(0, 0);
        assert!(
            unlimited
                .admit(RequestClass::Mutating, &ctx(&[]))
                .unwrap()
                .is_none()
        );
    }
}
