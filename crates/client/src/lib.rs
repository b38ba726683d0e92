//! The one client of Rudder's API server, used by the controller-manager, scheduler,
//! kubelet, proxy and rudderctl. It speaks the API server's gRPC `Api` service
//! (proto/rudder/api/v1/api.proto) over mutual TLS, with objects as their Kubernetes
//! JSON (the k8s-openapi types).
//!
//! | piece | what it is for |
//! |---|---|
//! | [`config`], [`Client`] | connect from a kubeconfig (kubectl's file, context and namespace rules) or TLS flags; trace context on every call; bearer token if any; retries of transient failures |
//! | [`Api<K>`] | get/list/create/replace/patch/delete/delete_collection/watch and subresources (status, scale, binding) on one resource, typed (`Api<Pod>`) or dynamic (`Api<DynamicObject>`) |
//! | [`Error`] | one enum; `Display` of a server error is kubectl's `Error from server (NotFound): pods "x" not found`; [`Error::Transient`] is the retryable kind |
//! | [`grpc_status`] | the Kubernetes `Status` inside a gRPC error, over the convention in `rudder_proto::grpc_error` that the API server shares |
//! | [`watcher`] | list + watch + resume + relist-on-410 as an explicit state machine, a never-ending stream of cache events |
//! | [`reflector`] | a cache (one writer, many readers) fed by a watcher, with `wait_until_synced` |
//! | [`informer`] | watcher + cache + change handlers that enqueue keys |
//! | [`workqueue`] | client-go's rate-limited work queue: dedup, one key at a time, delayed and backed-off re-queues |
//! | [`leader`] | leader election on a coordination.k8s.io/v1 Lease |
//!
//! # Connect
//!
//! ```no_run
//! # async fn f() -> Result<(), rudder_client::Error> {
//! use rudder_client::{Client, KubeconfigOptions};
//! // --kubeconfig, else KUBECONFIG, else ~/.kube/config; --context; --namespace.
//! let client = Client::from_kubeconfig(&KubeconfigOptions {
//!     path: Some("./.rudder/admin.conf".into()),
//!     context: None,
//!     namespace: None,
//! })?;
//! # Ok(()) }
//! ```
//!
//! # Typed calls
//!
//! ```no_run
//! # async fn f(client: rudder_client::Client) -> Result<(), rudder_client::Error> {
//! use k8s_openapi::api::apps::v1::Deployment;
//! use k8s_openapi::api::core::v1::{Node, Pod};
//! use rudder_client::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
//!
//! let pods = Api::<Pod>::namespaced(client.clone(), "default");
//! let web = pods.get("web").await?;
//! let running = pods.list(&ListParams::default().labels("app=web")).await?;
//! let mut changed = web.clone();
//! changed.metadata.labels.get_or_insert_default().insert("tier".into(), "front".into());
//! pods.replace("web", &PostParams::default(), &changed).await?; // 409 if web changed meanwhile
//! pods.delete("web", &DeleteParams::background()).await?;
//!
//! let deployments = Api::<Deployment>::namespaced(client.clone(), "default");
//! let patch = serde_json::json!({"spec": {"replicas": 3}});
//! deployments.patch_scale("web", &PatchParams::default(), &Patch::Merge(&patch)).await?;
//!
//! let nodes = Api::<Node>::all(client.clone());
//! for node in nodes.list(&ListParams::default()).await?.items { /* ... */ }
//!
//! match pods.get("missing").await {
//!     Err(err) if err.is_not_found() => {} // err prints: Error from server (NotFound): pods "missing" not found
//!     other => { other?; }
//! }
//! # Ok(()) }
//! ```
//!
//! # Dynamic calls (kinds known at run time)
//!
//! ```no_run
//! # async fn f(client: rudder_client::Client) -> Result<(), rudder_client::Error> {
//! use rudder_client::{Api, DynamicObject, ListParams};
//! let deploys = Api::<DynamicObject>::resolve(client, "deploy", Some("default"))?;
//! for item in deploys.list(&ListParams::default()).await?.items {
//!     println!("{}", item.0["metadata"]["name"]);
//! }
//! # Ok(()) }
//! ```
//!
//! # Watch, watcher and cache
//!
//! ```no_run
//! # async fn f(client: rudder_client::Client) -> Result<(), rudder_client::Error> {
//! use futures::StreamExt;
//! use k8s_openapi::api::core::v1::Pod;
//! use rudder_client::watcher::{Event, WatcherConfig, watcher};
//! use rudder_client::{Api, WatchEvent, WatchParams};
//!
//! let pods = Api::<Pod>::namespaced(client, "default");
//! // One raw watch stream from a resourceVersion; it ends when the server ends it.
//! let mut raw = pods.watch(&WatchParams::default(), "0").await?.boxed();
//! while let Some(event) = raw.next().await {
//!     if let WatchEvent::Added(pod) = event? { /* ... */ }
//! }
//! // The watcher never ends: it resumes dropped streams and relists on 410 Gone.
//! let (mut writer, store) = rudder_client::reflector::store();
//! let mut events = watcher(pods, WatcherConfig::default()).boxed();
//! while let Some(event) = events.next().await {
//!     match event {
//!         Ok(event) => { writer.apply(event); }
//!         Err(err) => tracing::warn!(%err, "watch failed; retrying"),
//!     }
//!     let _pods_now = store.list();
//! }
//! # Ok(()) }
//! ```
//!
//! Informers, work queues and leader election: see [`informer`], [`workqueue`] and
//! [`leader`].
//!
//! # Retries
//!
//! Calls that fail with [`Error::Transient`] (server unreachable, 429, 503, 504) are
//! retried with capped, jittered exponential back-off ([`RetryPolicy`]): reads always,
//! writes only when the request certainly did not reach the server (refused
//! connection, 429). Everything else is returned at once.

#![warn(missing_docs)]

pub mod api;
pub mod backoff;
mod client;
pub mod config;
pub mod error;
pub mod grpc_status;
pub mod informer;
pub mod leader;
pub mod object;
pub mod params;
pub mod reflector;
pub mod watcher;
pub mod workqueue;

pub use api::{Api, DeleteOutcome, ResourceTarget, Scope, WatchEvent};
pub use backoff::{Backoff, BackoffConfig, RetryPolicy};
pub use client::Client;
pub use config::{ClientConfig, KubeconfigOptions};
pub use error::{Error, Result, ServerError, TransientError};
pub use object::{DynamicObject, Object, ObjectKey, ObjectList};
pub use params::{
    DeleteParams, ListParams, LogParams, Patch, PatchParams, PostParams, PropagationPolicy,
    WatchParams,
};
