//! [`Api<K>`]: the verbs on one resource, typed (`Api<Pod>`) or dynamic
//! (`Api<DynamicObject>` for a kind resolved at run time).

use std::marker::PhantomData;

use futures::{Stream, StreamExt};
use k8s_openapi::api::autoscaling::v1::Scale;
use k8s_openapi::api::core::v1::Binding;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;
use k8s_openapi::{ClusterResourceScope, NamespaceResourceScope};
use rudder_api::resource::ResourceInfo;
use rudder_proto::api::v1 as proto;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::client::Client;
use crate::error::{Error, Result};
use crate::object::{DynamicObject, Object, ObjectList};
use crate::params::{DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchParams};

/// Whether a k8s-openapi scope type is namespaced; lets [`Api::all`] know whether a
/// name alone identifies an object.
pub trait Scope {
    /// True for namespaced kinds.
    const NAMESPACED: bool;
}

impl Scope for NamespaceResourceScope {
    const NAMESPACED: bool = true;
}

impl Scope for ClusterResourceScope {
    const NAMESPACED: bool = false;
}

/// Which resource an [`Api`] talks to: the proto `ResourceRef` without name and
/// subresource. Typed APIs take it from k8s-openapi's `Resource` trait
/// (GROUP, VERSION, URL_PATH_SEGMENT), dynamic ones from `rudder_api::resource`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceTarget {
    /// API group, empty for core.
    pub group: String,
    /// API version (`v1`).
    pub version: String,
    /// Plural resource name (`pods`).
    pub plural: String,
    /// The kind (`Pod`), for messages.
    pub kind: String,
    /// Whether objects of the resource live in namespaces.
    pub namespaced: bool,
    /// The namespace of every call; None for cluster-scoped kinds and for a namespaced
    /// kind across all namespaces.
    pub namespace: Option<String>,
}

impl ResourceTarget {
    /// The target of a k8s-openapi type.
    pub fn of<K>(namespace: Option<&str>) -> Self
    where
        K: k8s_openapi::Resource,
        K::Scope: Scope,
    {
        ResourceTarget {
            group: K::GROUP.to_string(),
            version: K::VERSION.to_string(),
            plural: K::URL_PATH_SEGMENT.to_string(),
            kind: K::KIND.to_string(),
            namespaced: <K::Scope as Scope>::NAMESPACED,
            namespace: namespace.map(str::to_string),
        }
    }

    /// The target of a row of the resource table.
    pub fn from_info(info: &ResourceInfo, namespace: Option<&str>) -> Self {
        ResourceTarget {
            group: info.group.to_string(),
            version: info.version.to_string(),
            plural: info.plural.to_string(),
            kind: info.kind.to_string(),
            namespaced: info.namespaced,
            namespace: if info.namespaced {
                namespace.map(str::to_string)
            } else {
                None
            },
        }
    }

    /// The proto `ResourceRef` for `name` (empty for collection verbs) and `subresource`.
    pub fn resource_ref(
        &self,
        namespace: Option<&str>,
        name: &str,
        subresource: &str,
    ) -> proto::ResourceRef {
        proto::ResourceRef {
            group: self.group.clone(),
            version: self.version.clone(),
            resource: self.plural.clone(),
            namespace: namespace.unwrap_or_default().to_string(),
            name: name.to_string(),
            subresource: subresource.to_string(),
        }
    }
}

/// A watch event of [`Api::watch`].
#[derive(Debug, Clone, PartialEq)]
pub enum WatchEvent<K> {
    /// An object appeared (or existed when a watch without resourceVersion began).
    Added(K),
    /// An object changed.
    Modified(K),
    /// An object was deleted; this is its last state.
    Deleted(K),
    /// Nothing changed, but the stream is now at this resourceVersion.
    Bookmark {
        /// The resourceVersion to resume from.
        resource_version: String,
    },
    /// The server ended the watch with this Status (410 `Expired`: relist).
    Error(Box<Status>),
}

/// What a delete answers.
#[derive(Debug, Clone, PartialEq)]
pub enum DeleteOutcome<K> {
    /// The object as deleted, or still terminating (deletionTimestamp set, finalizers
    /// pending).
    Object(K),
    /// A `Success` Status instead of the object.
    Status(Box<Status>),
}

/// The verbs on one resource in one namespace (or cluster-wide).
///
/// `K` is a k8s-openapi type (`Api::<Pod>::namespaced(client, "default")`) or
/// [`DynamicObject`] (`Api::dynamic(client, info, Some("default"))`).
#[derive(Debug, Clone)]
pub struct Api<K> {
    client: Client,
    target: ResourceTarget,
    _kind: PhantomData<fn() -> K>,
}

impl<K> Api<K>
where
    K: k8s_openapi::Resource + Object,
    K::Scope: Scope,
{
    /// Cluster-scoped objects, or a namespaced kind across all namespaces (list and
    /// watch; create takes the namespace from the object).
    pub fn all(client: Client) -> Self {
        Api {
            client,
            target: ResourceTarget::of::<K>(None),
            _kind: PhantomData,
        }
    }
}

impl<K> Api<K>
where
    K: k8s_openapi::Resource<Scope = NamespaceResourceScope> + Object,
{
    /// Objects of a namespaced kind in `namespace`.
    pub fn namespaced(client: Client, namespace: &str) -> Self {
        Api {
            client,
            target: ResourceTarget::of::<K>(Some(namespace)),
            _kind: PhantomData,
        }
    }

    /// Objects in the client's default namespace (the kubeconfig context's).
    pub fn default_namespaced(client: Client) -> Self {
        let namespace = client.default_namespace().to_string();
        Self::namespaced(client, &namespace)
    }
}

impl Api<DynamicObject> {
    /// Objects of a kind known at run time; `namespace` None means cluster-wide (and
    /// is ignored for cluster-scoped kinds).
    pub fn dynamic(client: Client, info: &ResourceInfo, namespace: Option<&str>) -> Self {
        Api {
            client,
            target: ResourceTarget::from_info(info, namespace),
            _kind: PhantomData,
        }
    }

    /// Resolves a name as kubectl does (`po`, `deploy`, `deployments.apps`, `Pod`) in
    /// the resource table, then as [`Api::dynamic`].
    pub fn resolve(client: Client, name: &str, namespace: Option<&str>) -> Result<Self> {
        let info = rudder_api::resource::resolve(name).map_err(|_| {
            Error::InvalidRequest(format!(
                "the server doesn't have a resource type \"{name}\""
            ))
        })?;
        Ok(Self::dynamic(client, info, namespace))
    }
}

fn decode<T: DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|source| Error::Decode {
        what: what.to_string(),
        source,
    })
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(Error::Encode)
}

impl<K: Object> Api<K> {
    /// An API over the same resource for another object type, e.g. the typed view of
    /// a dynamic target. The caller vouches that `T` is the resource's kind.
    pub fn with_target(client: Client, target: ResourceTarget) -> Self {
        Api {
            client,
            target,
            _kind: PhantomData,
        }
    }

    /// The resource and namespace this API talks to.
    pub fn target(&self) -> &ResourceTarget {
        &self.target
    }

    /// The client underneath.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The namespace of the calls, None when cluster-wide.
    pub fn namespace(&self) -> Option<&str> {
        self.target.namespace.as_deref()
    }

    /// The namespace for a call on one named object: a namespaced kind needs one.
    fn object_namespace(&self, name: &str) -> Result<Option<&str>> {
        match (&self.target.namespace, self.target.namespaced) {
            (Some(ns), _) => Ok(Some(ns)),
            (None, false) => Ok(None),
            (None, true) => Err(Error::InvalidRequest(format!(
                "{} \"{name}\" is namespaced: use an Api for one namespace",
                self.target.plural
            ))),
        }
    }

    fn named_ref(&self, name: &str, subresource: &str) -> Result<proto::ResourceRef> {
        if name.is_empty() {
            return Err(Error::InvalidRequest(
                "resource name may not be empty".to_string(),
            ));
        }
        let namespace = self.object_namespace(name)?;
        Ok(self.target.resource_ref(namespace, name, subresource))
    }

    fn collection_ref(&self) -> proto::ResourceRef {
        self.target.resource_ref(self.namespace(), "", "")
    }

    /// Reads one object (a quorum read).
    pub async fn get(&self, name: &str) -> Result<K> {
        let bytes = self.client.get_raw(self.named_ref(name, "")?, "").await?;
        decode(&bytes, &self.target.kind)
    }

    /// Reads one object; `None` when it does not exist.
    pub async fn get_opt(&self, name: &str) -> Result<Option<K>> {
        match self.get(name).await {
            Ok(object) => Ok(Some(object)),
            Err(err) if err.is_not_found() => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// Lists objects (one page when `limit` is set; follow `continue_token`).
    pub async fn list(&self, params: &ListParams) -> Result<ObjectList<K>> {
        let request = proto::ListRequest {
            r#ref: Some(self.collection_ref()),
            label_selector: params.label_selector.clone().unwrap_or_default(),
            field_selector: params.field_selector.clone().unwrap_or_default(),
            limit: params.limit.unwrap_or(0),
            continue_token: params.continue_token.clone().unwrap_or_default(),
            resource_version: params.resource_version.clone().unwrap_or_default(),
        };
        let bytes = self.client.list_raw(request).await?;
        decode(&bytes, &format!("{} list", self.target.kind))
    }

    /// Creates an object; on a cluster-wide API of a namespaced kind the namespace is
    /// the object's own.
    pub async fn create(&self, params: &PostParams, object: &K) -> Result<K> {
        let namespace = match (&self.target.namespace, self.target.namespaced) {
            (Some(ns), _) => Some(ns.as_str()),
            (None, false) => None,
            (None, true) => Some(object.namespace().ok_or_else(|| {
                Error::InvalidRequest(format!(
                    "a {} needs a namespace: set metadata.namespace or use Api::namespaced",
                    self.target.kind
                ))
            })?),
        };
        let request = proto::CreateRequest {
            r#ref: Some(self.target.resource_ref(namespace, "", "")),
            object: encode(object)?,
            dry_run: params.dry_run,
            field_manager: params.field_manager.clone().unwrap_or_default(),
        };
        decode(&self.client.create_raw(request).await?, &self.target.kind)
    }

    /// Replaces (updates) a whole object; its `metadata.resourceVersion` makes the write
    /// conditional (409 Conflict when the object changed since it was read).
    pub async fn replace(&self, name: &str, params: &PostParams, object: &K) -> Result<K> {
        self.replace_subresource("", name, params, object).await
    }

    /// Patches an object.
    pub async fn patch<P: Serialize>(
        &self,
        name: &str,
        params: &PatchParams,
        patch: &Patch<P>,
    ) -> Result<K> {
        self.patch_subresource("", name, params, patch).await
    }

    /// Deletes an object.
    pub async fn delete(&self, name: &str, params: &DeleteParams) -> Result<DeleteOutcome<K>> {
        let request = proto::DeleteRequest {
            r#ref: Some(self.named_ref(name, "")?),
            options: params.to_json()?,
            label_selector: String::new(),
            field_selector: String::new(),
        };
        let bytes = self.client.delete_raw(request).await?;
        let value: serde_json::Value = decode(&bytes, "delete answer")?;
        if value.get("kind").and_then(|k| k.as_str()) == Some("Status") {
            Ok(DeleteOutcome::Status(Box::new(decode(&bytes, "Status")?)))
        } else {
            Ok(DeleteOutcome::Object(decode(&bytes, &self.target.kind)?))
        }
    }

    /// Deletes every object the list parameters' selectors match; answers the deleted
    /// objects.
    pub async fn delete_collection(
        &self,
        delete: &DeleteParams,
        list: &ListParams,
    ) -> Result<ObjectList<K>> {
        let request = proto::DeleteRequest {
            r#ref: Some(self.collection_ref()),
            options: delete.to_json()?,
            label_selector: list.label_selector.clone().unwrap_or_default(),
            field_selector: list.field_selector.clone().unwrap_or_default(),
        };
        let bytes = self.client.delete_collection_raw(request).await?;
        decode(&bytes, &format!("{} list", self.target.kind))
    }

    /// Watches changes after `resource_version` (empty: the current objects as
    /// `Added`, then changes). The stream ends when the server ends it; it does not
    /// resume by itself: [`crate::watcher::watcher`] does.
    pub async fn watch(
        &self,
        params: &WatchParams,
        resource_version: &str,
    ) -> Result<impl Stream<Item = Result<WatchEvent<K>>> + Send + 'static + use<K>> {
        let request = proto::WatchRequest {
            r#ref: Some(self.collection_ref()),
            label_selector: params.label_selector.clone().unwrap_or_default(),
            field_selector: params.field_selector.clone().unwrap_or_default(),
            resource_version: resource_version.to_string(),
            allow_bookmarks: params.bookmarks,
            timeout_seconds: params.timeout_seconds.unwrap_or(0),
        };
        let kind = self.target.kind.clone();
        let stream = self.client.watch_raw(request).await?;
        Ok(stream.map(move |item| item.and_then(|event| decode_event(&event, &kind))))
    }

    /// Reads a subresource (`status`, `scale`) as `R`.
    pub async fn get_subresource<R: DeserializeOwned>(
        &self,
        subresource: &str,
        name: &str,
    ) -> Result<R> {
        let bytes = self
            .client
            .get_raw(self.named_ref(name, subresource)?, "")
            .await?;
        decode(&bytes, subresource)
    }

    /// Creates on a subresource (`binding`, `eviction`).
    pub async fn create_subresource<T: Serialize, R: DeserializeOwned>(
        &self,
        subresource: &str,
        name: &str,
        params: &PostParams,
        object: &T,
    ) -> Result<R> {
        let request = proto::CreateRequest {
            r#ref: Some(self.named_ref(name, subresource)?),
            object: encode(object)?,
            dry_run: params.dry_run,
            field_manager: params.field_manager.clone().unwrap_or_default(),
        };
        decode(&self.client.create_raw(request).await?, subresource)
    }

    /// Replaces a subresource (or the object itself with `subresource` empty).
    pub async fn replace_subresource<T: Serialize, R: DeserializeOwned>(
        &self,
        subresource: &str,
        name: &str,
        params: &PostParams,
        object: &T,
    ) -> Result<R> {
        let request = proto::UpdateRequest {
            r#ref: Some(self.named_ref(name, subresource)?),
            object: encode(object)?,
            dry_run: params.dry_run,
            field_manager: params.field_manager.clone().unwrap_or_default(),
        };
        decode(&self.client.update_raw(request).await?, &self.target.kind)
    }

    /// Patches a subresource (or the object itself with `subresource` empty).
    pub async fn patch_subresource<P: Serialize, R: DeserializeOwned>(
        &self,
        subresource: &str,
        name: &str,
        params: &PatchParams,
        patch: &Patch<P>,
    ) -> Result<R> {
        if matches!(patch, Patch::Apply(_)) && params.field_manager.is_none() {
            return Err(Error::InvalidRequest(
                "server-side apply needs a field manager".to_string(),
            ));
        }
        let request = proto::PatchRequest {
            r#ref: Some(self.named_ref(name, subresource)?),
            patch_type: patch.content_type().to_string(),
            patch: patch.to_json()?,
            dry_run: params.dry_run,
            field_manager: params.field_manager.clone().unwrap_or_default(),
            force: params.force,
        };
        decode(&self.client.patch_raw(request).await?, &self.target.kind)
    }

    /// Reads the object through its `status` subresource.
    pub async fn get_status(&self, name: &str) -> Result<K> {
        self.get_subresource("status", name).await
    }

    /// Writes the object's status (the rest of the object is ignored by the server).
    pub async fn replace_status(&self, name: &str, params: &PostParams, object: &K) -> Result<K> {
        self.replace_subresource("status", name, params, object)
            .await
    }

    /// Patches the object's status.
    pub async fn patch_status<P: Serialize>(
        &self,
        name: &str,
        params: &PatchParams,
        patch: &Patch<P>,
    ) -> Result<K> {
        self.patch_subresource("status", name, params, patch).await
    }

    /// Reads the autoscaling/v1 `Scale` of a Deployment or ReplicaSet.
    pub async fn get_scale(&self, name: &str) -> Result<Scale> {
        self.get_subresource("scale", name).await
    }

    /// Replaces the `Scale` (its `resourceVersion` makes it conditional).
    pub async fn replace_scale(
        &self,
        name: &str,
        params: &PostParams,
        scale: &Scale,
    ) -> Result<Scale> {
        self.replace_subresource("scale", name, params, scale).await
    }

    /// Patches the `Scale`, as `kubectl scale` does with a merge patch
    /// `{"spec":{"replicas":N}}`.
    pub async fn patch_scale<P: Serialize>(
        &self,
        name: &str,
        params: &PatchParams,
        patch: &Patch<P>,
    ) -> Result<Scale> {
        self.patch_subresource("scale", name, params, patch).await
    }

    /// Binds a pod to a node through `pods/<name>/binding`, as the scheduler does.
    /// The server answers a `Success` Status, which is returned as JSON.
    pub async fn create_binding(
        &self,
        name: &str,
        params: &PostParams,
        binding: &Binding,
    ) -> Result<serde_json::Value> {
        self.create_subresource("binding", name, params, binding)
            .await
    }
}

/// Turns one proto watch event into a typed one.
fn decode_event<K: DeserializeOwned>(
    event: &proto::WatchEvent,
    kind: &str,
) -> Result<WatchEvent<K>> {
    match event.r#type.as_str() {
        "ADDED" => Ok(WatchEvent::Added(decode(&event.object, kind)?)),
        "MODIFIED" => Ok(WatchEvent::Modified(decode(&event.object, kind)?)),
        "DELETED" => Ok(WatchEvent::Deleted(decode(&event.object, kind)?)),
        "BOOKMARK" => {
            let value: serde_json::Value = decode(&event.object, "bookmark")?;
            let resource_version = value
                .pointer("/metadata/resourceVersion")
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string();
            Ok(WatchEvent::Bookmark { resource_version })
        }
        "ERROR" => Ok(WatchEvent::Error(Box::new(decode(
            &event.object,
            "Status",
        )?))),
        other => Err(Error::Decode {
            what: format!("watch event type {other:?}"),
            source: serde::de::Error::custom("unknown watch event type"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::core::v1::{Node, Pod};

    #[test]
    fn typed_kinds_map_to_resource_refs() {
        let pods = ResourceTarget::of::<Pod>(Some("ns"));
        assert_eq!(
            pods.resource_ref(Some("ns"), "web", "status"),
            proto::ResourceRef {
                group: String::new(),
                version: "v1".into(),
                resource: "pods".into(),
                namespace: "ns".into(),
                name: "web".into(),
                subresource: "status".into(),
            }
        );
        assert!(pods.namespaced);
        let deploy = ResourceTarget::of::<Deployment>(None);
        assert_eq!(
            (deploy.group.as_str(), deploy.plural.as_str()),
            ("apps", "deployments")
        );
        assert!(!ResourceTarget::of::<Node>(None).namespaced);
        let info = rudder_api::resource::resolve("deploy").unwrap();
        let dynamic = ResourceTarget::from_info(info, Some("ns"));
        assert_eq!(dynamic, ResourceTarget::of::<Deployment>(Some("ns")));
        let nodes = rudder_api::resource::resolve("no").unwrap();
        assert_eq!(ResourceTarget::from_info(nodes, Some("ns")).namespace, None);
    }

    #[test]
    fn watch_events_decode_with_bookmarks_and_errors() {
        let bookmark = proto::WatchEvent {
            r#type: "BOOKMARK".into(),
            object: br#"{"kind":"Pod","apiVersion":"v1","metadata":{"resourceVersion":"12"}}"#
                .to_vec(),
        };
        assert_eq!(
            decode_event::<Pod>(&bookmark, "Pod").unwrap(),
            WatchEvent::Bookmark {
                resource_version: "12".into()
            }
        );
        let error = proto::WatchEvent {
            r#type: "ERROR".into(),
            object: serde_json::to_vec(&rudder_api::status::resource_expired(1, 5)).unwrap(),
        };
        assert!(
            matches!(decode_event::<Pod>(&error, "Pod").unwrap(), WatchEvent::Error(s) if s.code == Some(410))
        );
    }
}
