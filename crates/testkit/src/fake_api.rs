//! An in-process fake of the API server's `Api` service over real mTLS (certificates
//! from `rudder_pki::certs::write_cluster_certs`), for the tests of the client crate
//! and of rudderctl: objects in memory with resourceVersions, field selectors
//! (rudder_api's `FieldSelector`), merge, strategic-merge and JSON patches, a fixed
//! `creationTimestamp`, recorded delete options and patches, deletes that can be held
//! (the object stays with a `deletionTimestamp`, as with finalizers), and knobs for
//! the failures a client must survive: failing calls, dropped watch streams, and
//! compaction (410 on a too-old watch).
//!
//! It is deliberately small: the client's error convention, not the API server's
//! semantics. Later sessions rerun the same tests against the real cluster harness.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rudder_api::resource::{self, ResourceInfo};
use rudder_api::status;
use rudder_client::grpc_status::to_grpc;
use rudder_client::{BackoffConfig, Client, ClientConfig, KubeconfigOptions, RetryPolicy};
use rudder_pki::certs::{CertsLayout, CertsOptions, write_cluster_certs};
use rudder_pki::kubeconfig::{Kubeconfig, Secret};
use rudder_proto::api::v1 as proto;
use rudder_proto::api::v1::api_server::{Api, ApiServer};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::{broadcast, mpsc, watch};
use tokio_stream::wrappers::{ReceiverStream, TcpListenerStream};
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

/// Polls `$cond` until it holds or `$secs` (default 10) seconds pass; never a fixed sleep.
#[macro_export]
macro_rules! assert_eventually {
    ($cond:expr) => {
        $crate::assert_eventually!($cond, 10)
    };
    ($cond:expr, $secs:expr) => {{
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs($secs);
        loop {
            if $cond {
                break;
            }
            if tokio::time::Instant::now() > deadline {
                panic!("not true within {}s: {}", $secs, stringify!($cond));
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }};
}

/// One change, as the watch history keeps it.
#[derive(Debug, Clone)]
struct Change {
    revision: i64,
    resource: &'static ResourceInfo,
    namespace: String,
    kind: &'static str,
    object: Value,
}

type Key = (&'static str, String, String);

#[derive(Default)]
struct State {
    revision: i64,
    /// Watches from a resourceVersion below this answer 410.
    compacted: i64,
    objects: BTreeMap<Key, Value>,
    history: Vec<Change>,
    /// Calls to fail with `Unavailable` (no details), counted down.
    fail_next: u32,
    calls: HashMap<&'static str, u32>,
    authorization: Option<String>,
    traceparent: Option<String>,
    /// The DeleteOptions JSON of every delete, in order.
    delete_options: Vec<Value>,
    /// Deletes only mark objects (deletionTimestamp) instead of removing them.
    hold_deletes: bool,
    /// Every patch as (content type, body).
    patches: Vec<(String, Value)>,
}

/// The creationTimestamp the fake gives every object: 2024-01-01T00:00:00Z.
pub const CREATED: &str = "2024-01-01T00:00:00Z";
/// [`CREATED`] in Unix seconds.
pub const T0: i64 = 1_704_067_200;

/// The shared state behind the service.
pub struct Shared {
    state: Mutex<State>,
    live: broadcast::Sender<Change>,
    /// Bumped to end every open watch stream with an error.
    epoch: watch::Sender<u64>,
}

fn info(r: &proto::ResourceRef) -> Result<&'static ResourceInfo, Status> {
    resource::by_plural(&r.group, &r.resource).ok_or_else(|| to_grpc(&status::path_not_found()))
}

fn key_of(info: &'static ResourceInfo, namespace: &str, name: &str) -> Key {
    (info.plural, namespace.to_string(), name.to_string())
}

fn json_of(bytes: &[u8]) -> Result<Value, Status> {
    serde_json::from_slice(bytes).map_err(|e| to_grpc(&status::bad_request(&e.to_string())))
}

/// A field selector checked against the resource's selectable fields, with the API
/// server's 400 for an unsupported one.
fn field_selector(
    info: &'static ResourceInfo,
    text: &str,
) -> Result<rudder_api::selector::FieldSelector, Status> {
    let fields = rudder_api::selector::FieldSelector::parse(text)
        .map_err(|e| to_grpc(&status::bad_request(&e.to_string())))?;
    fields
        .validate_for(info)
        .map_err(|e| to_grpc(&status::bad_request(&e.to_string())))?;
    Ok(fields)
}

fn bytes(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).unwrap()
}

impl Shared {
    fn enter(
        &self,
        verb: &'static str,
        metadata: &tonic::metadata::MetadataMap,
    ) -> Result<std::sync::MutexGuard<'_, State>, Status> {
        let mut state = self.state.lock().unwrap();
        *state.calls.entry(verb).or_default() += 1;
        state.authorization = metadata
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        state.traceparent = metadata
            .get("traceparent")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        if state.fail_next > 0 {
            state.fail_next -= 1;
            return Err(Status::unavailable("the fake API server is warming up"));
        }
        Ok(state)
    }

    fn record(
        &self,
        state: &mut State,
        info: &'static ResourceInfo,
        namespace: &str,
        kind: &'static str,
        object: Value,
        broadcast: bool,
    ) {
        let change = Change {
            revision: state.revision,
            resource: info,
            namespace: namespace.to_string(),
            kind,
            object,
        };
        state.history.push(change.clone());
        if broadcast {
            let _no_watchers = self.live.send(change);
        }
    }

    /// Stores `object` under a new revision and records the change.
    fn write(
        &self,
        state: &mut State,
        info: &'static ResourceInfo,
        namespace: &str,
        mut object: Value,
        kind: &'static str,
        broadcast: bool,
    ) -> Value {
        state.revision += 1;
        object["metadata"]["resourceVersion"] = json!(state.revision.to_string());
        if info.namespaced {
            object["metadata"]["namespace"] = json!(namespace);
        }
        let name = object["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        state
            .objects
            .insert(key_of(info, namespace, &name), object.clone());
        self.record(state, info, namespace, kind, object.clone(), broadcast);
        object
    }
}

/// The tonic service.
#[derive(Clone)]
pub struct FakeApi(pub Arc<Shared>);

#[tonic::async_trait]
impl Api for FakeApi {
    async fn get(
        &self,
        request: Request<proto::GetRequest>,
    ) -> Result<Response<proto::ObjectResponse>, Status> {
        let state = self.0.enter("get", request.metadata())?;
        let r = request.into_inner().r#ref.unwrap_or_default();
        let info = info(&r)?;
        let object = state
            .objects
            .get(&key_of(info, &r.namespace, &r.name))
            .ok_or_else(|| to_grpc(&status::not_found(info, &r.name)))?;
        let object = match r.subresource.as_str() {
            "scale" => {
                serde_json::to_value(rudder_api::scale::scale_of(info, object).unwrap()).unwrap()
            }
            _ => object.clone(),
        };
        Ok(Response::new(proto::ObjectResponse {
            object: bytes(&object),
        }))
    }

    async fn list(
        &self,
        request: Request<proto::ListRequest>,
    ) -> Result<Response<proto::ListResponse>, Status> {
        let state = self.0.enter("list", request.metadata())?;
        let request = request.into_inner();
        let r = request.r#ref.unwrap_or_default();
        let info = info(&r)?;
        let selector = rudder_api::selector::Selector::parse(&request.label_selector)
            .map_err(|e| to_grpc(&status::bad_request(&e.to_string())))?;
        let fields = field_selector(info, &request.field_selector)?;
        let mut items: Vec<&Value> = state
            .objects
            .iter()
            .filter(|((plural, ns, _), _)| {
                *plural == info.plural && (r.namespace.is_empty() || *ns == r.namespace)
            })
            .map(|(_, v)| v)
            .filter(|v| selector.matches_object(v))
            .filter(|v| fields.matches_object(info, v))
            .collect();
        let start: usize = request.continue_token.parse().unwrap_or(0);
        items.drain(..start.min(items.len()));
        let mut metadata = json!({"resourceVersion": state.revision.to_string()});
        if request.limit > 0 && items.len() > request.limit as usize {
            items.truncate(request.limit as usize);
            metadata["continue"] = json!((start + items.len()).to_string());
        }
        let list = json!({"kind": format!("{}List", info.kind), "apiVersion": info.api_version(), "metadata": metadata, "items": items});
        Ok(Response::new(proto::ListResponse { list: bytes(&list) }))
    }

    async fn create(
        &self,
        request: Request<proto::CreateRequest>,
    ) -> Result<Response<proto::ObjectResponse>, Status> {
        let mut state = self.0.enter("create", request.metadata())?;
        let request = request.into_inner();
        let r = request.r#ref.unwrap_or_default();
        let info = info(&r)?;
        let mut object = json_of(&request.object)?;
        if r.subresource == "binding" {
            let key = key_of(info, &r.namespace, &r.name);
            let mut pod = state
                .objects
                .get(&key)
                .cloned()
                .ok_or_else(|| to_grpc(&status::not_found(info, &r.name)))?;
            pod["spec"]["nodeName"] = object["target"]["name"].clone();
            self.0
                .write(&mut state, info, &r.namespace, pod, "MODIFIED", true);
            let ok = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201});
            return Ok(Response::new(proto::ObjectResponse { object: bytes(&ok) }));
        }
        let name = object["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if state
            .objects
            .contains_key(&key_of(info, &r.namespace, &name))
        {
            return Err(to_grpc(&status::already_exists(info, &name)));
        }
        object["metadata"]["uid"] = json!(format!("uid-{name}-{}", state.revision + 1));
        object["metadata"]["creationTimestamp"] = json!(CREATED);
        let stored = self
            .0
            .write(&mut state, info, &r.namespace, object, "ADDED", true);
        Ok(Response::new(proto::ObjectResponse {
            object: bytes(&stored),
        }))
    }

    async fn update(
        &self,
        request: Request<proto::UpdateRequest>,
    ) -> Result<Response<proto::ObjectResponse>, Status> {
        let mut state = self.0.enter("update", request.metadata())?;
        let request = request.into_inner();
        let r = request.r#ref.unwrap_or_default();
        let info = info(&r)?;
        let object = json_of(&request.object)?;
        let current = state
            .objects
            .get(&key_of(info, &r.namespace, &r.name))
            .cloned()
            .ok_or_else(|| to_grpc(&status::not_found(info, &r.name)))?;
        let sent_rv = object["metadata"]["resourceVersion"]
            .as_str()
            .unwrap_or_default();
        if !sent_rv.is_empty()
            && sent_rv
                != current["metadata"]["resourceVersion"]
                    .as_str()
                    .unwrap_or_default()
        {
            return Err(to_grpc(&status::optimistic_lock_conflict(info, &r.name)));
        }
        let updated = match r.subresource.as_str() {
            "status" => {
                let mut updated = current.clone();
                updated["status"] = object["status"].clone();
                updated
            }
            _ => {
                let mut updated = object;
                updated["metadata"]["uid"] = current["metadata"]["uid"].clone();
                updated
            }
        };
        let stored = self
            .0
            .write(&mut state, info, &r.namespace, updated, "MODIFIED", true);
        Ok(Response::new(proto::ObjectResponse {
            object: bytes(&stored),
        }))
    }

    async fn patch(
        &self,
        request: Request<proto::PatchRequest>,
    ) -> Result<Response<proto::ObjectResponse>, Status> {
        let mut state = self.0.enter("patch", request.metadata())?;
        let request = request.into_inner();
        let r = request.r#ref.unwrap_or_default();
        let info = info(&r)?;
        let patch = json_of(&request.patch)?;
        state
            .patches
            .push((request.patch_type.clone(), patch.clone()));
        let current = state
            .objects
            .get(&key_of(info, &r.namespace, &r.name))
            .cloned()
            .ok_or_else(|| to_grpc(&status::not_found(info, &r.name)))?;
        let (patched, scale) = match r.subresource.as_str() {
            "scale" => {
                let mut object = current;
                object["spec"]["replicas"] = patch["spec"]["replicas"].clone();
                (object, true)
            }
            _ => {
                let patched = match request.patch_type.as_str() {
                    "application/merge-patch+json" => {
                        Ok(rudder_api::patch::apply_merge_patch(&current, &patch))
                    }
                    "application/strategic-merge-patch+json" => {
                        rudder_api::patch::apply_strategic_merge_patch(
                            &current,
                            &patch,
                            rudder_api::patch::PatchType::for_resource(info),
                        )
                    }
                    "application/json-patch+json" => {
                        rudder_api::patch::apply_json_patch(&current, &patch)
                    }
                    other => {
                        return Err(to_grpc(&status::unsupported_media_type(other, &[])));
                    }
                };
                let mut patched =
                    patched.map_err(|e| to_grpc(&status::bad_request(&e.to_string())))?;
                let sent_rv = patch["metadata"]["resourceVersion"].as_str();
                if sent_rv
                    .is_some_and(|rv| Some(rv) != current["metadata"]["resourceVersion"].as_str())
                {
                    return Err(to_grpc(&status::optimistic_lock_conflict(info, &r.name)));
                }
                patched["metadata"]["uid"] = current["metadata"]["uid"].clone();
                (patched, false)
            }
        };
        let stored = self
            .0
            .write(&mut state, info, &r.namespace, patched, "MODIFIED", true);
        let answer = if scale {
            serde_json::to_value(rudder_api::scale::scale_of(info, &stored).unwrap()).unwrap()
        } else {
            stored
        };
        Ok(Response::new(proto::ObjectResponse {
            object: bytes(&answer),
        }))
    }

    async fn delete(
        &self,
        request: Request<proto::DeleteRequest>,
    ) -> Result<Response<proto::ObjectResponse>, Status> {
        let mut state = self.0.enter("delete", request.metadata())?;
        let request = request.into_inner();
        let r = request.r#ref.unwrap_or_default();
        let info = info(&r)?;
        let options: Value = if request.options.is_empty() {
            json!({})
        } else {
            json_of(&request.options)?
        };
        state.delete_options.push(options);
        if state.hold_deletes {
            let key = key_of(info, &r.namespace, &r.name);
            let mut object = state
                .objects
                .get(&key)
                .cloned()
                .ok_or_else(|| to_grpc(&status::not_found(info, &r.name)))?;
            object["metadata"]["deletionTimestamp"] = json!(CREATED);
            let stored = self
                .0
                .write(&mut state, info, &r.namespace, object, "MODIFIED", true);
            return Ok(Response::new(proto::ObjectResponse {
                object: bytes(&stored),
            }));
        }
        let mut object = state
            .objects
            .remove(&key_of(info, &r.namespace, &r.name))
            .ok_or_else(|| to_grpc(&status::not_found(info, &r.name)))?;
        state.revision += 1;
        object["metadata"]["resourceVersion"] = json!(state.revision.to_string());
        self.0.record(
            &mut state,
            info,
            &r.namespace,
            "DELETED",
            object.clone(),
            true,
        );
        Ok(Response::new(proto::ObjectResponse {
            object: bytes(&object),
        }))
    }

    async fn delete_collection(
        &self,
        request: Request<proto::DeleteRequest>,
    ) -> Result<Response<proto::ListResponse>, Status> {
        let mut state = self.0.enter("deletecollection", request.metadata())?;
        let request = request.into_inner();
        let r = request.r#ref.unwrap_or_default();
        let info = info(&r)?;
        let selector = rudder_api::selector::Selector::parse(&request.label_selector)
            .map_err(|e| to_grpc(&status::bad_request(&e.to_string())))?;
        let doomed: Vec<Key> = state
            .objects
            .iter()
            .filter(|((plural, ns, _), v)| {
                *plural == info.plural
                    && (r.namespace.is_empty() || *ns == r.namespace)
                    && selector.matches_object(v)
            })
            .map(|(k, _)| k.clone())
            .collect();
        let mut items = Vec::new();
        for key in doomed {
            let mut object = state.objects.remove(&key).unwrap();
            state.revision += 1;
            object["metadata"]["resourceVersion"] = json!(state.revision.to_string());
            self.0
                .record(&mut state, info, &key.1, "DELETED", object.clone(), true);
            items.push(object);
        }
        let list = json!({"kind": format!("{}List", info.kind), "apiVersion": info.api_version(),
            "metadata": {"resourceVersion": state.revision.to_string()}, "items": items});
        Ok(Response::new(proto::ListResponse { list: bytes(&list) }))
    }

    async fn watch(
        &self,
        request: Request<proto::WatchRequest>,
    ) -> Result<
        Response<
            std::pin::Pin<
                Box<dyn futures::Stream<Item = Result<proto::WatchEvent, Status>> + Send + 'static>,
            >,
        >,
        Status,
    > {
        let state = self.0.enter("watch", request.metadata())?;
        let request = request.into_inner();
        let r = request.r#ref.unwrap_or_default();
        let info = info(&r)?;
        let selector = rudder_api::selector::Selector::parse(&request.label_selector)
            .map_err(|e| to_grpc(&status::bad_request(&e.to_string())))?;
        let fields = field_selector(info, &request.field_selector)?;
        let namespace = r.namespace.clone();
        let matches = move |plural: &str, ns: &str, object: &Value| {
            plural == info.plural
                && (namespace.is_empty() || ns == namespace)
                && selector.matches_object(object)
                && fields.matches_object(info, object)
        };
        let event = |kind: &str, object: &Value| proto::WatchEvent {
            r#type: kind.to_string(),
            object: bytes(object),
        };
        let mut live = self.0.live.subscribe();
        let mut epoch = self.0.epoch.subscribe();
        let mut last = state.revision;
        let initial: Vec<proto::WatchEvent> = if request.resource_version.is_empty() {
            state
                .objects
                .iter()
                .filter(|((plural, ns, _), v)| matches(plural, ns, v))
                .map(|(_, v)| event("ADDED", v))
                .collect()
        } else {
            let from: i64 = request.resource_version.parse().unwrap_or(0);
            if from < state.compacted {
                return Err(to_grpc(&status::resource_expired(from, state.compacted)));
            }
            state
                .history
                .iter()
                .filter(|c| {
                    c.revision > from && matches(c.resource.plural, &c.namespace, &c.object)
                })
                .map(|c| event(c.kind, &c.object))
                .collect()
        };
        drop(state);
        let (tx, rx) = mpsc::channel(256);
        tokio::spawn(async move {
            for e in initial {
                if tx.send(Ok(e)).await.is_err() {
                    return;
                }
            }
            loop {
                tokio::select! {
                    biased;
                    _ = epoch.changed() => {
                        let _closed = tx.send(Err(Status::unavailable("the fake dropped the stream"))).await;
                        return;
                    }
                    change = live.recv() => match change {
                        Ok(c) if c.revision > last && matches(c.resource.plural, &c.namespace, &c.object) => {
                            last = c.revision;
                            if tx.send(Ok(event(c.kind, &c.object))).await.is_err() {
                                return;
                            }
                        }
                        Ok(_) => {}
                        Err(_) => return,
                    },
                    _ = tx.closed() => return,
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

/// A running fake with its certificates and an admin kubeconfig pointing at it.
pub struct FakeApiServer {
    pub addr: SocketAddr,
    pub shared: Arc<Shared>,
    pub kubeconfig: PathBuf,
    pub layout: CertsLayout,
    _dir: tempfile::TempDir,
    shutdown: CancellationToken,
}

impl Drop for FakeApiServer {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Fresh certificates in a temporary directory.
pub fn certs() -> (tempfile::TempDir, CertsLayout) {
    let dir = tempfile::tempdir().unwrap();
    write_cluster_certs(&CertsOptions::new(dir.path())).unwrap();
    let layout = CertsLayout::new(dir.path());
    (dir, layout)
}

impl FakeApiServer {
    /// Serves on a fresh loopback port; the kubeconfig's context names no namespace.
    pub async fn start() -> FakeApiServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::start_on(listener, certs(), None).await
    }

    /// [`Self::start`] with `namespace` as the kubeconfig context's namespace.
    pub async fn start_in(namespace: &str) -> FakeApiServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::start_on(listener, certs(), Some(namespace)).await
    }

    /// Serves on `listener` with the given certificates and context namespace.
    pub async fn start_on(
        listener: TcpListener,
        (dir, layout): (tempfile::TempDir, CertsLayout),
        context_namespace: Option<&str>,
    ) -> FakeApiServer {
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            live: broadcast::channel(4096).0,
            epoch: watch::Sender::new(0),
        });
        let shutdown = CancellationToken::new();
        let server = tonic::transport::Server::builder()
            .tls_config(layout.apiserver_tls().tonic_server().unwrap())
            .unwrap()
            .add_service(ApiServer::new(FakeApi(Arc::clone(&shared))))
            .serve_with_incoming_shutdown(
                TcpListenerStream::new(listener),
                shutdown.clone().cancelled_owned(),
            );
        tokio::spawn(server);

        let path = write_kubeconfig(&layout, addr.port(), context_namespace);
        FakeApiServer {
            addr,
            shared,
            kubeconfig: path,
            layout,
            _dir: dir,
            shutdown,
        }
    }

    /// A client from the kubeconfig, with quick retries.
    pub fn client(&self) -> Client {
        let config = ClientConfig::load(&KubeconfigOptions {
            path: Some(self.kubeconfig.clone()),
            ..Default::default()
        })
        .unwrap();
        Client::new(config)
            .unwrap()
            .with_retry_policy(fast_retries())
    }

    /// Fails the next `n` calls with `Unavailable` (no Kubernetes Status).
    pub fn fail_next(&self, n: u32) {
        self.shared.state.lock().unwrap().fail_next = n;
    }

    /// How many calls of `verb` arrived (failed ones included).
    pub fn calls(&self, verb: &str) -> u32 {
        self.shared
            .state
            .lock()
            .unwrap()
            .calls
            .get(verb)
            .copied()
            .unwrap_or(0)
    }

    /// The `authorization` metadata of the last call.
    pub fn last_authorization(&self) -> Option<String> {
        self.shared.state.lock().unwrap().authorization.clone()
    }

    /// The W3C `traceparent` metadata of the last call.
    pub fn last_traceparent(&self) -> Option<String> {
        self.shared.state.lock().unwrap().traceparent.clone()
    }

    /// The current revision.
    pub fn revision(&self) -> i64 {
        self.shared.state.lock().unwrap().revision
    }

    /// Ends every open watch stream with an error, as a dropped connection would.
    pub fn drop_watches(&self) {
        self.shared.epoch.send_modify(|e| *e += 1);
    }

    /// Changes `object` (a `pods` object in `namespace`) without telling any watcher,
    /// compacts history up to that change, and drops every watch: a resuming watcher
    /// gets 410 and must relist to see the change.
    pub fn change_unseen_and_compact(&self, namespace: &str, object: Value) {
        let pods = resource::by_plural("", "pods").unwrap();
        {
            let mut state = self.shared.state.lock().unwrap();
            self.shared
                .write(&mut state, pods, namespace, object, "ADDED", false);
            state.compacted = state.revision;
        }
        self.drop_watches();
    }
}

/// The admin kubeconfig of `layout`, pointed at `port` on loopback, with a token (to
/// check it is sent) and `namespace` in its context; written to `<dir>/test.conf`.
pub fn write_kubeconfig(layout: &CertsLayout, port: u16, namespace: Option<&str>) -> PathBuf {
    let mut kubeconfig = Kubeconfig::load(&layout.kubeconfig("admin")).unwrap();
    kubeconfig.clusters[0].cluster.server = format!("https://127.0.0.1:{port}");
    kubeconfig.users[0].user.token = Some(Secret("test-token".to_string()));
    if let Some(ctx) = kubeconfig.contexts.first_mut() {
        ctx.context.namespace = namespace.map(str::to_string);
    }
    let path = layout.dir.join("test.conf");
    kubeconfig.save(&path).unwrap();
    path
}

impl FakeApiServer {
    /// Stores `object` (JSON with apiVersion, kind, metadata.name) as if created, with
    /// the fixed creationTimestamp unless it has one.
    pub fn put(&self, mut object: Value) -> Value {
        let api_version = object["apiVersion"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let kind = object["kind"].as_str().unwrap_or_default().to_string();
        let info = resource::by_api_version_kind(&api_version, &kind).expect("a served kind");
        let namespace = object["metadata"]["namespace"]
            .as_str()
            .unwrap_or("default")
            .to_string();
        let namespace = if info.namespaced {
            namespace
        } else {
            String::new()
        };
        if object["metadata"]["creationTimestamp"].is_null() {
            object["metadata"]["creationTimestamp"] = json!(CREATED);
        }
        let mut state = self.shared.state.lock().unwrap();
        if object["metadata"]["uid"].is_null() {
            let name = object["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            object["metadata"]["uid"] = json!(format!("uid-{name}-{}", state.revision + 1));
        }
        self.shared
            .write(&mut state, info, &namespace, object, "ADDED", true)
    }

    /// The stored object, if any.
    pub fn object(&self, plural: &str, namespace: &str, name: &str) -> Option<Value> {
        let info = resource::all().iter().find(|r| r.plural == plural)?;
        let namespace = if info.namespaced { namespace } else { "" };
        self.shared
            .state
            .lock()
            .unwrap()
            .objects
            .get(&key_of(info, namespace, name))
            .cloned()
    }

    /// Removes an object as a finalizer finishing would, telling watchers.
    pub fn remove(&self, plural: &str, namespace: &str, name: &str) {
        let info = resource::all().iter().find(|r| r.plural == plural).unwrap();
        let mut state = self.shared.state.lock().unwrap();
        if let Some(object) = state.objects.remove(&key_of(info, namespace, name)) {
            state.revision += 1;
            self.shared
                .record(&mut state, info, namespace, "DELETED", object, true);
        }
    }

    /// Makes deletes mark objects instead of removing them.
    pub fn hold_deletes(&self, hold: bool) {
        self.shared.state.lock().unwrap().hold_deletes = hold;
    }

    /// The DeleteOptions of every delete so far.
    pub fn delete_options(&self) -> Vec<Value> {
        self.shared.state.lock().unwrap().delete_options.clone()
    }

    /// Every patch so far as (content type, body).
    pub fn patches(&self) -> Vec<(String, Value)> {
        self.shared.state.lock().unwrap().patches.clone()
    }
}

/// Retries quick enough for tests: 10 attempts, 10 ms doubling to 100 ms.
pub fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 10,
        backoff: fast_backoff(),
    }
}

/// A back-off quick enough for tests.
pub fn fast_backoff() -> BackoffConfig {
    BackoffConfig {
        initial: Duration::from_millis(10),
        max: Duration::from_millis(100),
        jitter: true,
    }
}
