//! The registry: every verb on every served resource, generic over the resource
//! table, called by both front ends (REST and gRPC) so their behaviour cannot
//! diverge. It authorizes every verb and admits every write through
//! [`SecurityHooks`] before touching the store.
//!
//! Objects are their Kubernetes JSON (`serde_json::Value`) throughout; kind-specific
//! rules live in small tables ([`meta`]) rather than code per kind.

mod deletion;
pub mod list;
pub mod meta;
mod pod_subresources;
pub mod scale;
mod server_side_apply;
mod service_alloc;
pub mod strict;

use std::sync::Arc;

use rudder_api::apply;
use rudder_api::keys;
use rudder_api::resource::ResourceInfo;
use rudder_api::validation::FieldError;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::admission::{Attributes, RequestContext, SecurityHooks, Verb};
use crate::error::{Error, Result};
use crate::storage::{Storage, Swap};
use crate::watch_cache::{
    CacheEvent, CachedObject, EventType, Subscription, WatchCaches, WatchFilter, WatchFrom,
};
use list::{ContinueToken, ListOptions, RawListOptions, ReadAt};
use meta::Stamp;
pub use service_alloc::ServiceRanges;

/// How often a write retries after losing a race it may retry (an unconditional
/// update, a delete, a generated name that collided).
const MAX_RETRIES: usize = 8;

/// How long a write whose resourceVersion the watch cache has not reached yet waits
/// for it before reading the store instead (a client's next write usually comes
/// after the cache has seen its last one).
const CACHE_CATCH_UP: std::time::Duration = std::time::Duration::from_millis(3);

/// Where a write's view of the current object came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Basis {
    /// Read from the store: current when read.
    Store,
    /// The watch cache's copy, which may be behind the store: the compare-and-swap
    /// still checks it, and anything that is not a successful swap reads the store.
    Cache,
}

/// Names one object, as a REST path or a gRPC `ResourceRef` does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRef {
    /// The resource.
    pub resource: &'static ResourceInfo,
    /// The namespace (namespaced resources only).
    pub namespace: Option<String>,
    /// The object's name.
    pub name: String,
    /// `status`, `scale` ... when the request is on a subresource.
    pub subresource: Option<String>,
}

/// Names a collection: a resource, in one namespace or across all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectionRef {
    /// The resource.
    pub resource: &'static ResourceInfo,
    /// One namespace, or None for all namespaces (and for cluster-scoped resources).
    pub namespace: Option<String>,
}

/// The patch formats, by their Content-Type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchKind {
    /// `application/json-patch+json` (RFC 6902).
    Json,
    /// `application/merge-patch+json` (RFC 7386).
    Merge,
    /// `application/strategic-merge-patch+json`.
    Strategic,
    /// `application/apply-patch+yaml`: server-side apply (YAML or JSON).
    Apply,
}

impl PatchKind {
    /// The patch kind of a Content-Type; 415 for others.
    pub fn from_content_type(content_type: &str) -> Result<Self> {
        match content_type.split(';').next().unwrap_or("").trim() {
            "application/json-patch+json" => Ok(PatchKind::Json),
            "application/merge-patch+json" => Ok(PatchKind::Merge),
            "application/strategic-merge-patch+json" => Ok(PatchKind::Strategic),
            "application/apply-patch+yaml" => Ok(PatchKind::Apply),
            other => Err(Error::UnsupportedMediaType(format!(
                "accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json, application/apply-patch+yaml (got {other:?})"
            ))),
        }
    }
}

/// Options of writes (`?dryRun=All`, `?fieldManager=`, `?force=`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteOptions {
    /// `dryRun=All`: run every step but the store write.
    pub dry_run: bool,
    /// The field manager the request names (`?fieldManager=`); required for apply.
    pub field_manager: Option<String>,
    /// `fieldValidation=Strict`: unknown fields are a 400.
    pub strict: bool,
    /// `force=true`: an apply takes over fields other managers own.
    pub force: bool,
    /// The client's User-Agent: without a field manager, writes are recorded for
    /// the part before its first '/' (`kubectl`), as upstream.
    pub user_agent: String,
}

/// Longest field manager name upstream accepts.
const MAX_FIELD_MANAGER: usize = 128;

impl WriteOptions {
    /// Options of the server's own writes (system namespaces, bootstrap RBAC),
    /// recorded for the manager `rudder-apiserver`.
    pub fn internal() -> Self {
        WriteOptions {
            field_manager: Some("rudder-apiserver".into()),
            ..Default::default()
        }
    }

    /// The manager a write is recorded for.
    fn manager(&self) -> String {
        match &self.field_manager {
            Some(m) => m.clone(),
            None => self
                .user_agent
                .split('/')
                .next()
                .unwrap_or("")
                .chars()
                .filter(|c| !c.is_control())
                .take(MAX_FIELD_MANAGER)
                .collect(),
        }
    }

    /// Checks the options as upstream validates `<kind>` (CreateOptions ...):
    /// a field manager of at most 128 characters, `force` for apply only and a
    /// field manager for apply.
    fn validate(&self, kind: &'static str, apply: bool) -> Result<()> {
        let mut errors = Vec::new();
        match &self.field_manager {
            Some(m) if m.chars().count() > MAX_FIELD_MANAGER => {
                errors.push(FieldError::too_long("fieldManager", MAX_FIELD_MANAGER));
            }
            None if apply => {
                errors.push(FieldError::required(
                    "fieldManager",
                    "is required for apply patch",
                ));
            }
            _ => {}
        }
        // Only PatchOptions have `force`; other verbs ignore the parameter.
        if self.force && !apply && kind == "PatchOptions" {
            errors.push(FieldError::forbidden(
                "force",
                "may not be specified for non-apply patch",
            ));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Error::InvalidOptions { kind, errors })
        }
    }
}

/// How a write records field ownership in managedFields.
#[derive(Debug, Clone, Copy)]
enum Ownership<'a> {
    /// An Update entry of the request's manager, for a write to this subresource
    /// (create, update and non-apply patches).
    Update(Option<&'a str>),
    /// The entries an apply computed, as they are.
    Applied,
}

/// A meta/v1 `DeleteOptions` body (the parts the registry acts on).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteOptions {
    /// Only delete if uid/resourceVersion still match.
    #[serde(default)]
    pub preconditions: Option<Preconditions>,
    /// Background (default), Foreground or Orphan.
    #[serde(default)]
    pub propagation_policy: Option<String>,
    /// Seconds a bound pod gets to stop before it is removed (see `deletion`).
    #[serde(default)]
    pub grace_period_seconds: Option<i64>,
    /// `["All"]` for a dry run.
    #[serde(default)]
    pub dry_run: Option<Vec<String>>,
}

/// Delete preconditions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Preconditions {
    /// Required uid.
    #[serde(default)]
    pub uid: Option<String>,
    /// Required resourceVersion.
    #[serde(default)]
    pub resource_version: Option<String>,
}

impl DeleteOptions {
    /// Parses a DeleteOptions body; an empty body means the defaults.
    pub fn from_json(body: &[u8]) -> Result<Self> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(DeleteOptions::default());
        }
        serde_json::from_slice(body)
            .map_err(|e| Error::BadRequest(format!("invalid DeleteOptions: {e}")))
    }

    /// Checks the values the registry acts on (after query parameters are merged in).
    pub fn validate(&self) -> Result<()> {
        if let Some(p) = &self.propagation_policy
            && !matches!(p.as_str(), "Background" | "Foreground" | "Orphan")
        {
            return Err(Error::BadRequest(format!(
                "propagationPolicy: Unsupported value: \"{p}\": supported values: \"Foreground\", \"Background\", \"Orphan\""
            )));
        }
        if let Some(g) = self.grace_period_seconds.filter(|g| *g < 0) {
            return Err(Error::BadRequest(format!(
                "gracePeriodSeconds: Invalid value: {g}: must be greater than or equal to 0"
            )));
        }
        Ok(())
    }

    fn is_dry_run(&self) -> bool {
        self.dry_run
            .as_ref()
            .is_some_and(|d| d.iter().any(|v| v == "All"))
    }
}

/// The registry. Cheap to clone; all clones share the store connection and hooks.
#[derive(Debug, Clone)]
pub struct Registry {
    storage: Storage,
    hooks: SecurityHooks,
    caches: Option<WatchCaches>,
    service_ranges: std::sync::Arc<ServiceRanges>,
}

/// How long a watch or cached list waits for a cache that is still listing.
const CACHE_READY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// A running watch: the events its filter selects, initial ones first, then live
/// ones. Front ends add bookmarks and timeouts around [`Watch::next`].
#[derive(Debug)]
pub struct Watch {
    /// The resource watched (bookmarks name its kind).
    pub resource: &'static ResourceInfo,
    filter: WatchFilter,
    initial: std::collections::VecDeque<std::sync::Arc<CacheEvent>>,
    subscription: Subscription,
    /// The revision of the last event delivered (or the start).
    pub revision: i64,
}

impl Watch {
    /// The next event this watcher sees; `None` when the feed ended (the cache
    /// restarted or this watcher fell too far behind): the client re-watches.
    pub async fn next(&mut self) -> Option<(EventType, std::sync::Arc<CachedObject>)> {
        while let Some(event) = self.initial.pop_front() {
            if let Some(kind) = self.filter.view(&event) {
                self.revision = self.revision.max(event.revision);
                return Some((kind, event.object.clone()));
            }
        }
        loop {
            match self.subscription.live.recv().await {
                Ok(event) => {
                    if event.revision <= self.subscription.revision {
                        continue;
                    }
                    self.revision = event.revision;
                    if let Some(kind) = self.filter.view(&event) {
                        return Some((kind, event.object.clone()));
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    tracing::debug!(missed = n, "watcher fell behind; ending it");
                    return None;
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}

/// The stored objects a list selected, and what its metadata says.
struct StoreList {
    items: Vec<crate::storage::StoredValue>,
    revision: i64,
    /// The continue token of the next page.
    next: Option<String>,
    remaining: Option<i64>,
}

impl StoreList {
    fn metadata(&self) -> Value {
        let mut list_meta = serde_json::Map::new();
        list_meta.insert("resourceVersion".into(), json!(self.revision.to_string()));
        if let Some(token) = &self.next {
            list_meta.insert("continue".into(), json!(token));
        }
        if let Some(n) = self.remaining {
            list_meta.insert("remainingItemCount".into(), json!(n));
        }
        Value::Object(list_meta)
    }
}

/// A stored object as a list item: decoded, without type (as upstream encodes items).
fn list_item(stored: &crate::storage::StoredValue) -> Result<Value> {
    let mut object = meta::decode_from_store(&stored.value, stored.mod_revision)?;
    if let Some(map) = object.as_object_mut() {
        map.remove("kind");
        map.remove("apiVersion");
    }
    Ok(object)
}

fn key_of(r: &ObjectRef) -> Result<String> {
    keys::object_key(r.resource, r.namespace.as_deref(), &r.name).map_err(|e| match e {
        rudder_api::Error::InvalidKey { .. } => Error::NotFound {
            resource: r.resource,
            name: r.name.clone(),
        },
        other => other.into(),
    })
}

fn check_subresource(resource: &'static ResourceInfo, sub: Option<&str>, verb: Verb) -> Result<()> {
    match sub {
        None => Ok(()),
        // binding, eviction and log come with their own handlers, later.
        Some(sub @ ("status" | "scale")) if resource.subresource(sub).is_some() => match verb {
            Verb::Get | Verb::Update | Verb::Patch => Ok(()),
            other => Err(Error::MethodNotAllowed {
                resource,
                verb: other.as_str().to_string(),
            }),
        },
        Some(_) => Err(Error::PathNotFound),
    }
}

/// core/v1 Services, which hold ClusterIPs and NodePorts (`service_alloc`).
fn is_service(r: &ObjectRef) -> bool {
    r.resource.plural == "services" && r.resource.group.is_empty()
}

fn is_scale(r: &ObjectRef) -> bool {
    r.subresource.as_deref() == Some("scale")
}

fn verb_allowed(resource: &'static ResourceInfo, verb: Verb) -> Result<()> {
    if resource.verbs.contains(&verb.as_str()) {
        Ok(())
    } else {
        Err(Error::MethodNotAllowed {
            resource,
            verb: verb.as_str().to_string(),
        })
    }
}

impl Registry {
    /// A registry over `storage` running `hooks`.
    pub fn new(storage: Storage, hooks: SecurityHooks) -> Self {
        Registry {
            storage,
            hooks,
            caches: None,
            service_ranges: std::sync::Arc::new(ServiceRanges::default()),
        }
    }

    /// Services get ClusterIPs and NodePorts from `ranges` (default 10.96.0.0/12,
    /// 30000-32767).
    pub fn with_service_ranges(mut self, ranges: ServiceRanges) -> Self {
        self.service_ranges = std::sync::Arc::new(ranges);
        self
    }

    /// The same registry serving watches and `resourceVersion=0` lists from `caches`.
    pub fn with_watch_caches(mut self, caches: WatchCaches) -> Self {
        self.caches = Some(caches);
        self
    }

    /// Whether every watch cache has listed (always true without caches).
    pub fn caches_ready(&self) -> bool {
        self.caches.as_ref().is_none_or(WatchCaches::ready)
    }

    /// `watch`: changes of the collection's selected objects. Without a
    /// resourceVersion (or with "0") the current objects come first as ADDED; from
    /// `N`, the changes after N, or 410 Expired when N is older than the cache keeps.
    pub async fn watch(
        &self,
        ctx: &RequestContext,
        c: &CollectionRef,
        raw: &RawListOptions,
    ) -> Result<Watch> {
        verb_allowed(c.resource, Verb::Watch)?;
        self.authorize_collection(ctx, Verb::Watch, c)?;
        let options = ListOptions::parse(
            c.resource,
            &RawListOptions {
                limit: String::new(),
                continue_token: String::new(),
                resource_version_match: String::new(),
                ..raw.clone()
            },
        )?;
        let from = match options.read_at {
            ReadAt::Latest | ReadAt::Any => WatchFrom::Now,
            ReadAt::NotOlderThan(rv) | ReadAt::Exact(rv) => WatchFrom::After(rv),
        };
        let cache = self.cache(c.resource).await?;
        let subscription = cache.subscribe(from)?;
        Ok(Watch {
            resource: c.resource,
            filter: self.filter(c, &options),
            initial: subscription.initial.iter().cloned().collect(),
            revision: subscription.revision,
            subscription,
        })
    }

    async fn cache(
        &self,
        resource: &'static ResourceInfo,
    ) -> Result<&std::sync::Arc<crate::watch_cache::WatchCache>> {
        let cache = self
            .caches
            .as_ref()
            .and_then(|c| c.get(resource))
            .ok_or_else(|| Error::MethodNotAllowed {
                resource,
                verb: "watch".into(),
            })?;
        cache.wait_ready(CACHE_READY_TIMEOUT).await?;
        Ok(cache)
    }

    fn filter(&self, c: &CollectionRef, options: &ListOptions) -> WatchFilter {
        WatchFilter {
            resource: c.resource,
            namespace: c.namespace.clone().filter(|_| c.resource.namespaced),
            labels: options.labels.clone(),
            fields: options.fields.clone(),
        }
    }

    /// The store, for the watch cache and health checks.
    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// The authorizer every verb runs (access reviews and impersonation ask it).
    pub fn authorizer(&self) -> &dyn crate::admission::Authorizer {
        self.hooks.authorizer.as_ref()
    }

    /// Authorizes a request for a non-resource path (discovery, `/version` ...).
    pub fn authorize_path(&self, ctx: &RequestContext, verb: &str, path: &str) -> Result<()> {
        self.hooks.authorizer.authorize_path(ctx, verb, path)
    }

    fn authorize(&self, ctx: &RequestContext, verb: Verb, r: &ObjectRef) -> Result<()> {
        self.hooks.authorizer.authorize(
            ctx,
            &Attributes {
                verb,
                resource: r.resource,
                subresource: r.subresource.as_deref(),
                namespace: r.namespace.as_deref(),
                name: &r.name,
            },
        )
    }

    fn authorize_collection(
        &self,
        ctx: &RequestContext,
        verb: Verb,
        c: &CollectionRef,
    ) -> Result<()> {
        self.hooks.authorizer.authorize(
            ctx,
            &Attributes {
                verb,
                resource: c.resource,
                subresource: None,
                namespace: c.namespace.as_deref(),
                name: "",
            },
        )
    }

    async fn admit(
        &self,
        ctx: &RequestContext,
        verb: Verb,
        r: &ObjectRef,
        object: Option<&mut Value>,
        old: Option<&Value>,
    ) -> Result<()> {
        let attrs = Attributes {
            verb,
            resource: r.resource,
            subresource: r.subresource.as_deref(),
            namespace: r.namespace.as_deref(),
            name: &r.name,
        };
        self.hooks.admission.admit(ctx, &attrs, object, old).await
    }

    /// Reads the stored object, or 404.
    async fn read(&self, r: &ObjectRef) -> Result<(Value, i64)> {
        let key = key_of(r)?;
        match self.storage.get(key.as_bytes()).await? {
            Some(stored) => Ok((
                meta::decode_from_store(&stored.value, stored.mod_revision)?,
                stored.mod_revision,
            )),
            None => Err(Error::NotFound {
                resource: r.resource,
                name: r.name.clone(),
            }),
        }
    }

    /// The current object for a write, and where it came from: on a first attempt
    /// the watch cache's copy when it can stand in for the store's (at `expected`,
    /// the revision the client's precondition names, when there is one), as
    /// kube-apiserver's GuaranteedUpdate starts from its cached object; else the store's.
    async fn read_for_write(
        &self,
        r: &ObjectRef,
        expected: Option<i64>,
        first: bool,
        options: &WriteOptions,
    ) -> Result<((Arc<Value>, i64), Basis)> {
        if first
            && !options.dry_run
            && let Some(current) = self.cached_current(r, expected).await
        {
            return Ok((current, Basis::Cache));
        }
        let (object, revision) = self.read(r).await?;
        Ok(((Arc::new(object), revision), Basis::Store))
    }

    /// The cache's shared copy, not a clone: a write only reads the current object.
    async fn cached_current(
        &self,
        r: &ObjectRef,
        expected: Option<i64>,
    ) -> Option<(Arc<Value>, i64)> {
        let cache = self.caches.as_ref()?.get(r.resource)?;
        let key = key_of(r).ok()?;
        let object = match expected {
            Some(revision) => cache.get_once_at(&key, revision, CACHE_CATCH_UP).await?,
            None => cache.get(&key)?,
        };
        let revision =
            meta::parse_resource_version(meta::meta_str(&object, "resourceVersion")).ok()?;
        if expected.is_some_and(|e| e != revision) {
            return None;
        }
        Some((object, revision))
    }

    /// `get`: one object (or its status subresource, which is the whole object).
    pub async fn get(&self, ctx: &RequestContext, r: &ObjectRef) -> Result<Value> {
        verb_allowed(r.resource, Verb::Get)?;
        check_subresource(r.resource, r.subresource.as_deref(), Verb::Get)?;
        self.authorize(ctx, Verb::Get, r)?;
        let object = self.read(r).await?.0;
        if is_scale(r) {
            return Ok(scale::to_scale(&object));
        }
        Ok(object)
    }

    /// A list as JSON bytes (what REST answers without a Table): from the watch
    /// cache, spliced from each object's cached JSON; from the store, spliced from
    /// the stored bytes (their revision set as resourceVersion). Neither decodes
    /// objects into `Value`s only to encode them again (a 10,000-pod list is 12 MB).
    pub async fn list_json(
        &self,
        ctx: &RequestContext,
        c: &CollectionRef,
        options: &ListOptions,
    ) -> Result<list::ListJson> {
        verb_allowed(c.resource, Verb::List)?;
        self.authorize_collection(ctx, Verb::List, c)?;
        if let Some(list) = self.cached_list(c, options).await? {
            return Ok(list::ListJson::Cached(list.into_body()));
        }
        let read = self.read_list(c, options).await?;
        let items_len = read.items.iter().map(|s| s.value.len() + 32).sum();
        let mut failed = None;
        let bytes = list::list_json(c.resource, &read.metadata(), items_len, |out| {
            for (n, stored) in read.items.iter().enumerate() {
                if n > 0 {
                    out.push(b',');
                }
                if list::splice_stored_item(out, &stored.value, stored.mod_revision) {
                    continue;
                }
                match list_item(stored) {
                    Ok(item) => {
                        // A Value always encodes.
                        let _ = serde_json::to_writer(&mut *out, &item);
                    }
                    Err(e) => {
                        failed.get_or_insert(e);
                    }
                }
            }
        });
        match failed {
            Some(e) => Err(e),
            None => Ok(list::ListJson::Whole(bytes)),
        }
    }

    /// resourceVersion=0 with no continue token: any recent state will do, and the
    /// cache has one.
    async fn cached_list(
        &self,
        c: &CollectionRef,
        options: &ListOptions,
    ) -> Result<Option<list::CachedList>> {
        if options.read_at != ReadAt::Any
            || options.continue_from.is_some()
            || self.caches.is_none()
        {
            return Ok(None);
        }
        let cache = self.cache(c.resource).await?;
        let (items, revision) = cache.snapshot(&self.filter(c, options));
        Ok(Some(list::CachedList {
            resource: c.resource,
            revision,
            items,
        }))
    }

    /// `list`: a `<Kind>List` of the collection's objects matching the selectors,
    /// paginated by `limit`/`continue` at one consistent revision.
    pub async fn list(
        &self,
        ctx: &RequestContext,
        c: &CollectionRef,
        options: &ListOptions,
    ) -> Result<Value> {
        verb_allowed(c.resource, Verb::List)?;
        self.authorize_collection(ctx, Verb::List, c)?;
        if let Some(list) = self.cached_list(c, options).await? {
            return serde_json::to_value(&list)
                .map_err(|e| Error::Internal(format!("encoding a list: {e}")));
        }
        let read = self.read_list(c, options).await?;
        let items = read
            .items
            .iter()
            .map(list_item)
            .collect::<Result<Vec<_>>>()?;
        Ok(json!({
            "kind": format!("{}List", c.resource.kind),
            "apiVersion": c.resource.api_version(),
            "metadata": read.metadata(),
            "items": items,
        }))
    }

    /// The stored objects of a list from the store (quorum or at a revision), one
    /// page of `limit` when asked, and the list's metadata.
    async fn read_list(&self, c: &CollectionRef, options: &ListOptions) -> Result<StoreList> {
        let prefix = keys::list_prefix(c.resource, c.namespace.as_deref())?;
        // The token's start is relative to the resource root, so that a token from an
        // all-namespaces list cannot read another resource.
        let root = keys::list_prefix(c.resource, None)?;
        let end = keys::prefix_range_end(prefix.as_bytes());
        let (mut start, mut revision) = match &options.continue_from {
            Some(token) => {
                let start = format!("{root}{}", token.start).into_bytes();
                if !start.starts_with(prefix.as_bytes()) {
                    return Err(Error::BadRequest(
                        "continue key is not valid: encoded start key is not valid".into(),
                    ));
                }
                (start, token.rv)
            }
            None => (prefix.clone().into_bytes(), 0),
        };
        match options.read_at {
            ReadAt::Latest | ReadAt::Any => {}
            ReadAt::Exact(rv) => revision = rv,
            ReadAt::NotOlderThan(rv) => {
                let current = self.storage.current_revision().await?;
                if rv > current {
                    return Err(Error::Timeout(format!(
                        "Too large resource version: {rv}, current: {current}"
                    )));
                }
            }
        }
        let page_size = if options.limit > 0 {
            // Fetch a little more than asked when filtering, to need fewer round trips.
            if options.filters() {
                options.limit.max(50)
            } else {
                options.limit
            }
        } else {
            0
        };
        let mut items = Vec::new();
        let mut next: Option<String> = None;
        let mut remaining: Option<i64> = None;
        loop {
            let page = match self.storage.range(&start, &end, page_size, revision).await {
                Err(Error::Expired(_)) if options.continue_from.is_some() => {
                    return Err(Error::Expired(
                        "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.".into(),
                    ));
                }
                Err(Error::Expired(_)) => {
                    return Err(Error::Expired(format!(
                        "too old resource version: {revision}"
                    )));
                }
                other => other?,
            };
            if revision == 0 {
                revision = page.revision;
            }
            let fetched = page.items.len();
            let mut consumed = 0usize;
            let mut full = false;
            for stored in page.items {
                consumed += 1;
                // Every object must decode (a corrupt one fails the list, as before);
                // only selectors need the decoded value.
                let selected = if options.filters() {
                    let object = meta::decode_from_store(&stored.value, stored.mod_revision)?;
                    options.labels.matches_object(&object)
                        && options.fields.matches_object(c.resource, &object)
                } else {
                    serde_json::from_slice::<serde::de::IgnoredAny>(&stored.value)
                        .map_err(|e| Error::Internal(format!("decoding stored object: {e}")))?;
                    true
                };
                let last_key = stored.key.clone();
                if selected {
                    items.push(stored);
                }
                if options.limit > 0 && items.len() as i64 >= options.limit {
                    full = true;
                    let more_here = consumed < fetched;
                    if more_here || page.more {
                        let relative =
                            String::from_utf8_lossy(&last_key[root.len().min(last_key.len())..])
                                .into_owned();
                        next = Some(ContinueToken::after(revision, &relative).encode());
                        if !options.filters() {
                            remaining = Some(page.count - consumed as i64);
                        }
                    }
                    break;
                }
                start = last_key;
                start.push(0);
            }
            if full || !page.more || fetched == 0 {
                break;
            }
        }
        Ok(StoreList {
            items,
            revision,
            next,
            remaining: remaining.filter(|n| *n > 0),
        })
    }

    /// `create`: stores a new object with server-set metadata; 409 AlreadyExists when
    /// the name is taken (a generated name is retried with a new suffix).
    pub async fn create(
        &self,
        ctx: &RequestContext,
        c: &CollectionRef,
        body: Value,
        options: &WriteOptions,
    ) -> Result<Value> {
        verb_allowed(c.resource, Verb::Create)?;
        self.authorize_collection(ctx, Verb::Create, c)?;
        options.validate("CreateOptions", false)?;
        if options.strict {
            strict::check(c.resource, &body)?;
        }
        self.insert(ctx, c, body, options, Ownership::Update(None))
            .await
    }

    /// Stores a new object (once authorized), retrying a generated name that
    /// collided.
    async fn insert(
        &self,
        ctx: &RequestContext,
        c: &CollectionRef,
        body: Value,
        options: &WriteOptions,
        ownership: Ownership<'_>,
    ) -> Result<Value> {
        let generated = meta::meta_str(&body, "name").is_empty()
            && !meta::meta_str(&body, "generateName").is_empty();
        for _ in 0..MAX_RETRIES {
            let mut object = meta::prepare_create(
                c.resource,
                c.namespace.as_deref(),
                body.clone(),
                &Stamp::fresh()?,
            )?;
            if let Ownership::Update(subresource) = ownership {
                record_update(&mut object, None, c.resource, subresource, options)?;
            }
            let r = ObjectRef {
                resource: c.resource,
                namespace: c.namespace.clone().filter(|_| c.resource.namespaced),
                name: meta::meta_str(&object, "name").to_string(),
                subresource: None,
            };
            self.admit(ctx, Verb::Create, &r, Some(&mut object), None)
                .await?;
            let key = key_of(&r)?;
            if options.dry_run {
                return Ok(object);
            }
            let taken = if is_service(&r) {
                self.allocate_service(&mut object, None).await?
            } else {
                Vec::new()
            };
            let outcome = self
                .storage
                .swap(key.as_bytes(), meta::encode_for_store(&object)?, 0)
                .await;
            if !matches!(outcome, Ok(Swap::Done(_))) {
                self.release_keys(&taken).await;
            }
            match outcome? {
                Swap::Done(revision) => {
                    meta::set_resource_version(&mut object, revision);
                    tracing::debug!(resource = c.resource.plural, name = %r.name, revision, "created");
                    return Ok(object);
                }
                Swap::Mismatch(_) if generated => continue,
                Swap::Mismatch(_) => {
                    return Err(Error::AlreadyExists {
                        resource: c.resource,
                        name: r.name,
                    });
                }
            }
        }
        Err(Error::Timeout(format!(
            "could not find a free name for generateName \"{}\"",
            meta::meta_str(&body, "generateName")
        )))
    }

    /// `update` (PUT) of the object or its status subresource, compare-and-swap on
    /// the body's resourceVersion (409 Conflict when stale); without one the update
    /// is unconditional and retried on races.
    pub async fn update(
        &self,
        ctx: &RequestContext,
        r: &ObjectRef,
        body: Value,
        options: &WriteOptions,
    ) -> Result<Value> {
        verb_allowed(r.resource, Verb::Update)?;
        check_subresource(r.resource, r.subresource.as_deref(), Verb::Update)?;
        self.authorize(ctx, Verb::Update, r)?;
        options.validate("UpdateOptions", false)?;
        if is_scale(r) {
            // A Scale body: the same compare-and-swap, on the object's spec.replicas.
            return self
                .patch_with(ctx, r, options, |_, _| Ok(body.clone()))
                .await;
        }
        let precondition = match meta::meta_str(&body, "resourceVersion") {
            "" => None,
            rv => Some(meta::parse_resource_version(rv)?),
        };
        let key = key_of(r)?;
        for attempt in 0..MAX_RETRIES {
            let ((old, current), basis) = self
                .read_for_write(r, precondition, attempt == 0, options)
                .await?;
            if precondition.is_some_and(|rv| rv != current) {
                return Err(self.conflict(r));
            }
            match self
                .write_update(
                    ctx,
                    r,
                    &key,
                    body.clone(),
                    ((old, current), basis),
                    options,
                    Ownership::Update(r.subresource.as_deref()),
                )
                .await?
            {
                Some(done) => return Ok(done),
                None if precondition.is_some() && basis == Basis::Store => {
                    return Err(self.conflict(r));
                }
                None => continue,
            }
        }
        Err(self.conflict(r))
    }

    /// `patch`: applies a JSON, merge or strategic merge patch to the stored object
    /// (or its status) and stores the result compare-and-swap, retrying on races;
    /// or a server-side apply (see `server_side_apply`). A `resourceVersion` the
    /// patch sets is a precondition, as upstream.
    pub async fn patch(
        &self,
        ctx: &RequestContext,
        r: &ObjectRef,
        patch_type: PatchKind,
        patch: &[u8],
        options: &WriteOptions,
    ) -> Result<Value> {
        self.patch_or_create(ctx, r, patch_type, patch, options)
            .await
            .map(|(object, _)| object)
    }

    /// [`Registry::patch`], also saying whether the patch created the object (a
    /// server-side apply to a missing object does: REST answers 201 then).
    pub async fn patch_or_create(
        &self,
        ctx: &RequestContext,
        r: &ObjectRef,
        patch_type: PatchKind,
        patch: &[u8],
        options: &WriteOptions,
    ) -> Result<(Value, bool)> {
        verb_allowed(r.resource, Verb::Patch)?;
        check_subresource(r.resource, r.subresource.as_deref(), Verb::Patch)?;
        self.authorize(ctx, Verb::Patch, r)?;
        options.validate("PatchOptions", patch_type == PatchKind::Apply)?;
        if patch_type == PatchKind::Apply {
            return self.apply(ctx, r, patch, options).await;
        }
        let patch: Value = serde_json::from_slice(patch)
            .map_err(|e| Error::BadRequest(format!("error decoding patch: {e}")))?;
        // Unknown fields of a patch are reported on the patch, not as an update's.
        let strict = options.strict && r.subresource.is_none();
        let options = WriteOptions {
            strict: false,
            ..options.clone()
        };
        self.patch_with(ctx, r, &options, |base, resource| {
            let patched = apply_patch(r, patch_type, base, resource, &patch)?;
            if strict {
                let strategic = (patch_type == PatchKind::Strategic).then_some(&patch);
                strict::check_patched(resource, &patched, strategic)?;
            }
            Ok(patched)
        })
        .await
        .map(|object| (object, false))
    }

    /// Read, change with `change` (given the stored object, or its Scale for the
    /// scale subresource), compare-and-swap; retried on races. A resourceVersion
    /// the change sets is a precondition.
    async fn patch_with<F>(
        &self,
        ctx: &RequestContext,
        r: &ObjectRef,
        options: &WriteOptions,
        change: F,
    ) -> Result<Value>
    where
        F: Fn(&Value, &'static ResourceInfo) -> Result<Value>,
    {
        let key = key_of(r)?;
        let main = ObjectRef {
            subresource: None,
            ..r.clone()
        };
        let target = if is_scale(r) { &main } else { r };
        for attempt in 0..MAX_RETRIES {
            let ((old, current), basis) =
                self.read_for_write(r, None, attempt == 0, options).await?;
            let scale_base;
            let base = if is_scale(r) {
                scale_base = scale::to_scale(&old);
                &scale_base
            } else {
                &*old
            };
            let mut patched = change(base, r.resource)?;
            if !patched.is_object() {
                return Err(Error::BadRequest(
                    "the patched object is not a JSON object".into(),
                ));
            }
            if is_scale(r) {
                patched = scale::apply_scale(r.resource, &old, &patched)?;
            }
            match meta::meta_str(&patched, "resourceVersion") {
                rv if rv.is_empty() || rv == current.to_string() => {}
                // The cache's copy may be behind: only the store's refutes a precondition.
                _ if basis == Basis::Cache => continue,
                rv => {
                    meta::parse_resource_version(rv)?;
                    return Err(self.conflict(r));
                }
            }
            if let Some(done) = self
                .write_update(
                    ctx,
                    target,
                    &key,
                    patched,
                    ((old, current), basis),
                    options,
                    Ownership::Update(r.subresource.as_deref()),
                )
                .await?
            {
                return Ok(if is_scale(r) {
                    scale::to_scale(&done)
                } else {
                    done
                });
            }
        }
        Err(self.conflict(r))
    }

    /// One compare-and-swap attempt of an update of `old` (at `current`, read from
    /// `basis`) to `body`. `None`: the object changed meanwhile, or the cache's copy
    /// could not be vouched for; the caller may retry on the store's.
    #[allow(clippy::too_many_arguments)]
    async fn write_update(
        &self,
        ctx: &RequestContext,
        r: &ObjectRef,
        key: &str,
        body: Value,
        ((old, current), basis): ((Arc<Value>, i64), Basis),
        options: &WriteOptions,
        ownership: Ownership<'_>,
    ) -> Result<Option<Value>> {
        if options.strict && r.subresource.is_none() {
            strict::check(r.resource, &body)?;
        }
        let service = is_service(r) && r.subresource.is_none();
        let mut body = body;
        // A status write keeps the stored metadata: an apply's entries go back after.
        let applied_fields = matches!(ownership, Ownership::Applied)
            .then(|| body.pointer("/metadata/managedFields").cloned());
        if service {
            // Before validation, which holds the ClusterIP immutable.
            service_alloc::keep_allocated(&mut body, &old);
        }
        let mut object = meta::prepare_update(
            r.resource,
            r.subresource.as_deref(),
            &r.name,
            r.namespace.as_deref(),
            body,
            &old,
        )?;
        match (ownership, applied_fields) {
            (Ownership::Update(subresource), _) => {
                record_update(&mut object, Some(&old), r.resource, subresource, options)?;
            }
            (Ownership::Applied, Some(fields)) => set_managed_fields(&mut object, fields)?,
            (Ownership::Applied, None) => {}
        }
        if meta::same_content(&object, &old) {
            // Nothing to write: answer with the stored object, so it must be the store's.
            return Ok((basis == Basis::Store).then(|| Arc::unwrap_or_clone(old)));
        }
        self.admit(ctx, Verb::Update, r, Some(&mut object), Some(&old))
            .await?;
        if options.dry_run {
            meta::set_resource_version(&mut object, current);
            return Ok(Some(object));
        }
        let finished = deletion::finished(&object);
        let taken = if service && !finished {
            self.allocate_service(&mut object, Some(&old)).await?
        } else {
            Vec::new()
        };
        let outcome = if finished {
            // The last finalizer is gone from an object being deleted: remove it.
            self.storage.delete(key.as_bytes(), current).await
        } else {
            self.storage
                .swap(key.as_bytes(), meta::encode_for_store(&object)?, current)
                .await
        };
        if !matches!(outcome, Ok(Swap::Done(_))) {
            self.release_keys(&taken).await;
        }
        match outcome? {
            Swap::Done(revision) => {
                if is_service(r) {
                    self.release_service(&old, (!finished).then_some(&object))
                        .await;
                }
                meta::set_resource_version(&mut object, revision);
                Ok(Some(object))
            }
            Swap::Mismatch(None) => Err(Error::NotFound {
                resource: r.resource,
                name: r.name.clone(),
            }),
            Swap::Mismatch(Some(_)) => Ok(None),
        }
    }

    fn conflict(&self, r: &ObjectRef) -> Error {
        Error::Conflict {
            resource: r.resource,
            name: r.name.clone(),
            why: rudder_api::status::OPTIMISTIC_LOCK_MESSAGE.to_string(),
        }
    }

    /// `delete`: removes the object and answers with it, or marks it for deletion
    /// (finalizers, propagation policy, a bound pod's grace period: see `deletion`)
    /// and answers with the marked object.
    pub async fn delete(
        &self,
        ctx: &RequestContext,
        r: &ObjectRef,
        options: &DeleteOptions,
    ) -> Result<Value> {
        verb_allowed(r.resource, Verb::Delete)?;
        check_subresource(r.resource, r.subresource.as_deref(), Verb::Delete)?;
        self.authorize(ctx, Verb::Delete, r)?;
        self.remove_admitted(ctx, r, options).await
    }

    /// The delete itself, once authorized (also what an eviction does): admission,
    /// preconditions, finalizers, compare-and-swap.
    async fn remove_admitted(
        &self,
        ctx: &RequestContext,
        r: &ObjectRef,
        options: &DeleteOptions,
    ) -> Result<Value> {
        let key = key_of(r)?;
        for _ in 0..MAX_RETRIES {
            let (old, current) = self.read(r).await?;
            check_preconditions(r, &old, current, options.preconditions.as_ref())?;
            self.admit(ctx, Verb::Delete, r, None, Some(&old)).await?;
            if options.is_dry_run() {
                return Ok(old);
            }
            match deletion::plan(r.resource, &old, options, meta::unix_now())? {
                deletion::Plan::Remove => {}
                deletion::Plan::Unchanged => return Ok(old),
                deletion::Plan::Mark(mut marked) => {
                    match self
                        .storage
                        .swap(key.as_bytes(), meta::encode_for_store(&marked)?, current)
                        .await?
                    {
                        Swap::Done(revision) => {
                            meta::set_resource_version(&mut marked, revision);
                            return Ok(marked);
                        }
                        Swap::Mismatch(_) => continue,
                    }
                }
            }
            match self.storage.delete(key.as_bytes(), current).await? {
                Swap::Done(_) => {
                    if is_service(r) {
                        self.release_service(&old, None).await;
                    }
                    return Ok(old);
                }
                Swap::Mismatch(None) => {
                    return Err(Error::NotFound {
                        resource: r.resource,
                        name: r.name.clone(),
                    });
                }
                Swap::Mismatch(Some(_)) => continue,
            }
        }
        Err(self.conflict(r))
    }

    /// `deletecollection`: deletes every object the selectors match and answers with
    /// the list of what was deleted.
    pub async fn delete_collection(
        &self,
        ctx: &RequestContext,
        c: &CollectionRef,
        list_options: &ListOptions,
        options: &DeleteOptions,
    ) -> Result<Value> {
        verb_allowed(c.resource, Verb::DeleteCollection)?;
        self.authorize_collection(ctx, Verb::DeleteCollection, c)?;
        let listed = self.list(ctx, c, list_options).await?;
        let mut deleted = Vec::new();
        for item in listed["items"].as_array().into_iter().flatten() {
            let r = ObjectRef {
                resource: c.resource,
                namespace: Some(meta::meta_str(item, "namespace").to_string())
                    .filter(|ns| !ns.is_empty()),
                name: meta::meta_str(item, "name").to_string(),
                subresource: None,
            };
            match self.delete(ctx, &r, options).await {
                Ok(mut object) => {
                    if let Some(map) = object.as_object_mut() {
                        map.remove("kind");
                        map.remove("apiVersion");
                    }
                    deleted.push(object);
                }
                // Someone else deleted it meanwhile: that is what was asked.
                Err(Error::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(json!({
            "kind": format!("{}List", c.resource.kind),
            "apiVersion": c.resource.api_version(),
            "metadata": {"resourceVersion": listed["metadata"]["resourceVersion"]},
            "items": deleted,
        }))
    }
}

fn check_preconditions(
    r: &ObjectRef,
    old: &Value,
    current: i64,
    preconditions: Option<&Preconditions>,
) -> Result<()> {
    let Some(p) = preconditions else {
        return Ok(());
    };
    let conflict = |why: String| Error::Conflict {
        resource: r.resource,
        name: r.name.clone(),
        why,
    };
    if let Some(uid) = p.uid.as_deref() {
        let have = meta::meta_str(old, "uid");
        if uid != have {
            return Err(conflict(format!(
                "Precondition failed: UID in precondition: {uid}, UID in object meta: {have}"
            )));
        }
    }
    if let Some(rv) = p.resource_version.as_deref()
        && rv != current.to_string()
    {
        return Err(conflict(format!(
            "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {current}"
        )));
    }
    Ok(())
}

/// Where an object records who owns which of its fields.
fn set_managed_fields(object: &mut Value, fields: Option<Value>) -> Result<()> {
    let meta = meta::metadata_mut(object)?;
    match fields {
        Some(list) => meta.insert("managedFields".into(), list),
        None => meta.remove("managedFields"),
    };
    Ok(())
}

/// Which fields a write to `subresource` may own.
fn ownership_scope(resource: &ResourceInfo, subresource: Option<&str>) -> apply::Scope {
    apply::Scope::new(resource.subresource("status").is_some(), subresource)
}

/// The wire error of a failed record or apply.
fn apply_error(resource: &'static ResourceInfo, object: &Value, error: apply::Error) -> Error {
    match error {
        apply::Error::Invalid(errors) => Error::Invalid {
            resource,
            name: meta::meta_str(object, "name").to_string(),
            errors,
        },
        apply::Error::BadRequest(message) => Error::BadRequest(message),
        apply::Error::Conflicts(conflicts) => Error::ApplyConflict(conflicts),
    }
}

/// Records a create, update or non-apply patch of `object` (from `old`) in its
/// managedFields, as an Update by the request's manager.
fn record_update(
    object: &mut Value,
    old: Option<&Value>,
    resource: &'static ResourceInfo,
    subresource: Option<&str>,
    options: &WriteOptions,
) -> Result<()> {
    let manager = options.manager();
    let api_version = resource.api_version();
    let now = meta::now_rfc3339();
    let writer = apply::Writer {
        manager: &manager,
        subresource: subresource.unwrap_or(""),
        api_version: &api_version,
        now: &now,
    };
    apply::record_update(
        rudder_api::patch::PatchType::for_resource(resource),
        object,
        old,
        &writer,
        ownership_scope(resource, subresource),
    )
    .map_err(|e| apply_error(resource, object, e))
}

/// `patch` applied to `base` as `patch_type` says.
fn apply_patch(
    r: &ObjectRef,
    patch_type: PatchKind,
    base: &Value,
    resource: &'static ResourceInfo,
    patch: &Value,
) -> Result<Value> {
    match patch_type {
        PatchKind::Json => Ok(rudder_api::patch::apply_json_patch(base, patch)?),
        PatchKind::Merge => {
            if !patch.is_object() {
                return Err(Error::BadRequest(
                    "a merge patch must be a JSON object".into(),
                ));
            }
            Ok(rudder_api::patch::apply_merge_patch(base, patch))
        }
        PatchKind::Strategic => Ok(rudder_api::patch::apply_strategic_merge_patch(
            base,
            patch,
            if is_scale(r) {
                rudder_api::patch::PatchType::OtherKind
            } else {
                rudder_api::patch::PatchType::for_resource(resource)
            },
        )?),
        PatchKind::Apply => Err(Error::Internal(
            "an apply patch goes through Registry::apply".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delete_options_parse_and_refuse_bad_policies() {
        assert_eq!(
            DeleteOptions::from_json(b"").unwrap(),
            DeleteOptions::default()
        );
        let o = DeleteOptions::from_json(
            br#"{"kind":"DeleteOptions","apiVersion":"v1","propagationPolicy":"Background","dryRun":["All"],"preconditions":{"uid":"u"}}"#,
        )
        .unwrap();
        assert!(o.is_dry_run());
        assert_eq!(o.preconditions.as_ref().unwrap().uid.as_deref(), Some("u"));
        assert!(o.validate().is_ok());
        for bad in [
            &br#"{"propagationPolicy":"Sometimes"}"#[..],
            br#"{"gracePeriodSeconds":-1}"#,
        ] {
            let parsed = DeleteOptions::from_json(bad).unwrap();
            assert_eq!(parsed.validate().unwrap_err().code(), 400);
        }
        assert_eq!(DeleteOptions::from_json(b"{").unwrap_err().code(), 400);
    }

    #[test]
    fn subresources_and_verbs_are_checked() {
        let pods = rudder_api::resource::resolve("pods").unwrap();
        let cms = rudder_api::resource::resolve("cm").unwrap();
        let ns = rudder_api::resource::resolve("ns").unwrap();
        assert!(check_subresource(pods, Some("status"), Verb::Update).is_ok());
        assert_eq!(
            check_subresource(cms, Some("status"), Verb::Get)
                .unwrap_err()
                .code(),
            404
        );
        assert_eq!(
            check_subresource(pods, Some("status"), Verb::Delete)
                .unwrap_err()
                .code(),
            405
        );
        assert_eq!(
            verb_allowed(ns, Verb::DeleteCollection).unwrap_err().code(),
            405
        );
    }
}
