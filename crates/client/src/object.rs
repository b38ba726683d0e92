//! What the client needs to know of an object, whatever its type: [`Object`] for the
//! k8s-openapi types and for [`DynamicObject`], [`ObjectKey`] to name one, and
//! [`ObjectList`] for list answers.

use std::fmt;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ListMeta, ObjectMeta};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// An API object the client can send, receive, cache and key: every k8s-openapi type
/// with `ObjectMeta` (`Pod`, `Deployment`, `Lease`...) and [`DynamicObject`].
pub trait Object: Clone + Serialize + DeserializeOwned + Send + Sync + 'static {
    /// `metadata.name`.
    fn name(&self) -> Option<&str>;
    /// `metadata.namespace`.
    fn namespace(&self) -> Option<&str>;
    /// `metadata.resourceVersion`.
    fn resource_version(&self) -> Option<&str>;
    /// `metadata.uid`.
    fn uid(&self) -> Option<&str>;

    /// The object's cache key (namespace and name).
    fn key(&self) -> ObjectKey {
        ObjectKey {
            namespace: self
                .namespace()
                .filter(|ns| !ns.is_empty())
                .map(str::to_string),
            name: self.name().unwrap_or_default().to_string(),
        }
    }
}

impl<K> Object for K
where
    K: k8s_openapi::Metadata<Ty = ObjectMeta>
        + Clone
        + Serialize
        + DeserializeOwned
        + Send
        + Sync
        + 'static,
{
    fn name(&self) -> Option<&str> {
        self.metadata().name.as_deref()
    }
    fn namespace(&self) -> Option<&str> {
        self.metadata().namespace.as_deref()
    }
    fn resource_version(&self) -> Option<&str> {
        self.metadata().resource_version.as_deref()
    }
    fn uid(&self) -> Option<&str> {
        self.metadata().uid.as_deref()
    }
}

/// An object of a kind known only at run time (rudderctl's `get deploy`), kept as its
/// exact JSON so nothing the server sent is lost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DynamicObject(pub serde_json::Value);

impl DynamicObject {
    /// The JSON.
    pub fn into_value(self) -> serde_json::Value {
        self.0
    }

    fn meta_str(&self, field: &str) -> Option<&str> {
        self.0.get("metadata")?.get(field)?.as_str()
    }
}

impl Object for DynamicObject {
    fn name(&self) -> Option<&str> {
        self.meta_str("name")
    }
    fn namespace(&self) -> Option<&str> {
        self.meta_str("namespace")
    }
    fn resource_version(&self) -> Option<&str> {
        self.meta_str("resourceVersion")
    }
    fn uid(&self) -> Option<&str> {
        self.meta_str("uid")
    }
}

/// Names one object: `namespace/name`, or `name` for cluster-scoped objects, as
/// client-go's `MetaNamespaceKeyFunc`. Work queues and caches are keyed by it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey {
    /// None for cluster-scoped objects.
    pub namespace: Option<String>,
    /// The object's name.
    pub name: String,
}

impl ObjectKey {
    /// The key of a namespaced object.
    pub fn namespaced(namespace: &str, name: &str) -> Self {
        ObjectKey {
            namespace: Some(namespace.to_string()),
            name: name.to_string(),
        }
    }

    /// The key of a cluster-scoped object.
    pub fn cluster(name: &str) -> Self {
        ObjectKey {
            namespace: None,
            name: name.to_string(),
        }
    }

    /// Parses `ns/name` or `name`.
    pub fn parse(key: &str) -> Self {
        match key.split_once('/') {
            Some((ns, name)) => ObjectKey::namespaced(ns, name),
            None => ObjectKey::cluster(key),
        }
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{ns}/{}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// A list answer: the items and the list's metadata (`resourceVersion` to watch from,
/// `continue` for the next page).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectList<K> {
    /// `metadata.resourceVersion` and `metadata.continue`.
    #[serde(default)]
    pub metadata: ListMeta,
    /// The objects.
    #[serde(default = "Vec::new")]
    pub items: Vec<K>,
}

impl<K> ObjectList<K> {
    /// The list's resourceVersion, empty when absent.
    pub fn resource_version(&self) -> &str {
        self.metadata.resource_version.as_deref().unwrap_or("")
    }

    /// The continue token of the next page, when there is one.
    pub fn continue_token(&self) -> Option<&str> {
        self.metadata.continue_.as_deref().filter(|c| !c.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{Node, Pod};

    #[test]
    fn keys_of_typed_and_dynamic_objects() {
        let pod = Pod {
            metadata: ObjectMeta {
                name: Some("web".into()),
                namespace: Some("default".into()),
                resource_version: Some("7".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        assert_eq!(pod.key().to_string(), "default/web");
        assert_eq!(pod.resource_version(), Some("7"));
        let node = Node {
            metadata: ObjectMeta {
                name: Some("n1".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        assert_eq!(node.key(), ObjectKey::cluster("n1"));
        let dynamic = DynamicObject(serde_json::json!({
            "metadata": {"name": "d", "namespace": "ns", "resourceVersion": "3"}
        }));
        assert_eq!(dynamic.key(), ObjectKey::parse("ns/d"));
        assert_eq!(dynamic.resource_version(), Some("3"));
    }
}
