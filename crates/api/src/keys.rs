//! Storage keys. An object lives at `/registry/<resource>/<namespace>/<name>`, a
//! cluster-scoped one at `/registry/<resource>/<name>`.
//!
//! `<resource>` is the plural resource name from the resource table
//! (`/registry/pods/default/web`, `/registry/deployments/default/web`,
//! `/registry/services/default/web`). Upstream kube-apiserver uses a few other
//! segments (`services/specs`, `services/endpoints`, `minions`); we use plurals
//! everywhere so that `etcdctl get --prefix /registry/<plural>` always works and a
//! key maps back to its resource without a second table. Plurals are unique
//! across the served groups, so no group segment is needed.

use crate::error::Error;
use crate::resource::{self, ResourceInfo};

/// Root of every key.
pub const REGISTRY_ROOT: &str = "/registry/";

/// A parsed storage key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectKey {
    /// The resource the key belongs to.
    pub resource: &'static ResourceInfo,
    /// Namespace, for namespaced resources.
    pub namespace: Option<String>,
    /// Object name.
    pub name: String,
}

fn check_segment(what: &str, value: &str) -> Result<(), Error> {
    if value.is_empty() || value.contains('/') || value == "." || value == ".." {
        return Err(Error::InvalidKey {
            key: value.to_string(),
            reason: format!("{what} must be non-empty and must not contain '/'"),
        });
    }
    Ok(())
}

/// The key of one object. `namespace` is ignored for cluster-scoped resources and
/// required for namespaced ones. Names containing '/' are refused: they would
/// make keys ambiguous (the API server rejects such names earlier anyway).
pub fn object_key(
    resource: &ResourceInfo,
    namespace: Option<&str>,
    name: &str,
) -> Result<String, Error> {
    check_segment("name", name)?;
    if resource.namespaced {
        let ns = namespace.unwrap_or_default();
        check_segment("namespace", ns)?;
        Ok(format!("{REGISTRY_ROOT}{}/{ns}/{name}", resource.plural))
    } else {
        Ok(format!("{REGISTRY_ROOT}{}/{name}", resource.plural))
    }
}

/// The prefix under which a list finds its objects: all of a resource
/// (`namespace` = None) or one namespace's. Always ends in '/', so that
/// namespace `a` never matches namespace `ab`.
pub fn list_prefix(resource: &ResourceInfo, namespace: Option<&str>) -> Result<String, Error> {
    match namespace {
        Some(ns) if resource.namespaced => {
            check_segment("namespace", ns)?;
            Ok(format!("{REGISTRY_ROOT}{}/{ns}/", resource.plural))
        }
        _ => Ok(format!("{REGISTRY_ROOT}{}/", resource.plural)),
    }
}

/// The etcd `range_end` covering every key that starts with `prefix`: the prefix
/// with its last byte incremented (bytes of 0xff are dropped first, as etcd's
/// clients do). An all-0xff or empty prefix gives `[0]`, meaning "to the end".
pub fn prefix_range_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

/// Parses a key back to its resource, namespace and name. Keys are bytes in the
/// store; anything that is not UTF-8 or not one of our shapes is an error.
pub fn parse_key(key: &[u8]) -> Result<ObjectKey, Error> {
    let invalid = |reason: &str| Error::InvalidKey {
        key: String::from_utf8_lossy(key).into_owned(),
        reason: reason.to_string(),
    };
    let text = std::str::from_utf8(key).map_err(|_| invalid("not UTF-8"))?;
    let rest = text
        .strip_prefix(REGISTRY_ROOT)
        .ok_or_else(|| invalid("does not start with /registry/"))?;
    let parts: Vec<&str> = rest.split('/').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(invalid("empty segment"));
    }
    let info = resource::all()
        .iter()
        .find(|r| r.plural == parts[0])
        .ok_or_else(|| invalid("unknown resource"))?;
    match (info.namespaced, parts.as_slice()) {
        (true, [_, ns, name]) => Ok(ObjectKey {
            resource: info,
            namespace: Some(ns.to_string()),
            name: name.to_string(),
        }),
        (false, [_, name]) => Ok(ObjectKey {
            resource: info,
            namespace: None,
            name: name.to_string(),
        }),
        (true, _) => Err(invalid(
            "namespaced keys have the form /registry/<resource>/<namespace>/<name>",
        )),
        (false, _) => Err(invalid(
            "cluster-scoped keys have the form /registry/<resource>/<name>",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::resolve;

    #[test]
    fn builds_keys_and_prefixes() {
        let pods = resolve("pods").unwrap();
        let nodes = resolve("nodes").unwrap();
        let deploy = resolve("deploy").unwrap();
        assert_eq!(
            object_key(pods, Some("default"), "web").unwrap(),
            "/registry/pods/default/web"
        );
        assert_eq!(
            object_key(deploy, Some("prod"), "api").unwrap(),
            "/registry/deployments/prod/api"
        );
        assert_eq!(
            object_key(nodes, Some("ignored"), "n1").unwrap(),
            "/registry/nodes/n1"
        );
        assert_eq!(object_key(nodes, None, "n1").unwrap(), "/registry/nodes/n1");
        assert_eq!(list_prefix(pods, None).unwrap(), "/registry/pods/");
        assert_eq!(list_prefix(pods, Some("a")).unwrap(), "/registry/pods/a/");
        assert_eq!(list_prefix(nodes, Some("a")).unwrap(), "/registry/nodes/");
        for (ns, name) in [
            (None, "web"),
            (Some(""), "web"),
            (Some("a/b"), "web"),
            (Some("a"), ""),
            (Some("a"), "x/y"),
            (Some("a"), ".."),
        ] {
            assert!(object_key(pods, ns, name).is_err(), "{ns:?} {name}");
        }
        assert!(list_prefix(pods, Some("a/b")).is_err());
    }

    #[test]
    fn range_ends() {
        assert_eq!(
            prefix_range_end(b"/registry/pods/"),
            b"/registry/pods0".to_vec()
        );
        assert_eq!(prefix_range_end(b"a\xff"), b"b".to_vec());
        assert_eq!(prefix_range_end(b"\xff\xff"), vec![0]);
        assert_eq!(prefix_range_end(b""), vec![0]);
    }

    #[test]
    fn parses_keys_back() {
        let k = parse_key(b"/registry/pods/default/web").unwrap();
        assert_eq!(
            (k.resource.plural, k.namespace.as_deref(), k.name.as_str()),
            ("pods", Some("default"), "web")
        );
        let k = parse_key(b"/registry/clusterroles/admin").unwrap();
        assert_eq!(
            (k.resource.plural, k.namespace, k.name.as_str()),
            ("clusterroles", None, "admin")
        );
        for r in resource::all() {
            let key = object_key(r, Some("ns1"), "obj").unwrap();
            let back = parse_key(key.as_bytes()).unwrap();
            assert_eq!(
                object_key(back.resource, back.namespace.as_deref(), &back.name).unwrap(),
                key
            );
        }
        for bad in [
            &b""[..],
            b"/registry/",
            b"/registry/pods",
            b"/registry/pods/default",
            b"/registry/pods/default/web/extra",
            b"/registry/nodes/a/b",
            b"/registry/widgets/a",
            b"/registry/pods//web",
            b"/other/pods/a/b",
            b"/registry/pods/\xff/web",
        ] {
            assert!(parse_key(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        assert_eq!(
            parse_key(b"/registry/pods/x").unwrap_err().to_string(),
            "invalid storage key \"/registry/pods/x\": namespaced keys have the form /registry/<resource>/<namespace>/<name>"
        );
    }
}
