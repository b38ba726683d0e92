//! What the API server sets and protects in an object on each write, as pure
//! functions over object JSON: create (uid, creationTimestamp, generation, names,
//! status reset), update (immutable metadata kept, generation bumped on spec change,
//! status only through the status subresource) and the store encoding.

use rudder_api::resource::ResourceInfo;
use rudder_api::validation::{self, FieldError};
use serde_json::{Map, Value, json};

use crate::error::{Error, Result};

/// Metadata fields the server owns: a client cannot change them with an update.
const SERVER_OWNED_ON_UPDATE: &[&str] = &[
    "uid",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
    "namespace",
    "name",
];

/// Characters of generated name suffixes: no vowels (no words), no look-alikes (as upstream).
const NAME_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
/// Length of a generated suffix.
const NAME_SUFFIX_LEN: usize = 5;

/// Per-request randomness and time, passed in so the logic stays pure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    /// RFC 3339 UTC with seconds precision (`2026-01-02T03:04:05Z`).
    pub now: String,
    /// A fresh v4 uid.
    pub uid: String,
    /// Random bytes for a generated name suffix.
    pub entropy: [u8; NAME_SUFFIX_LEN],
}

impl Stamp {
    /// A stamp from the system clock and the OS random source.
    pub fn fresh() -> Result<Self> {
        let mut bytes = [0u8; 16 + NAME_SUFFIX_LEN];
        getrandom::fill(&mut bytes).map_err(|e| Error::Internal(format!("random: {e}")))?;
        let mut uid = [0u8; 16];
        uid.copy_from_slice(&bytes[..16]);
        let mut entropy = [0u8; NAME_SUFFIX_LEN];
        entropy.copy_from_slice(&bytes[16..]);
        Ok(Stamp {
            now: now_rfc3339(),
            uid: uuid_v4(uid),
            entropy,
        })
    }
}

/// The current time as Kubernetes writes timestamps.
pub fn now_rfc3339() -> String {
    rfc3339(unix_now())
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> i64 {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    i64::try_from(secs).unwrap_or(0)
}

/// Unix seconds as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn rfc3339(unix_seconds: i64) -> String {
    k8s_openapi::jiff::Timestamp::from_second(unix_seconds)
        .map(|t| t.to_string())
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_string())
}

/// Formats 16 random bytes as a version-4 UUID.
pub fn uuid_v4(mut b: [u8; 16]) -> String {
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// `generateName` + a random 5-character suffix.
pub fn generated_name(prefix: &str, entropy: &[u8; NAME_SUFFIX_LEN]) -> String {
    let suffix: String = entropy
        .iter()
        .map(|b| NAME_ALPHABET[usize::from(*b) % NAME_ALPHABET.len()] as char)
        .collect();
    format!("{prefix}{suffix}")
}

/// The object's `metadata` map, created if missing. Errors when the body is not an
/// object or `metadata` is not one.
pub fn metadata_mut(object: &mut Value) -> Result<&mut Map<String, Value>> {
    let map = object
        .as_object_mut()
        .ok_or_else(|| Error::BadRequest("the body of the request must be a JSON object".into()))?;
    let meta = map
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if meta.is_null() {
        *meta = Value::Object(Map::new());
    }
    meta.as_object_mut()
        .ok_or_else(|| Error::BadRequest("metadata must be an object".into()))
}

/// A string field of `metadata` ("" when missing).
pub fn meta_str<'a>(object: &'a Value, field: &str) -> &'a str {
    object
        .get("metadata")
        .and_then(|m| m.get(field))
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// Checks (or fills) `apiVersion` and `kind` against the resource the URL names.
/// A body without them takes the URL's, as kube-apiserver's decoder defaults them.
pub fn check_type(resource: &ResourceInfo, object: &mut Value) -> Result<()> {
    let api_version = resource.api_version();
    let map = object
        .as_object_mut()
        .ok_or_else(|| Error::BadRequest("the body of the request must be a JSON object".into()))?;
    match map.get("apiVersion") {
        None | Some(Value::Null) => {
            map.insert("apiVersion".into(), json!(api_version));
        }
        Some(Value::String(v)) if *v == api_version => {}
        Some(Value::String(v)) if v.is_empty() => {
            map.insert("apiVersion".into(), json!(api_version));
        }
        Some(other) => {
            return Err(Error::BadRequest(format!(
                "the API version in the data ({}) does not match the expected API version ({api_version})",
                other.as_str().unwrap_or("<not a string>")
            )));
        }
    }
    match map.get("kind") {
        None | Some(Value::Null) => {
            map.insert("kind".into(), json!(resource.kind));
        }
        Some(Value::String(k)) if k == resource.kind => {}
        Some(Value::String(k)) if k.is_empty() => {
            map.insert("kind".into(), json!(resource.kind));
        }
        Some(other) => {
            return Err(Error::BadRequest(format!(
                "the kind in the data ({}) does not match the expected kind ({})",
                other.as_str().unwrap_or("<not a string>"),
                resource.kind
            )));
        }
    }
    Ok(())
}

/// Puts the request's namespace in the object (namespaced kinds) or removes any
/// (cluster-scoped kinds). A different namespace in the body is a 400, as upstream.
pub fn check_namespace(
    resource: &ResourceInfo,
    namespace: Option<&str>,
    object: &mut Value,
) -> Result<()> {
    let meta = metadata_mut(object)?;
    if !resource.namespaced {
        meta.remove("namespace");
        return Ok(());
    }
    let Some(ns) = namespace else {
        return Err(Error::BadRequest(
            "the namespace of the object must be given in the request path".into(),
        ));
    };
    match meta.get("namespace").and_then(Value::as_str) {
        None | Some("") => {
            meta.insert("namespace".into(), json!(ns));
            Ok(())
        }
        Some(body_ns) if body_ns == ns => Ok(()),
        Some(_) => Err(Error::BadRequest(
            "the namespace of the provided object does not match the namespace sent on the request"
                .into(),
        )),
    }
}

/// Whether objects of this kind carry a `metadata.generation` the server maintains:
/// kinds with a desired state (`spec`).
pub fn tracks_generation(resource: &ResourceInfo) -> bool {
    matches!(
        resource.kind,
        "Pod" | "Service" | "Deployment" | "ReplicaSet" | "Lease" | "Node" | "Namespace"
    )
}

/// What `status` a new object starts with when the kind has a status subresource
/// (clients cannot create objects with a made-up status). `None`: keep the body's.
fn initial_status(resource: &ResourceInfo) -> Option<Value> {
    match resource.kind {
        "Pod" => Some(json!({"phase": "Pending"})),
        "Deployment" | "ReplicaSet" => Some(json!({})),
        "Service" => Some(json!({"loadBalancer": {}})),
        "Namespace" => Some(json!({"phase": "Active"})),
        _ => None,
    }
}

fn invalid(resource: &'static ResourceInfo, object: &Value, errors: Vec<FieldError>) -> Result<()> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::Invalid {
            resource,
            name: meta_str(object, "name").to_string(),
            errors,
        })
    }
}

/// Defaults and validates a new object with rudder_api's rules (422 with field
/// causes; 400 when the body does not decode as the kind).
fn default_and_validate_create(resource: &'static ResourceInfo, object: &mut Value) -> Result<()> {
    let errors = validation::default_and_validate_create(resource, object)?;
    invalid(resource, object, errors)
}

/// Defaults and validates an updated object against the stored one.
fn default_and_validate_update(
    resource: &'static ResourceInfo,
    object: &mut Value,
    old: &Value,
) -> Result<()> {
    let errors = validation::default_and_validate_update(resource, object, old)?;
    invalid(resource, object, errors)
}

/// Prepares a body for create: type, namespace, name (from `generateName` when
/// empty), server-owned metadata and the initial status. The result is ready to
/// store, less its `resourceVersion`.
pub fn prepare_create(
    resource: &'static ResourceInfo,
    namespace: Option<&str>,
    mut object: Value,
    stamp: &Stamp,
) -> Result<Value> {
    check_type(resource, &mut object)?;
    check_namespace(resource, namespace, &mut object)?;
    let tracks = tracks_generation(resource);
    let meta = metadata_mut(&mut object)?;
    if meta
        .get("resourceVersion")
        .and_then(Value::as_str)
        .is_some_and(|rv| !rv.is_empty())
    {
        // Upstream answers this with a 500; bad input is a 400 here.
        return Err(Error::BadRequest(
            "resourceVersion should not be set on objects to be created".into(),
        ));
    }
    meta.remove("resourceVersion");
    let name_empty = meta
        .get("name")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty);
    if name_empty
        && let Some(prefix) = meta
            .get("generateName")
            .and_then(Value::as_str)
            .filter(|p| !p.is_empty())
    {
        let name = generated_name(prefix, &stamp.entropy);
        meta.insert("name".into(), json!(name));
    }
    meta.insert("uid".into(), json!(stamp.uid));
    meta.insert("creationTimestamp".into(), json!(stamp.now));
    meta.remove("deletionTimestamp");
    meta.remove("deletionGracePeriodSeconds");
    meta.remove("selfLink");
    if tracks {
        meta.insert("generation".into(), json!(1));
    } else {
        meta.remove("generation");
    }
    if let Some(status) = initial_status(resource)
        && let Some(map) = object.as_object_mut()
    {
        if status.as_object().is_some_and(Map::is_empty) {
            map.remove("status");
        } else {
            map.insert("status".into(), status);
        }
    }
    default_and_validate_create(resource, &mut object)?;
    Ok(object)
}

/// Whether two objects want the same: a generation counts changes of this.
fn same_desired_state(a: &Value, b: &Value) -> bool {
    // Compared in place: collecting copies of both objects cost more than the compare.
    desired_state(a).eq(desired_state(b))
}

/// Everything of an object but `metadata` and `status`: what a generation tracks.
fn desired_state(object: &Value) -> impl Iterator<Item = (&String, &Value)> {
    object
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, _)| !matches!(k.as_str(), "metadata" | "status"))
}

/// Prepares a body for update of `old` (which carries its resourceVersion): server-
/// owned metadata comes from `old`; on the main resource `status` is kept from
/// `old` (for kinds with a status subresource) and the generation is bumped when the
/// desired state changed; on the status subresource only `status` comes from the
/// body. `name`/`namespace` in the body must match the URL's.
pub fn prepare_update(
    resource: &'static ResourceInfo,
    subresource: Option<&str>,
    name: &str,
    namespace: Option<&str>,
    mut object: Value,
    old: &Value,
) -> Result<Value> {
    check_type(resource, &mut object)?;
    check_namespace(resource, namespace, &mut object)?;
    let body_name = meta_str(&object, "name");
    if !body_name.is_empty() && body_name != name {
        return Err(Error::BadRequest(format!(
            "the name of the object ({body_name}) does not match the name on the URL ({name})"
        )));
    }
    if subresource == Some("status") {
        let mut new = old.clone();
        let status = object.get("status").cloned();
        if let Some(map) = new.as_object_mut() {
            match status {
                Some(s) if !s.is_null() => {
                    map.insert("status".into(), s);
                }
                _ => {
                    map.remove("status");
                }
            }
        }
        return Ok(new);
    }
    let meta = metadata_mut(&mut object)?;
    let old_meta = old.get("metadata").and_then(Value::as_object);
    for field in SERVER_OWNED_ON_UPDATE {
        match old_meta.and_then(|m| m.get(*field)) {
            Some(v) => {
                meta.insert((*field).to_string(), v.clone());
            }
            None => {
                meta.remove(*field);
            }
        }
    }
    meta.remove("selfLink");
    if resource.subresource("status").is_some()
        && let Some(map) = object.as_object_mut()
    {
        match old.get("status") {
            Some(s) => {
                map.insert("status".into(), s.clone());
            }
            None => {
                map.remove("status");
            }
        }
    }
    default_and_validate_update(resource, &mut object, old)?;
    // After defaulting, so that a body relying on defaults is not a spec change.
    if tracks_generation(resource) && !same_desired_state(&object, old) {
        let generation = old
            .pointer("/metadata/generation")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        metadata_mut(&mut object)?.insert("generation".into(), json!(generation + 1));
    }
    Ok(object)
}

/// Whether a write would change nothing but the resourceVersion (kube-apiserver then
/// skips the store write and answers with the stored object). Compared in place:
/// copying both objects to drop one field was most of an update's JSON work.
pub fn same_content(a: &Value, b: &Value) -> bool {
    match (a.as_object(), b.as_object()) {
        (Some(a), Some(b)) => {
            a.len() == b.len()
                && a.iter().all(|(k, v)| match (k.as_str(), b.get(k)) {
                    ("metadata", Some(w)) => same_metadata(v, w),
                    (_, Some(w)) => v == w,
                    (_, None) => false,
                })
        }
        _ => a == b,
    }
}

fn same_metadata(a: &Value, b: &Value) -> bool {
    const FIELD: &str = "resourceVersion";
    match (a.as_object(), b.as_object()) {
        (Some(a), Some(b)) => {
            let len =
                |m: &serde_json::Map<String, Value>| m.len() - usize::from(m.contains_key(FIELD));
            len(a) == len(b)
                && a.iter()
                    .filter(|(k, _)| k.as_str() != FIELD)
                    .all(|(k, v)| b.get(k) == Some(v))
        }
        _ => a == b,
    }
}

/// The bytes stored for an object: its JSON without `resourceVersion` (the store's
/// `mod_revision` is the truth), written without copying the object first.
pub fn encode_for_store(object: &Value) -> Result<Vec<u8>> {
    serde_json::to_vec(&WithoutResourceVersion(object, false))
        .map_err(|e| Error::Internal(format!("encoding object: {e}")))
}

/// A value serialized as itself, but for `metadata.resourceVersion` (the `bool`
/// says whether this value is the metadata).
struct WithoutResourceVersion<'a>(&'a Value, bool);

impl serde::Serialize for WithoutResourceVersion<'_> {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let Some(map) = self.0.as_object() else {
            return self.0.serialize(serializer);
        };
        let mut out = serializer.serialize_map(None)?;
        for (k, v) in map {
            match (self.1, k.as_str()) {
                (true, "resourceVersion") => {}
                (false, "metadata") => out.serialize_entry(k, &WithoutResourceVersion(v, true))?,
                _ => out.serialize_entry(k, v)?,
            }
        }
        out.end()
    }
}

/// Decodes stored bytes and sets `resourceVersion` from the key's revision.
pub fn decode_from_store(bytes: &[u8], mod_revision: i64) -> Result<Value> {
    let mut object: Value = serde_json::from_slice(bytes)
        .map_err(|e| Error::Internal(format!("decoding stored object: {e}")))?;
    set_resource_version(&mut object, mod_revision);
    Ok(object)
}

/// Sets `metadata.resourceVersion`.
pub fn set_resource_version(object: &mut Value, revision: i64) {
    if let Ok(meta) = metadata_mut(object) {
        meta.insert("resourceVersion".into(), json!(revision.to_string()));
    }
}

/// Parses a client's `resourceVersion` (a decimal revision).
pub fn parse_resource_version(rv: &str) -> Result<i64> {
    rv.parse::<i64>()
        .ok()
        .filter(|v| *v >= 0)
        .ok_or_else(|| Error::BadRequest(format!("invalid resource version \"{rv}\"")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rudder_api::resource::resolve;

    fn deploy_spec(replicas: i64) -> Value {
        json!({"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
               "template": {"metadata": {"labels": {"app": "web"}},
                            "spec": {"containers": [{"name": "web", "image": "nginx"}]}}})
    }

    fn stamp() -> Stamp {
        Stamp {
            now: "2026-01-02T03:04:05Z".into(),
            uid: "11111111-2222-4333-8444-555555555555".into(),
            entropy: [0, 1, 2, 3, 4],
        }
    }

    #[test]
    fn formats_times_uids_and_names() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_767_323_045), "2026-01-02T03:04:05Z");
        let uid = uuid_v4([0xff; 16]);
        assert_eq!(uid, "ffffffff-ffff-4fff-bfff-ffffffffffff");
        assert_eq!(generated_name("web-", &[0, 1, 2, 3, 26]), "web-bcdf9");
        assert!(Stamp::fresh().unwrap().uid.len() == 36);
    }

    #[test]
    fn create_sets_server_fields_and_fills_type_and_namespace() {
        let cm = resolve("configmaps").unwrap();
        let out = prepare_create(
            cm,
            Some("default"),
            json!({"metadata": {"generateName": "cfg-"}, "data": {"a": "b"}}),
            &stamp(),
        )
        .unwrap();
        assert_eq!(
            out,
            json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "b"},
                   "metadata": {"generateName": "cfg-", "name": "cfg-bcdfg", "namespace": "default",
                                "uid": "11111111-2222-4333-8444-555555555555",
                                "creationTimestamp": "2026-01-02T03:04:05Z"}})
        );
        let deploy = resolve("deploy").unwrap();
        let out = prepare_create(
            deploy,
            Some("ns1"),
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "ns1", "generation": 7},
                   "spec": deploy_spec(2), "status": {"replicas": 9}}),
            &stamp(),
        )
        .unwrap();
        assert_eq!(out["metadata"]["generation"], 1);
        assert_eq!(out.get("status"), None);
        // Defaulted by rudder_api.
        assert_eq!(out["spec"]["revisionHistoryLimit"], 10);
        let pod = prepare_create(
            resolve("pods").unwrap(),
            Some("a"),
            json!({"metadata": {"name": "p"}, "status": {"phase": "Running"},
                   "spec": {"containers": [{"name": "c", "image": "busybox"}]}}),
            &stamp(),
        )
        .unwrap();
        assert_eq!(pod["status"], json!({"phase": "Pending"}));
        let ns = prepare_create(
            resolve("ns").unwrap(),
            Some("ignored"),
            json!({"metadata": {"name": "team", "namespace": "x"}}),
            &stamp(),
        )
        .unwrap();
        assert_eq!(ns["metadata"].get("namespace"), None);
    }

    #[test]
    fn create_refuses_bad_bodies_with_upstream_words() {
        let pods = resolve("pods").unwrap();
        let cases = [
            (
                json!([1]),
                400,
                "the body of the request must be a JSON object",
            ),
            (
                json!({"kind": "Service", "metadata": {"name": "x"}}),
                400,
                "the kind in the data (Service) does not match the expected kind (Pod)",
            ),
            (
                json!({"apiVersion": "apps/v1", "metadata": {"name": "x"}}),
                400,
                "the API version in the data (apps/v1) does not match the expected API version (v1)",
            ),
            (
                json!({"metadata": {"name": "x", "namespace": "other"}}),
                400,
                "the namespace of the provided object does not match the namespace sent on the request",
            ),
            (
                json!({"metadata": {"name": "x", "resourceVersion": "5"}}),
                400,
                "resourceVersion should not be set on objects to be created",
            ),
            (json!({"metadata": {}}), 422, ""),
            (json!({"metadata": {"name": "Bad_Name"}}), 422, ""),
            (json!({"metadata": "x"}), 400, "metadata must be an object"),
        ];
        for (body, code, message) in cases {
            let err = prepare_create(pods, Some("default"), body.clone(), &stamp()).unwrap_err();
            assert_eq!(err.code(), code, "{body}");
            if !message.is_empty() {
                assert_eq!(err.to_string(), message, "{body}");
            }
        }
        let cms = resolve("cm").unwrap();
        let err =
            prepare_create(cms, Some("default"), json!({"metadata": {}}), &stamp()).unwrap_err();
        assert_eq!(
            err.to_status().message.as_deref(),
            Some(
                "ConfigMap \"\" is invalid: metadata.name: Required value: name or generateName is required"
            )
        );
        let err = prepare_create(
            pods,
            Some("default"),
            json!({"metadata": {"name": "p"}}),
            &stamp(),
        )
        .unwrap_err();
        assert_eq!(err.code(), 422);
        assert!(
            err.to_status()
                .message
                .unwrap()
                .contains("spec.containers: Required value")
        );
    }

    #[test]
    fn update_keeps_server_fields_and_bumps_generation_on_spec_change() {
        let deploy = resolve("deploy").unwrap();
        let old = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "a", "uid": "u1", "generation": 3,
                         "creationTimestamp": "2026-01-01T00:00:00Z", "resourceVersion": "10"},
            "spec": deploy_spec(1), "status": {"replicas": 1}});
        let mut old = old;
        rudder_api::defaults::apply(deploy, &mut old).unwrap();
        let body = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "uid": "forged", "generation": 99, "labels": {"x": "y"}, "resourceVersion": "10"},
            "spec": deploy_spec(2), "status": {"replicas": 50}});
        let new = prepare_update(deploy, None, "web", Some("a"), body, &old).unwrap();
        assert_eq!(new["metadata"]["uid"], "u1");
        assert_eq!(new["metadata"]["generation"], 4);
        assert_eq!(new["metadata"]["namespace"], "a");
        assert_eq!(new["metadata"]["labels"], json!({"x": "y"}));
        assert_eq!(new["status"], json!({"replicas": 1}));
        assert_eq!(new["spec"]["replicas"], 2);

        // A metadata-only change keeps the generation.
        let body =
            json!({"metadata": {"name": "web", "labels": {"a": "b"}}, "spec": deploy_spec(1)});
        let new = prepare_update(deploy, None, "web", Some("a"), body, &old).unwrap();
        assert_eq!(new["metadata"]["generation"], 3);

        // The status subresource changes only status.
        let body = json!({"metadata": {"name": "web", "labels": {"no": "pe"}}, "spec": deploy_spec(7), "status": {"replicas": 5}});
        let new = prepare_update(deploy, Some("status"), "web", Some("a"), body, &old).unwrap();
        assert_eq!(new["spec"], old["spec"]);
        assert_eq!(new["status"], json!({"replicas": 5}));
        assert_eq!(new["metadata"], old["metadata"]);

        let err = prepare_update(
            deploy,
            None,
            "web",
            Some("a"),
            json!({"metadata": {"name": "other"}}),
            &old,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "the name of the object (other) does not match the name on the URL (web)"
        );
    }

    #[test]
    fn store_encoding_round_trips_with_the_revision() {
        let obj = json!({"metadata": {"name": "a", "resourceVersion": "3"}});
        let bytes = encode_for_store(&obj).unwrap();
        assert_eq!(bytes, br#"{"metadata":{"name":"a"}}"#);
        let back = decode_from_store(&bytes, 42).unwrap();
        assert_eq!(back["metadata"]["resourceVersion"], "42");
        assert!(same_content(&obj, &back));
        // The same bytes as encoding a copy without the field; content compared
        // whatever the revisions, and nothing else ignored.
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "spec": {"x": [1, {"resourceVersion": "9"}]},
                         "metadata": {"name": "a", "resourceVersion": "3", "uid": "u", "labels": {"a": "b"}}});
        let mut copy = pod.clone();
        copy["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("resourceVersion");
        assert_eq!(
            encode_for_store(&pod).unwrap(),
            serde_json::to_vec(&copy).unwrap()
        );
        assert!(same_content(&pod, &copy) && same_content(&copy, &pod));
        let mut newer = pod.clone();
        newer["metadata"]["resourceVersion"] = json!("4");
        assert!(same_content(&pod, &newer));
        for change in ["/metadata/uid", "/spec/x/1/resourceVersion", "/kind"] {
            let mut other = pod.clone();
            *other.pointer_mut(change).unwrap() = json!("z");
            assert!(!same_content(&pod, &other), "{change}");
        }
        let mut more = copy.clone();
        more["metadata"]["extra"] = json!(1);
        assert!(!same_content(&pod, &more) && !same_content(&more, &pod));
        assert!(!same_content(&pod, &json!({"metadata": {}})));
        assert!(same_content(&json!([1]), &json!([1])));
        assert!(decode_from_store(b"{nope", 1).is_err());
        assert_eq!(parse_resource_version("12").unwrap(), 12);
        assert_eq!(parse_resource_version("x").unwrap_err().code(), 400);
        assert_eq!(parse_resource_version("-1").unwrap_err().code(), 400);
    }
}
