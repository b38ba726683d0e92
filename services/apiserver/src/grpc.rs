//! The gRPC `Api` service (proto/rudder/api/v1/api.proto) on the same HTTPS port
//! as REST: the same registry behind the same verbs, objects as their Kubernetes
//! JSON in `bytes` fields, Watch as a server stream of the watch cache's events.
//! The caller's identity comes from the connection, as for REST.

use std::sync::Arc;
use std::time::Duration;

use rudder_api::resource::{self, ResourceInfo};
use rudder_proto::api::v1::api_server::Api;
use rudder_proto::api::v1::{
    CreateRequest, DeleteRequest, GetRequest, ListRequest, ListResponse, LogChunk, LogsRequest,
    ObjectResponse, OpenApiV3Request, OpenApiV3Response, PatchRequest, ResourceRef, UpdateRequest,
    VersionRequest, VersionResponse, WatchEvent, WatchRequest,
};
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};
use tracing::Instrument;

use crate::admission::RequestContext;
use crate::error::{Error, Result};
use crate::registry::list::{ListOptions, RawListOptions};
use crate::registry::{CollectionRef, DeleteOptions, ObjectRef, PatchKind, Registry, WriteOptions};
use crate::watch_cache::{self, CachedObject, EventType};

/// Longest gRPC watch when the client gives no timeout; the client resumes.
const DEFAULT_WATCH_TIMEOUT: Duration = Duration::from_secs(1800);

/// The `Api` service over a registry.
#[derive(Debug, Clone)]
pub struct ApiService {
    registry: Registry,
    shutdown: CancellationToken,
    bookmark_interval: Duration,
    kubelet: Option<crate::pod_logs::KubeletClient>,
}

impl ApiService {
    /// A service over `registry`; watches end on `shutdown`.
    pub fn new(
        registry: Registry,
        shutdown: CancellationToken,
        bookmark_interval: Duration,
    ) -> Self {
        ApiService {
            registry,
            shutdown,
            bookmark_interval,
            kubelet: None,
        }
    }

    /// The same service answering `Logs` through `kubelet`.
    pub fn with_kubelet_client(mut self, kubelet: crate::pod_logs::KubeletClient) -> Self {
        self.kubelet = Some(kubelet);
        self
    }
}

fn context<T>(request: &Request<T>) -> std::result::Result<Arc<RequestContext>, Status> {
    request
        .extensions()
        .get::<Arc<RequestContext>>()
        .cloned()
        .ok_or_else(|| Error::Unauthorized.to_grpc_status())
}

fn resource_of(r: &ResourceRef) -> Result<&'static ResourceInfo> {
    let version = if r.version.is_empty() {
        "v1"
    } else {
        &r.version
    };
    resource::by_plural(&r.group, &r.resource)
        .filter(|info| info.version == version)
        .ok_or(Error::PathNotFound)
}

fn object_ref(r: Option<&ResourceRef>) -> Result<ObjectRef> {
    let r = r.ok_or_else(|| Error::BadRequest("ref is required".into()))?;
    let info = resource_of(r)?;
    if r.name.is_empty() {
        return Err(Error::BadRequest("ref.name is required".into()));
    }
    Ok(ObjectRef {
        resource: info,
        namespace: namespace_of(info, r)?,
        name: r.name.clone(),
        subresource: Some(r.subresource.clone()).filter(|s| !s.is_empty()),
    })
}

fn namespace_of(info: &ResourceInfo, r: &ResourceRef) -> Result<Option<String>> {
    if !info.namespaced {
        return Ok(None);
    }
    Ok(Some(r.namespace.clone()).filter(|ns| !ns.is_empty()))
}

fn collection(r: Option<&ResourceRef>, needs_namespace: bool) -> Result<CollectionRef> {
    let r = r.ok_or_else(|| Error::BadRequest("ref is required".into()))?;
    let info = resource_of(r)?;
    let namespace = namespace_of(info, r)?;
    if needs_namespace && info.namespaced && namespace.is_none() {
        return Err(Error::BadRequest("ref.namespace is required".into()));
    }
    Ok(CollectionRef {
        resource: info,
        namespace,
    })
}

fn decode(bytes: &[u8]) -> Result<Value> {
    crate::rest::codec::decode_object(crate::rest::codec::BodyFormat::Json, bytes)
}

fn encode(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

/// The write options of a request; without a field manager, writes are recorded
/// for the client's User-Agent, as on REST.
fn write_options<T>(request: &Request<T>, dry_run: bool, field_manager: &str) -> WriteOptions {
    WriteOptions {
        dry_run,
        field_manager: Some(field_manager.to_string()).filter(|s| !s.is_empty()),
        strict: false,
        force: false,
        user_agent: request
            .metadata()
            .get("user-agent")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string(),
    }
}

type GrpcResult<T> = std::result::Result<Response<T>, Status>;

fn reply(result: Result<Value>) -> GrpcResult<ObjectResponse> {
    result
        .map(|v| Response::new(ObjectResponse { object: encode(&v) }))
        .map_err(|e| e.to_grpc_status())
}

#[tonic::async_trait]
impl Api for ApiService {
    async fn version(&self, request: Request<VersionRequest>) -> GrpcResult<VersionResponse> {
        context(&request)?;
        Ok(Response::new(VersionResponse {
            info: encode(&crate::rest::version_info()),
        }))
    }

    async fn open_api_v3(
        &self,
        request: Request<OpenApiV3Request>,
    ) -> GrpcResult<OpenApiV3Response> {
        use http_body_util::BodyExt;
        context(&request)?;
        let req = request.get_ref();
        let path = if req.group.is_empty() {
            format!("api/{}", req.version)
        } else {
            format!("apis/{}/{}", req.group, req.version)
        };
        // The very document REST serves (built once), taken from its response.
        let response = crate::openapi::serve(
            crate::openapi::DocumentPath::V3(&path),
            &http::HeaderMap::new(),
            "",
        )
        .await
        .map_err(|e| e.to_grpc_status())?;
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| Status::internal(format!("reading the OpenAPI document: {e}")))?;
        Ok(Response::new(OpenApiV3Response {
            document: body.to_bytes().to_vec(),
        }))
    }

    async fn logs(
        &self,
        request: Request<LogsRequest>,
    ) -> GrpcResult<tonic::codegen::BoxStream<LogChunk>> {
        use futures::StreamExt;
        let ctx = context(&request)?;
        let req = request.into_inner();
        let options = crate::pod_logs::LogOptions {
            container: req.container,
            follow: req.follow,
            previous: req.previous,
            timestamps: req.timestamps,
            tail_lines: req.tail_lines,
            since_seconds: req.since_seconds,
            limit_bytes: req.limit_bytes,
        };
        let log = async {
            crate::pod_logs::open(
                &self.registry,
                self.kubelet.as_ref(),
                &ctx,
                &req.namespace,
                &req.name,
                &options.validated()?,
            )
            .await
        }
        .await
        .map_err(|e| e.to_grpc_status())?;
        let chunks = log.map(|chunk| {
            chunk
                .map(|data| LogChunk {
                    data: data.to_vec(),
                })
                .map_err(|e| Status::unavailable(format!("the kubelet's stream broke: {e}")))
        });
        Ok(Response::new(Box::pin(chunks)))
    }

    async fn get(&self, request: Request<GetRequest>) -> GrpcResult<ObjectResponse> {
        let ctx = context(&request)?;
        let r = object_ref(request.get_ref().r#ref.as_ref()).map_err(|e| e.to_grpc_status())?;
        reply(self.registry.get(&ctx, &r).await)
    }

    async fn list(&self, request: Request<ListRequest>) -> GrpcResult<ListResponse> {
        let ctx = context(&request)?;
        let req = request.get_ref();
        let result = async {
            let c = collection(req.r#ref.as_ref(), false)?;
            let options = ListOptions::parse(
                c.resource,
                &RawListOptions {
                    label_selector: req.label_selector.clone(),
                    field_selector: req.field_selector.clone(),
                    limit: if req.limit > 0 {
                        req.limit.to_string()
                    } else {
                        String::new()
                    },
                    continue_token: req.continue_token.clone(),
                    resource_version: req.resource_version.clone(),
                    resource_version_match: String::new(),
                },
            )?;
            self.registry.list(&ctx, &c, &options).await
        }
        .await;
        result
            .map(|v| Response::new(ListResponse { list: encode(&v) }))
            .map_err(|e| e.to_grpc_status())
    }

    async fn create(&self, request: Request<CreateRequest>) -> GrpcResult<ObjectResponse> {
        let ctx = context(&request)?;
        let req = request.get_ref();
        reply(
            async {
                let object = decode(&req.object)?;
                if req
                    .r#ref
                    .as_ref()
                    .is_some_and(|r| !r.subresource.is_empty())
                {
                    // pods/binding, pods/eviction
                    let r = object_ref(req.r#ref.as_ref())?;
                    return self
                        .registry
                        .create_subresource(&ctx, &r, object, req.dry_run)
                        .await;
                }
                let c = collection(req.r#ref.as_ref(), true)?;
                self.registry
                    .create(
                        &ctx,
                        &c,
                        object,
                        &write_options(&request, req.dry_run, &req.field_manager),
                    )
                    .await
            }
            .await,
        )
    }

    async fn update(&self, request: Request<UpdateRequest>) -> GrpcResult<ObjectResponse> {
        let ctx = context(&request)?;
        let req = request.get_ref();
        reply(
            async {
                let r = object_ref(req.r#ref.as_ref())?;
                let object = decode(&req.object)?;
                self.registry
                    .update(
                        &ctx,
                        &r,
                        object,
                        &write_options(&request, req.dry_run, &req.field_manager),
                    )
                    .await
            }
            .await,
        )
    }

    async fn patch(&self, request: Request<PatchRequest>) -> GrpcResult<ObjectResponse> {
        let ctx = context(&request)?;
        let req = request.get_ref();
        reply(
            async {
                let r = object_ref(req.r#ref.as_ref())?;
                let kind = PatchKind::from_content_type(&req.patch_type)?;
                self.registry
                    .patch(
                        &ctx,
                        &r,
                        kind,
                        &req.patch,
                        &WriteOptions {
                            force: req.force,
                            ..write_options(&request, req.dry_run, &req.field_manager)
                        },
                    )
                    .await
            }
            .await,
        )
    }

    async fn delete(&self, request: Request<DeleteRequest>) -> GrpcResult<ObjectResponse> {
        let ctx = context(&request)?;
        let req = request.get_ref();
        reply(
            async {
                let r = object_ref(req.r#ref.as_ref())?;
                let options = DeleteOptions::from_json(&req.options)?;
                self.registry.delete(&ctx, &r, &options).await
            }
            .await,
        )
    }

    async fn delete_collection(&self, request: Request<DeleteRequest>) -> GrpcResult<ListResponse> {
        let ctx = context(&request)?;
        let req = request.get_ref();
        let result = async {
            let c = collection(req.r#ref.as_ref(), false)?;
            let options = DeleteOptions::from_json(&req.options)?;
            let list_options = ListOptions::parse(
                c.resource,
                &RawListOptions {
                    label_selector: req.label_selector.clone(),
                    field_selector: req.field_selector.clone(),
                    ..Default::default()
                },
            )?;
            self.registry
                .delete_collection(&ctx, &c, &list_options, &options)
                .await
        }
        .await;
        result
            .map(|v| Response::new(ListResponse { list: encode(&v) }))
            .map_err(|e| e.to_grpc_status())
    }

    async fn watch(
        &self,
        request: Request<WatchRequest>,
    ) -> GrpcResult<tonic::codegen::BoxStream<WatchEvent>> {
        let ctx = context(&request)?;
        let req = request.into_inner();
        let c = collection(req.r#ref.as_ref(), false).map_err(|e| e.to_grpc_status())?;
        let watch = self
            .registry
            .watch(
                &ctx,
                &c,
                &RawListOptions {
                    label_selector: req.label_selector.clone(),
                    field_selector: req.field_selector.clone(),
                    resource_version: req.resource_version.clone(),
                    ..Default::default()
                },
            )
            .await;
        let (tx, rx) = tokio::sync::mpsc::channel::<std::result::Result<WatchEvent, Status>>(64);
        let timeout = u64::try_from(req.timeout_seconds)
            .ok()
            .filter(|t| *t > 0)
            .map_or(DEFAULT_WATCH_TIMEOUT, Duration::from_secs);
        let shutdown = self.shutdown.clone();
        let interval = self.bookmark_interval;
        let bookmarks = req.allow_bookmarks;
        tokio::spawn(
            async move {
                let event = |kind: EventType, object: &Value| WatchEvent {
                    r#type: kind.as_str().to_string(),
                    object: encode(object),
                };
                // The watch cache encoded each object once, when its event arrived:
                // every watcher sends those bytes rather than encoding them again.
                let cached_event = |kind: EventType, object: &CachedObject| WatchEvent {
                    r#type: kind.as_str().to_string(),
                    object: object.json().to_vec(),
                };
                let mut watch = match watch {
                    Ok(w) => w,
                    Err(e @ Error::Expired(_)) => {
                        // As on REST: a too-old revision is an ERROR event with the 410 Status.
                        let status = serde_json::to_value(e.to_status()).unwrap_or(Value::Null);
                        let _ = tx.send(Ok(event(EventType::Error, &status))).await;
                        return;
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e.to_grpc_status())).await;
                        return;
                    }
                };
                let deadline = tokio::time::sleep(timeout);
                tokio::pin!(deadline);
                let mut ticker =
                    tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
                loop {
                    let next = tokio::select! {
                        () = shutdown.cancelled() => break,
                        () = &mut deadline => break,
                        () = tx.closed() => break,
                        _ = ticker.tick(), if bookmarks => {
                            event(EventType::Bookmark, &watch_cache::bookmark(watch.resource, watch.revision))
                        }
                        e = watch.next() => match e {
                            Some((kind, object)) => cached_event(kind, &object),
                            None => break,
                        },
                    };
                    if tx.send(Ok(next)).await.is_err() {
                        break;
                    }
                }
            }
            .instrument(tracing::info_span!("grpc_watch", resource = c.resource.plural)),
        );
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        )))
    }
}
