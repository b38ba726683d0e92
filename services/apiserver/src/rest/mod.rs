//! The REST front end: Kubernetes paths in, the registry's answers out as JSON (or
//! YAML), every failure as a `Status`. Discovery and the version document are
//! served from the resource table.

pub mod codec;
pub mod request;

use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use rudder_api::resource;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::admission::{RequestContext, Verb};
use crate::error::{Error, Result};
use crate::openapi::{self, DocumentPath};
use crate::registry::list::{ListOptions, RawListOptions};
use crate::registry::meta;
use crate::registry::{
    CollectionRef, DeleteOptions, ObjectRef, PatchKind, Registry, Watch, WriteOptions,
};
use crate::table::{self, IncludeObject};
use crate::watch_cache::{self, EventType};
use codec::{Body, BoxError, ResponseFormat};
use request::{Query, ResourceRequest, Route, Routed};

/// The Kubernetes version this server speaks; kubectl's dispatcher on this machine
/// picks its binary by the minor.
pub const KUBERNETES_MAJOR: &str = "1";
/// See [`KUBERNETES_MAJOR`].
pub const KUBERNETES_MINOR: &str = "33";
/// `gitVersion` of `/version`.
pub const GIT_VERSION: &str = "v1.33.0-rudder";

/// What every REST request needs, shared by all connections.
#[derive(Debug, Clone)]
pub struct RestApi {
    registry: Registry,
    /// `host:port` clients should use, for `/api`'s serverAddressByClientCIDRs.
    server_address: String,
    /// Ends watch streams when the server shuts down.
    shutdown: CancellationToken,
    /// How often watches that allow bookmarks get one.
    bookmark_interval: Duration,
    /// Signs TokenRequests (`--service-account-signing-key-file`); None: 404.
    token_issuer: Option<std::sync::Arc<crate::auth::authn::TokenIssuer>>,
    /// Set once the bootstrap RBAC policy is stored and in the caches; `/readyz`
    /// fails until then.
    bootstrapped: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// Fetches `pods/log` from kubelets; None: logs of bound pods are a 500.
    kubelet: Option<crate::pod_logs::KubeletClient>,
}

/// Longest watch when the client gives no `timeoutSeconds` (upstream: 30-60 minutes).
const DEFAULT_WATCH_TIMEOUT: Duration = Duration::from_secs(1800);

/// The `/version` document.
pub fn version_info() -> Value {
    json!({
        "major": KUBERNETES_MAJOR,
        "minor": KUBERNETES_MINOR,
        "gitVersion": GIT_VERSION,
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "rust",
        "compiler": "rustc",
        "platform": format!("{}/{}", std::env::consts::OS, goarch()),
    })
}

fn goarch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

fn to_value<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

impl RestApi {
    /// A REST front end over `registry`.
    pub fn new(
        registry: Registry,
        server_address: String,
        shutdown: CancellationToken,
        bookmark_interval: Duration,
    ) -> Self {
        RestApi {
            registry,
            server_address,
            shutdown,
            bookmark_interval,
            token_issuer: None,
            bootstrapped: std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true)),
            kubelet: None,
        }
    }

    /// The same front end serving `pods/log` through `kubelet`.
    pub fn with_kubelet_client(mut self, kubelet: crate::pod_logs::KubeletClient) -> Self {
        self.kubelet = Some(kubelet);
        self
    }

    /// The same front end answering TokenRequests with `issuer`.
    /// The flag `/readyz` waits for besides the store and the caches.
    pub fn with_bootstrap_gate(
        mut self,
        bootstrapped: std::sync::Arc<std::sync::atomic::AtomicBool>,
    ) -> Self {
        self.bootstrapped = bootstrapped;
        self
    }

    pub fn with_token_issuer(
        mut self,
        issuer: Option<std::sync::Arc<crate::auth::authn::TokenIssuer>>,
    ) -> Self {
        self.token_issuer = issuer;
        self
    }

    /// The registry requests go to.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Serves one request; never fails: errors become Status responses.
    pub async fn handle<B>(
        &self,
        ctx: &RequestContext,
        request: Request<B>,
        routed: Routed,
    ) -> Response<Body>
    where
        B: http_body::Body<Data = bytes::Bytes>,
        B::Error: Into<BoxError>,
    {
        let method = request.method().clone();
        let path = request.uri().path().to_string();
        let result = self.dispatch(ctx, request, routed).await;
        match result {
            Ok(response) => {
                tracing::debug!(%method, %path, code = response.status().as_u16(), "served");
                response
            }
            Err(err) => {
                let response = codec::error_response(&err);
                if response.status().is_server_error() {
                    tracing::warn!(%method, %path, error = %err, "request failed");
                } else {
                    tracing::debug!(%method, %path, code = response.status().as_u16(), "refused");
                }
                response
            }
        }
    }

    async fn dispatch<B>(
        &self,
        ctx: &RequestContext,
        request: Request<B>,
        Routed { query, route }: Routed,
    ) -> Result<Response<Body>>
    where
        B: http_body::Body<Data = bytes::Bytes>,
        B::Error: Into<BoxError>,
    {
        // OpenAPI documents and metrics negotiate media types of their own.
        let format = match &route {
            Ok(Route::Metrics | Route::OpenApiV2 | Route::OpenApiV3Index | Route::OpenApiV3(_)) => {
                ResponseFormat::Json
            }
            _ => codec::response_format(request.headers())?,
        };
        if let Some(rest) = request
            .uri()
            .path()
            .strip_prefix("/apis/authorization.k8s.io")
        {
            let rest = rest.trim_matches('/').to_string();
            return self.authorization(ctx, &rest, format, request).await;
        }
        if request.method() == Method::POST
            && let [
                "",
                "api",
                "v1",
                "namespaces",
                ns,
                "serviceaccounts",
                name,
                "token",
            ] = request
                .uri()
                .path()
                .split('/')
                .collect::<Vec<_>>()
                .as_slice()
        {
            let (ns, name) = (ns.to_string(), name.to_string());
            return self.token_request(ctx, &ns, &name, format, request).await;
        }
        let route = route?;
        let ok = |v: &Value| Ok(codec::object_response(StatusCode::OK, format, v));
        if !matches!(route, Route::Resource(_)) {
            let verb = request.method().as_str().to_ascii_lowercase();
            self.registry
                .authorize_path(ctx, &verb, request.uri().path())?;
        }
        match route {
            Route::Version => ok(&version_info()),
            Route::Live => Ok(codec::text_response(StatusCode::OK, "ok")),
            Route::Ready => Ok(self.readiness().await),
            Route::Metrics => Ok(crate::metrics::response()),
            Route::OpenApiV2 => openapi::serve(DocumentPath::V2, request.headers(), "").await,
            Route::OpenApiV3Index => {
                openapi::serve(DocumentPath::V3Index, request.headers(), "").await
            }
            Route::OpenApiV3(path) => {
                let hash = query.get("hash");
                openapi::serve(DocumentPath::V3(&path), request.headers(), hash).await
            }
            Route::CoreVersions => ok(&to_value(&resource::api_versions(&self.server_address))),
            Route::Groups => {
                let mut groups = resource::api_group_list();
                groups.groups.push(crate::auth::review::api_group());
                ok(&to_value(&groups))
            }
            Route::Group(group) => match resource::api_group(&group) {
                Some(g) => ok(&to_value(&g)),
                None => Err(Error::PathNotFound),
            },
            Route::ResourceList { group, version } => {
                match resource::api_resource_list(&group, &version) {
                    Some(list) => ok(&to_value(&list)),
                    None => Err(Error::PathNotFound),
                }
            }
            Route::Resource(req) if crate::pod_logs::is_log_request(&req) => {
                let kubelet = self.kubelet.as_ref();
                crate::pod_logs::rest_response(&self.registry, kubelet, ctx, &req, &query).await
            }
            Route::Resource(req) => self.resource(ctx, req, &query, format, request).await,
        }
    }

    /// `/apis/authorization.k8s.io/...`: its discovery documents and the access
    /// reviews (create-only, answered by the authorizer, never stored).
    async fn authorization<B>(
        &self,
        ctx: &RequestContext,
        rest: &str,
        format: ResponseFormat,
        request: Request<B>,
    ) -> Result<Response<Body>>
    where
        B: http_body::Body<Data = bytes::Bytes>,
        B::Error: Into<BoxError>,
    {
        use crate::auth::review;
        let path = request.uri().path().to_string();
        let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
        match (request.method(), segments.as_slice()) {
            (&Method::GET, []) => {
                self.registry.authorize_path(ctx, "get", &path)?;
                Ok(codec::object_response(
                    StatusCode::OK,
                    format,
                    &to_value(&review::api_group()),
                ))
            }
            (&Method::GET, ["v1"]) => {
                self.registry.authorize_path(ctx, "get", &path)?;
                Ok(codec::object_response(
                    StatusCode::OK,
                    format,
                    &to_value(&review::api_resource_list()),
                ))
            }
            (&Method::POST, ["v1", plural]) if review::REVIEWS.iter().any(|(p, _)| p == plural) => {
                let plural = plural.to_string();
                let (parts, body) = request.into_parts();
                let body_format = codec::body_format(&parts.headers)?;
                let body = codec::read_body(&parts.headers, body).await?;
                let answer =
                    review::create(self.registry.authorizer(), ctx, &plural, body_format, &body)?;
                Ok(codec::object_response(StatusCode::CREATED, format, &answer))
            }
            (_, ["v1", plural]) if review::REVIEWS.iter().any(|(p, _)| p == plural) => {
                Err(Error::BadRequest(format!(
                    "the server does not allow this method on the requested resource ({plural}.authorization.k8s.io)"
                )))
            }
            _ => Err(Error::PathNotFound),
        }
    }

    /// `POST .../serviceaccounts/<name>/token` (TokenRequest, see
    /// `crate::auth::token_request`). Needs `create serviceaccounts/token`.
    async fn token_request<B>(
        &self,
        ctx: &RequestContext,
        namespace: &str,
        name: &str,
        format: ResponseFormat,
        request: Request<B>,
    ) -> Result<Response<Body>>
    where
        B: http_body::Body<Data = bytes::Bytes>,
        B::Error: Into<BoxError>,
    {
        crate::auth::token_request::authorize(&self.registry, ctx, namespace, name)?;
        let Some(issuer) = &self.token_issuer else {
            return Err(Error::PathNotFound);
        };
        let (parts, body) = request.into_parts();
        let bytes = codec::read_body(&parts.headers, body).await?;
        let answer = crate::auth::token_request::create(
            &self.registry,
            issuer,
            ctx,
            namespace,
            name,
            &parts.headers,
            &bytes,
        )
        .await?;
        Ok(codec::object_response(StatusCode::CREATED, format, &answer))
    }

    async fn readiness(&self) -> Response<Body> {
        let check = tokio::time::timeout(
            std::time::Duration::from_secs(2),
            self.registry.storage().current_revision(),
        )
        .await;
        let store_ok = matches!(check, Ok(Ok(_)));
        let caches_ok = self.registry.caches_ready();
        let bootstrap_ok = self.bootstrapped.load(std::sync::atomic::Ordering::Acquire);
        if store_ok && caches_ok && bootstrap_ok {
            return codec::text_response(StatusCode::OK, "ok");
        }
        let line = |ok: bool, name: &str| {
            if ok {
                format!("[+]{name} ok")
            } else {
                format!("[-]{name} failed: reason withheld")
            }
        };
        codec::text_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!(
                "{}\n{}\n{}\nreadyz check failed",
                line(store_ok, "etcd"),
                line(caches_ok, "watch-cache-sync"),
                line(bootstrap_ok, "poststarthook/rbac/bootstrap-roles")
            ),
        )
    }

    async fn resource<B>(
        &self,
        ctx: &RequestContext,
        req: ResourceRequest,
        query: &Query,
        format: ResponseFormat,
        request: Request<B>,
    ) -> Result<Response<Body>>
    where
        B: http_body::Body<Data = bytes::Bytes>,
        B::Error: Into<BoxError>,
    {
        if req.verb.is_write() {
            // As upstream's filter chain: authorization before the body is read,
            // so a caller who may not write learns nothing from decoding errors.
            self.registry.authorizer().authorize(
                ctx,
                &crate::admission::Attributes {
                    verb: req.verb,
                    resource: req.resource,
                    subresource: req.subresource.as_deref(),
                    namespace: req.namespace.as_deref(),
                    name: req.name.as_deref().unwrap_or_default(),
                },
            )?;
        }
        let (parts, body) = request.into_parts();
        let collection = CollectionRef {
            resource: req.resource,
            namespace: req.namespace.clone(),
        };
        let object_ref = || ObjectRef {
            resource: req.resource,
            namespace: req.namespace.clone(),
            name: req.name.clone().unwrap_or_default(),
            subresource: req.subresource.clone(),
        };
        let write_options = WriteOptions {
            dry_run: query.get("dryRun") == "All",
            field_manager: Some(query.get("fieldManager").to_string()).filter(|s| !s.is_empty()),
            strict: query.get("fieldValidation") == "Strict",
            force: query.flag("force"),
            user_agent: parts
                .headers
                .get(http::header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string(),
        };
        let include = IncludeObject::parse(query.get("includeObject"));
        let respond = |code: StatusCode, v: &Value| Ok(codec::object_response(code, format, v));
        // Reads answer a Table when asked; writes answer the object.
        let read = |v: &Value| -> Result<Response<Body>> {
            if format == ResponseFormat::Table {
                let table = table::to_table(req.resource, v, include, meta::unix_now());
                Ok(codec::object_response(StatusCode::OK, format, &table))
            } else {
                Ok(codec::object_response(StatusCode::OK, format, v))
            }
        };
        match req.verb {
            Verb::Get => read(&self.registry.get(ctx, &object_ref()).await?),
            Verb::List => {
                let options = ListOptions::parse(req.resource, &raw_list_options(query))?;
                if format == ResponseFormat::Json {
                    let list = self.registry.list_json(ctx, &collection, &options).await?;
                    return Ok(codec::list_response(list));
                }
                read(&self.registry.list(ctx, &collection, &options).await?)
            }
            Verb::Watch => {
                let timeout = match query.get("timeoutSeconds") {
                    "" => DEFAULT_WATCH_TIMEOUT,
                    t => Duration::from_secs(t.parse::<u64>().map_err(|_| {
                        Error::BadRequest(format!(
                            "timeoutSeconds: Invalid value: \"{t}\": must be a non-negative integer"
                        ))
                    })?),
                };
                let bookmarks = query.flag("allowWatchBookmarks");
                let tables = (format == ResponseFormat::Table).then_some(include);
                match self
                    .registry
                    .watch(ctx, &collection, &raw_list_options(query))
                    .await
                {
                    Ok(watch) => Ok(self.watch_response(Ok(watch), timeout, bookmarks, tables)),
                    // As upstream: a too-old revision is a 200 whose only event is an ERROR.
                    Err(e @ Error::Expired(_)) => {
                        Ok(self.watch_response(Err(e), timeout, bookmarks, tables))
                    }
                    Err(e) => Err(e),
                }
            }
            Verb::Create => {
                let body_format = codec::body_format(&parts.headers)?;
                let bytes = codec::read_body(&parts.headers, body).await?;
                let object = codec::decode_object(body_format, &bytes)?;
                if req.name.is_some() {
                    // pods/binding, pods/eviction
                    let answer = self
                        .registry
                        .create_subresource(ctx, &object_ref(), object, write_options.dry_run)
                        .await?;
                    return respond(StatusCode::CREATED, &answer);
                }
                let created = self
                    .registry
                    .create(ctx, &collection, object, &write_options)
                    .await?;
                respond(StatusCode::CREATED, &created)
            }
            Verb::Update => {
                let body_format = codec::body_format(&parts.headers)?;
                let bytes = codec::read_body(&parts.headers, body).await?;
                let object = codec::decode_object(body_format, &bytes)?;
                let updated = self
                    .registry
                    .update(ctx, &object_ref(), object, &write_options)
                    .await?;
                respond(StatusCode::OK, &updated)
            }
            Verb::Patch => {
                let content_type = parts
                    .headers
                    .get(http::header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                let kind = PatchKind::from_content_type(content_type)?;
                let bytes = codec::read_body(&parts.headers, body).await?;
                let (patched, created) = self
                    .registry
                    .patch_or_create(ctx, &object_ref(), kind, &bytes, &write_options)
                    .await?;
                let code = if created {
                    StatusCode::CREATED
                } else {
                    StatusCode::OK
                };
                respond(code, &patched)
            }
            Verb::Delete => {
                let options = delete_options(&parts.headers, body, query).await?;
                let deleted = self.registry.delete(ctx, &object_ref(), &options).await?;
                respond(StatusCode::OK, &deleted)
            }
            Verb::DeleteCollection => {
                let options = delete_options(&parts.headers, body, query).await?;
                let list_options = ListOptions::parse(req.resource, &raw_list_options(query))?;
                let deleted = self
                    .registry
                    .delete_collection(ctx, &collection, &list_options, &options)
                    .await?;
                respond(StatusCode::OK, &deleted)
            }
        }
    }
}

impl RestApi {
    /// A chunked response of newline-delimited `{"type", "object"}` events, fed by
    /// a task that ends at the timeout, on shutdown, when the client goes away or
    /// when the watch's feed ends.
    fn watch_response(
        &self,
        watch: Result<Watch>,
        timeout: Duration,
        bookmarks: bool,
        tables: Option<IncludeObject>,
    ) -> Response<Body> {
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, BoxError>>(64);
        let shutdown = self.shutdown.clone();
        let interval = self.bookmark_interval;
        let resource = watch.as_ref().map(|w| w.resource.plural).unwrap_or("");
        tokio::spawn(
            async move {
                let send = |line: Vec<u8>| {
                    let tx = tx.clone();
                    async move { tx.send(Ok(Frame::data(Bytes::from(line)))).await.is_ok() }
                };
                let mut watch = match watch {
                    Ok(w) => w,
                    Err(e) => {
                        let status = serde_json::to_value(e.to_status()).unwrap_or(Value::Null);
                        send(watch_cache::event_line(EventType::Error, &status)).await;
                        return;
                    }
                };
                let deadline = tokio::time::sleep(timeout);
                tokio::pin!(deadline);
                let mut ticker =
                    tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
                loop {
                    tokio::select! {
                        () = shutdown.cancelled() => break,
                        () = &mut deadline => break,
                        () = tx.closed() => break,
                        _ = ticker.tick(), if bookmarks => {
                            let object = watch_cache::bookmark(watch.resource, watch.revision);
                            if !send(watch_cache::event_line(EventType::Bookmark, &object)).await {
                                break;
                            }
                        }
                        event = watch.next() => match event {
                            Some((kind, object)) => {
                                let line = match tables {
                                    Some(include) => watch_cache::event_line(
                                        kind,
                                        &table::to_table(watch.resource, &object, include, meta::unix_now()),
                                    ),
                                    None => watch_cache::cached_event_line(kind, &object),
                                };
                                if !send(line).await {
                                    break;
                                }
                            }
                            None => break,
                        },
                    }
                }
            }
            .instrument(tracing::info_span!("watch", resource)),
        );
        let body = StreamBody::new(tokio_stream::wrappers::ReceiverStream::new(rx)).boxed_unsync();
        let mut response = Response::new(body);
        let content_type = if tables.is_some() {
            codec::TABLE_CONTENT_TYPE
        } else {
            "application/json"
        };
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static(content_type),
        );
        response
    }
}

fn raw_list_options(query: &Query) -> RawListOptions {
    RawListOptions {
        label_selector: query.get("labelSelector").to_string(),
        field_selector: query.get("fieldSelector").to_string(),
        limit: query.get("limit").to_string(),
        continue_token: query.get("continue").to_string(),
        resource_version: query.get("resourceVersion").to_string(),
        resource_version_match: query.get("resourceVersionMatch").to_string(),
    }
}

/// DeleteOptions from the body, with query parameters (`gracePeriodSeconds`,
/// `propagationPolicy`, `dryRun`) as upstream also takes them.
async fn delete_options<B>(
    headers: &http::HeaderMap,
    body: B,
    query: &Query,
) -> Result<DeleteOptions>
where
    B: http_body::Body<Data = bytes::Bytes>,
    B::Error: Into<BoxError>,
{
    let bytes = codec::read_body(headers, body).await?;
    let mut options = DeleteOptions::from_json(&bytes)?;
    if options.propagation_policy.is_none() && !query.get("propagationPolicy").is_empty() {
        let json = json!({"propagationPolicy": query.get("propagationPolicy")});
        options.propagation_policy =
            DeleteOptions::from_json(json.to_string().as_bytes())?.propagation_policy;
    }
    if options.grace_period_seconds.is_none() && !query.get("gracePeriodSeconds").is_empty() {
        options.grace_period_seconds =
            Some(query.get("gracePeriodSeconds").parse().map_err(|_| {
                Error::BadRequest(format!(
                    "gracePeriodSeconds: Invalid value: \"{}\": must be an integer",
                    query.get("gracePeriodSeconds")
                ))
            })?);
    }
    if options.dry_run.is_none() && query.get("dryRun") == "All" {
        options.dry_run = Some(vec!["All".into()]);
    }
    Ok(options)
}

/// Whether a request is gRPC (routed to the `Api` service on the same port).
pub fn is_grpc<B>(request: &Request<B>) -> bool {
    request.method() == Method::POST
        && request
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("application/grpc"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_document_has_the_minor_kubectl_dispatches_on() {
        let v = version_info();
        assert_eq!(
            (v["major"].as_str(), v["minor"].as_str()),
            (Some("1"), Some("33"))
        );
        assert!(v["gitVersion"].as_str().unwrap().starts_with("v1.33."));
    }
}
