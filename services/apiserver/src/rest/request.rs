//! What a REST request asks for, decided from its method, path and query alone
//! (upstream's `RequestInfoFactory`): pure, so every path shape is unit-tested.

use std::collections::HashMap;

use http::Method;
use percent_encoding::percent_decode_str;
use rudder_api::resource::{self, ResourceInfo};

use crate::admission::Verb;
use crate::error::{Error, Result};

/// Namespace subresources: `/api/v1/namespaces/x/status` is the namespace's own.
const NAMESPACE_SUBRESOURCES: &[&str] = &["status", "finalize"];

/// Where a request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `/version`
    Version,
    /// `/healthz`, `/livez` (alive while the process serves).
    Live,
    /// `/readyz` (ready while the store answers).
    Ready,
    /// `/metrics` (Prometheus).
    Metrics,
    /// `/openapi/v2`
    OpenApiV2,
    /// `/openapi/v3`
    OpenApiV3Index,
    /// `/openapi/v3/<api/v1 | apis/group/version>`
    OpenApiV3(String),
    /// `/api`
    CoreVersions,
    /// `/apis`
    Groups,
    /// `/apis/<group>`
    Group(String),
    /// `/api/v1`, `/apis/<group>/<version>`
    ResourceList {
        /// "" for core.
        group: String,
        /// The version.
        version: String,
    },
    /// A verb on a resource.
    Resource(ResourceRequest),
}

/// A resource request, as the registry takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceRequest {
    /// The verb, from the method, the name's presence and `?watch`.
    pub verb: Verb,
    /// The resource's table row.
    pub resource: &'static ResourceInfo,
    /// The namespace, for namespaced resources (None: all namespaces).
    pub namespace: Option<String>,
    /// The object's name (None for collection verbs).
    pub name: Option<String>,
    /// The subresource (`status` ...).
    pub subresource: Option<String>,
}

/// A REST request's query and route, parsed once when it arrives and shared by the
/// metrics labels and the dispatcher.
#[derive(Debug)]
pub struct Routed {
    /// The query parameters.
    pub query: Query,
    /// Where the path and method lead (an error for no route).
    pub route: Result<Route>,
}

impl Routed {
    /// Parses `method` on `path?query`.
    pub fn of(method: &Method, path: &str, query: Option<&str>) -> Self {
        let query = Query::parse(query);
        let route = route(method, path, &query);
        Routed { query, route }
    }
}

/// Decoded query parameters (the last value of a repeated key wins, as Go's
/// `Query().Get` takes the first; clients never repeat these).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query(HashMap<String, String>);

impl Query {
    /// Parses `a=b&c=d`, percent-decoding and reading '+' as a space.
    pub fn parse(query: Option<&str>) -> Self {
        let mut map = HashMap::new();
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |s: &str| {
                percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            map.entry(decode(k)).or_insert_with(|| decode(v));
        }
        Query(map)
    }

    /// A parameter's value ("" when absent).
    pub fn get(&self, key: &str) -> &str {
        self.0.get(key).map_or("", String::as_str)
    }

    /// A boolean parameter as Go's `strconv.ParseBool` reads it (`1`, `true`, ...).
    pub fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), "1" | "t" | "T" | "true" | "TRUE" | "True")
    }
}

fn segments(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
        .collect()
}

/// Decides the route of a request.
pub fn route(method: &Method, path: &str, query: &Query) -> Result<Route> {
    let parts = segments(path);
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    let read_only = |r: Route| {
        if method == Method::GET || method == Method::HEAD {
            Ok(r)
        } else {
            Err(Error::PathNotFound)
        }
    };
    match parts.as_slice() {
        ["version"] => read_only(Route::Version),
        ["healthz" | "livez", ..] => read_only(Route::Live),
        ["readyz", ..] => read_only(Route::Ready),
        ["metrics"] => read_only(Route::Metrics),
        ["openapi", "v2"] => read_only(Route::OpenApiV2),
        ["openapi", "v3"] => read_only(Route::OpenApiV3Index),
        ["openapi", "v3", rest @ ..] => read_only(Route::OpenApiV3(rest.join("/"))),
        ["api"] => read_only(Route::CoreVersions),
        ["apis"] => read_only(Route::Groups),
        ["apis", group] => read_only(Route::Group(group.to_string())),
        ["api", version] => read_only(Route::ResourceList {
            group: String::new(),
            version: version.to_string(),
        }),
        ["apis", group, version] => read_only(Route::ResourceList {
            group: group.to_string(),
            version: version.to_string(),
        }),
        ["api", version, rest @ ..] => resource_route(method, "", version, rest, query),
        ["apis", group, version, rest @ ..] => resource_route(method, group, version, rest, query),
        _ => Err(Error::PathNotFound),
    }
}

fn resource_route(
    method: &Method,
    group: &str,
    version: &str,
    parts: &[&str],
    query: &Query,
) -> Result<Route> {
    let mut namespace = None;
    let mut rest = parts;
    if let ["namespaces", ns, tail @ ..] = parts {
        namespace = Some(ns.to_string());
        if let Some(next) = tail.first()
            && !NAMESPACE_SUBRESOURCES.contains(next)
        {
            rest = tail;
        }
    }
    let (plural, name, subresource) = match rest {
        [plural] => (*plural, None, None),
        [plural, name] => (*plural, Some(name.to_string()), None),
        [plural, name, sub] => (*plural, Some(name.to_string()), Some(sub.to_string())),
        _ => return Err(Error::PathNotFound),
    };
    let resource = resource::by_plural(group, plural)
        .filter(|r| r.version == version)
        .ok_or(Error::PathNotFound)?;
    if plural == "namespaces" && rest.len() == parts.len() {
        // `/api/v1/namespaces/x` names the namespace itself, which has no namespace.
        namespace = None;
    } else if !resource.namespaced && namespace.is_some() {
        return Err(Error::PathNotFound);
    }
    if name.as_deref() == Some("") {
        return Err(Error::PathNotFound);
    }
    let verb = match (method.as_str(), name.is_some()) {
        ("GET" | "HEAD", true) => Verb::Get,
        ("GET" | "HEAD", false) if query.flag("watch") => Verb::Watch,
        ("GET" | "HEAD", false) => Verb::List,
        ("POST", false) => Verb::Create,
        ("POST", true) if subresource.is_some() => Verb::Create,
        ("PUT", true) => Verb::Update,
        ("PATCH", true) => Verb::Patch,
        ("DELETE", true) => Verb::Delete,
        ("DELETE", false) => Verb::DeleteCollection,
        (m, _) => {
            return Err(Error::MethodNotAllowed {
                resource,
                verb: m.to_string(),
            });
        }
    };
    if resource.namespaced && namespace.is_none() && !matches!(verb, Verb::List | Verb::Watch) {
        // Only reads may span namespaces; writes need one in the path.
        return Err(Error::PathNotFound);
    }
    Ok(Route::Resource(ResourceRequest {
        verb,
        resource,
        namespace,
        name,
        subresource,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(method: Method, path: &str) -> Result<ResourceRequest> {
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
        match route(&method, path, &Query::parse(Some(query)))? {
            Route::Resource(r) => Ok(r),
            other => panic!("not a resource route: {other:?}"),
        }
    }

    fn summary(r: &ResourceRequest) -> (Verb, &str, Option<&str>, Option<&str>, Option<&str>) {
        (
            r.verb,
            r.resource.plural,
            r.namespace.as_deref(),
            r.name.as_deref(),
            r.subresource.as_deref(),
        )
    }

    #[test]
    fn resource_paths_like_kube_apiserver() {
        let cases = [
            (
                Method::GET,
                "/api/v1/pods",
                (Verb::List, "pods", None, None, None),
            ),
            (
                Method::GET,
                "/api/v1/pods?watch=true",
                (Verb::Watch, "pods", None, None, None),
            ),
            (
                Method::GET,
                "/api/v1/namespaces/default/pods?watch=1",
                (Verb::Watch, "pods", Some("default"), None, None),
            ),
            (
                Method::GET,
                "/api/v1/namespaces/default/pods/web",
                (Verb::Get, "pods", Some("default"), Some("web"), None),
            ),
            (
                Method::PUT,
                "/api/v1/namespaces/default/pods/web/status",
                (
                    Verb::Update,
                    "pods",
                    Some("default"),
                    Some("web"),
                    Some("status"),
                ),
            ),
            (
                Method::POST,
                "/api/v1/namespaces/default/pods",
                (Verb::Create, "pods", Some("default"), None, None),
            ),
            (
                Method::POST,
                "/api/v1/namespaces/default/pods/web/binding",
                (
                    Verb::Create,
                    "pods",
                    Some("default"),
                    Some("web"),
                    Some("binding"),
                ),
            ),
            (
                Method::DELETE,
                "/api/v1/namespaces/default/configmaps",
                (
                    Verb::DeleteCollection,
                    "configmaps",
                    Some("default"),
                    None,
                    None,
                ),
            ),
            (
                Method::GET,
                "/api/v1/namespaces",
                (Verb::List, "namespaces", None, None, None),
            ),
            (
                Method::POST,
                "/api/v1/namespaces",
                (Verb::Create, "namespaces", None, None, None),
            ),
            (
                Method::GET,
                "/api/v1/namespaces/kube-system",
                (Verb::Get, "namespaces", None, Some("kube-system"), None),
            ),
            (
                Method::PUT,
                "/api/v1/namespaces/kube-system/status",
                (
                    Verb::Update,
                    "namespaces",
                    None,
                    Some("kube-system"),
                    Some("status"),
                ),
            ),
            (
                Method::PATCH,
                "/apis/apps/v1/namespaces/a/deployments/web/scale",
                (
                    Verb::Patch,
                    "deployments",
                    Some("a"),
                    Some("web"),
                    Some("scale"),
                ),
            ),
            (
                Method::GET,
                "/api/v1/nodes/n1",
                (Verb::Get, "nodes", None, Some("n1"), None),
            ),
            (
                Method::DELETE,
                "/apis/rbac.authorization.k8s.io/v1/clusterroles/view",
                (Verb::Delete, "clusterroles", None, Some("view"), None),
            ),
            (
                Method::GET,
                "/api/v1/namespaces/a%20b/pods",
                (Verb::List, "pods", Some("a b"), None, None),
            ),
        ];
        for (method, path, want) in cases {
            let r = res(method.clone(), path).unwrap_or_else(|e| panic!("{method} {path}: {e}"));
            assert_eq!(summary(&r), want, "{method} {path}");
        }
    }

    #[test]
    fn unknown_and_misplaced_paths_are_404_or_405() {
        for (method, path, code) in [
            (Method::GET, "/api/v2/pods", 404),
            (Method::GET, "/api/v1/widgets", 404),
            (Method::GET, "/apis/apps/v1/pods", 404),
            (Method::GET, "/api/v1/namespaces/a/nodes", 404),
            (Method::GET, "/api/v1/namespaces/a/pods/x/status/more", 404),
            (Method::POST, "/api/v1/pods", 404),
            (Method::POST, "/api/v1/namespaces/a/pods/x", 405),
            (Method::PUT, "/api/v1/namespaces/a/pods", 405),
            (Method::GET, "/nope", 404),
            (Method::POST, "/version", 404),
            (Method::GET, "/", 404),
        ] {
            let err = route(&method, path, &Query::default()).unwrap_err();
            assert_eq!(err.code(), code, "{method} {path}");
        }
    }

    #[test]
    fn non_resource_routes() {
        let q = Query::default();
        assert_eq!(route(&Method::GET, "/version", &q).unwrap(), Route::Version);
        assert_eq!(route(&Method::GET, "/healthz", &q).unwrap(), Route::Live);
        assert_eq!(route(&Method::GET, "/livez", &q).unwrap(), Route::Live);
        assert_eq!(route(&Method::GET, "/readyz", &q).unwrap(), Route::Ready);
        assert_eq!(route(&Method::GET, "/metrics", &q).unwrap(), Route::Metrics);
        assert_eq!(
            route(&Method::GET, "/openapi/v2", &q).unwrap(),
            Route::OpenApiV2
        );
        assert_eq!(
            route(&Method::GET, "/api", &q).unwrap(),
            Route::CoreVersions
        );
        assert_eq!(route(&Method::GET, "/apis/", &q).unwrap(), Route::Groups);
        assert_eq!(
            route(&Method::GET, "/apis/apps", &q).unwrap(),
            Route::Group("apps".into())
        );
        assert_eq!(
            route(&Method::GET, "/apis/apps/v1", &q).unwrap(),
            Route::ResourceList {
                group: "apps".into(),
                version: "v1".into()
            }
        );
    }

    #[test]
    fn queries_decode() {
        let q = Query::parse(Some(
            "labelSelector=app%3Dweb%2Ctier+in+(a)&watch=1&limit=5&x",
        ));
        assert_eq!(q.get("labelSelector"), "app=web,tier in (a)");
        assert!(q.flag("watch"));
        assert!(!q.flag("x"));
        assert_eq!(q.get("limit"), "5");
        assert_eq!(q.get("missing"), "");
    }
}
