//! `rudderctl apply -f`: kubectl's client-side apply. The configuration is kept in
//! the `kubectl.kubernetes.io/last-applied-configuration` annotation; a new object
//! is created with it, an existing one gets the strategic three-way patch between
//! that annotation, the new configuration and the live object (`unchanged` when the
//! patch is empty, nothing written).

use clap::Args;
use rudder_api::patch::{PatchType, three_way};
use rudder_client::{DynamicObject, Patch, PatchParams, PostParams};
use serde_json::Value;

use super::{DryRun, api, kind_name};
use crate::error::{Reported, when_error};
use crate::manifest::{self, Manifest};
use crate::session::Session;

/// The annotation kubectl keeps the applied configuration in.
pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// `apply` flags.
#[derive(Debug, Clone, Default, Args)]
pub struct ApplyArgs {
    /// Files, directories or `-` (stdin) with the configuration to apply.
    #[arg(short = 'f', long = "filename")]
    pub filenames: Vec<String>,
    /// Process directories of -f recursively.
    #[arg(short = 'R', long)]
    pub recursive: bool,
    /// `none`, `client` (print only) or `server` (validate without storing).
    #[arg(long, default_value = "none")]
    pub dry_run: String,
}

/// What apply did to one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It did not exist.
    Created,
    /// It was patched.
    Configured,
    /// The patch was empty.
    Unchanged,
}

impl Outcome {
    fn word(self) -> &'static str {
        match self {
            Outcome::Created => "created",
            Outcome::Configured => "configured",
            Outcome::Unchanged => "unchanged",
        }
    }
}

/// The configuration as sent: the manifest with the last-applied annotation holding
/// the manifest itself (without that annotation), byte for byte as kubectl writes it:
/// Go's `json.Encoder` output of the object as an unstructured map (keys sorted,
/// compact, `<`, `>`, `&` escaped as `\u003c`…, a trailing newline), and with
/// `metadata.annotations` always present, `{}` when the manifest has none.
pub fn modified_configuration(object: &Value) -> anyhow::Result<Value> {
    let mut original = object.clone();
    let Some(meta) = original.get_mut("metadata").and_then(Value::as_object_mut) else {
        anyhow::bail!("the object has no metadata");
    };
    let annotations = meta
        .entry("annotations")
        .or_insert_with(|| Value::Object(Default::default()));
    if annotations.is_null() {
        *annotations = Value::Object(Default::default());
    }
    if let Value::Object(map) = annotations {
        map.remove(LAST_APPLIED);
    }
    let text = go_json(&original);
    let mut modified = original;
    if let Some(Value::Object(map)) = modified.pointer_mut("/metadata/annotations") {
        map.insert(LAST_APPLIED.to_string(), Value::String(text));
    }
    Ok(modified)
}

/// `value` as Go's `json.NewEncoder(w).Encode` writes an unstructured map: compact,
/// object keys sorted, HTML-safe string escapes, integral floats without a fraction,
/// and a trailing newline.
pub fn go_json(value: &Value) -> String {
    let mut out = String::new();
    write_go_json(value, &mut out);
    out.push('\n');
    out
}

fn write_go_json(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&go_number(n)),
        Value::String(s) => write_go_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_go_json(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_go_string(key, out);
                out.push(':');
                write_go_json(&map[key], out);
            }
            out.push('}');
        }
    }
}

/// A number as Go prints an `int64` or a `float64` (`1e+21` style above 1e21, `1e-7`
/// below 1e-6, otherwise the shortest decimal).
fn go_number(n: &serde_json::Number) -> String {
    if n.is_i64() || n.is_u64() {
        return n.to_string();
    }
    let f = n.as_f64().unwrap_or_default();
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let text = format!("{f:e}");
        // Go's encoding/json writes `1e+21` and `1e-7` (it trims `e-07`).
        match text.split_once('e') {
            Some((mantissa, exp)) if !exp.starts_with('-') => format!("{mantissa}e+{exp}"),
            _ => text,
        }
    } else if f.fract() == 0.0 {
        format!("{f:.0}")
    } else {
        format!("{f}")
    }
}

fn write_go_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The patch for an existing object: `{}` when nothing changes.
pub fn apply_patch(modified: &Value, live: &Value, kind: &str) -> anyhow::Result<Value> {
    let original: Option<Value> = live
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(LAST_APPLIED))
        .and_then(Value::as_str)
        .and_then(|text| serde_json::from_str(text).ok());
    Ok(three_way(
        original.as_ref(),
        modified,
        live,
        PatchType::for_kind(kind),
    )?)
}

/// Runs `apply`.
pub async fn run(args: ApplyArgs, session: &mut Session<'_>) -> anyhow::Result<()> {
    let manifests = manifest::read(&args.filenames, args.recursive, session.io)?;
    let namespace = session.namespace()?;
    let dry_run = DryRun::parse(&args.dry_run)?;
    let suffix = dry_run.suffix();
    let mut failed = false;
    for m in &manifests {
        match apply_one(session, m, &namespace, dry_run).await {
            Ok((kind, outcome)) => {
                session.print(&format!("{kind}/{} {}{suffix}\n", m.name(), outcome.word()));
            }
            Err(err) => {
                let verb = if err.is::<Creating>() {
                    "creating"
                } else {
                    "applying patch"
                };
                let err = match err.downcast::<Creating>() {
                    Ok(Creating(inner)) => inner,
                    Err(other) => other,
                };
                let line = if verb == "creating" {
                    when_error(&err, "creating", &m.source)
                } else {
                    crate::error::error_line(&err)
                };
                session.eprint(&format!("{line}\n"));
                failed = true;
            }
        }
    }
    if failed {
        return Err(Reported.into());
    }
    Ok(())
}

/// A failure while creating (worded `error when creating "file"`).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Creating(anyhow::Error);

async fn apply_one(
    session: &mut Session<'_>,
    m: &Manifest,
    namespace: &str,
    dry_run: DryRun,
) -> anyhow::Result<(String, Outcome)> {
    let info = m.resource()?;
    let ns = m.target_namespace(info, namespace, session.global.namespace.as_deref())?;
    let api = api(session, info, ns.as_deref())?;
    // kubectl sets the target namespace on the object before it records it, so
    // the annotation names the namespace even when the manifest does not.
    let mut object = m.object.clone();
    if let Some(ns) = &ns {
        object["metadata"]["namespace"] = ns.clone().into();
    }
    let modified = modified_configuration(&object)?;
    let name = m.name();
    let Some(live) = api.get_opt(name).await? else {
        let params = PostParams {
            dry_run: dry_run == DryRun::Server,
            field_manager: Some("kubectl-client-side-apply".to_string()),
        };
        if dry_run != DryRun::Client {
            api.create(&params, &DynamicObject(modified))
                .await
                .map_err(|e| Creating(e.into()))?;
        }
        return Ok((kind_name(info), Outcome::Created));
    };
    let patch = apply_patch(&modified, &live.0, info.kind)?;
    if patch.as_object().is_some_and(|p| p.is_empty()) {
        return Ok((kind_name(info), Outcome::Unchanged));
    }
    let params = PatchParams {
        dry_run: dry_run == DryRun::Server,
        field_manager: Some("kubectl-client-side-apply".to_string()),
        force: false,
    };
    if dry_run != DryRun::Client {
        let _: DynamicObject = api.patch(name, &params, &Patch::Strategic(&patch)).await?;
    }
    Ok((kind_name(info), Outcome::Configured))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn last_applied_is_the_manifest_as_compact_json() {
        let manifest = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}});
        let modified = modified_configuration(&manifest).unwrap();
        assert_eq!(
            modified["metadata"]["annotations"][LAST_APPLIED],
            "{\"apiVersion\":\"v1\",\"data\":{\"a\":\"1\"},\"kind\":\"ConfigMap\",\"metadata\":{\"annotations\":{},\"name\":\"c\"}}\n"
        );
        // Applying the result again stores the same annotation.
        assert_eq!(modified_configuration(&modified).unwrap(), modified);
    }

    #[test]
    fn last_applied_is_byte_identical_to_kubectl() {
        // What kubectl 1.32 stored for the same manifest, read back from a real server.
        let manifest = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "nons", "namespace": "default", "annotations": {"keep": "1"}},
            "data": {"a": "<&>", "q": "\"\\\n\u{2028}\u{1}"}});
        let modified = modified_configuration(&manifest).unwrap();
        assert_eq!(
            modified["metadata"]["annotations"][LAST_APPLIED],
            "{\"apiVersion\":\"v1\",\"data\":{\"a\":\"\\u003c\\u0026\\u003e\",\"q\":\"\\\"\\\\\\n\\u2028\\u0001\"},\"kind\":\"ConfigMap\",\"metadata\":{\"annotations\":{\"keep\":\"1\"},\"name\":\"nons\",\"namespace\":\"default\"}}\n"
        );
        assert_eq!(modified["metadata"]["annotations"]["keep"], "1");
        assert_eq!(
            go_json(&json!([1, -2, 1.5, 3.0, 1e21, 1e-7, 0.000001, true, null])),
            "[1,-2,1.5,3,1e+21,1e-7,0.000001,true,null]\n"
        );
    }

    #[test]
    fn unchanged_changed_and_removed_fields() {
        let v1 = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "labels": {"a": "1"}},
            "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "c", "image": "nginx:1"}]}}}});
        let applied = modified_configuration(&v1).unwrap();
        let mut live = applied.clone();
        live["metadata"]["uid"] = json!("u1");
        live["status"] = json!({"replicas": 2});
        assert_eq!(
            apply_patch(&applied, &live, "Deployment").unwrap(),
            json!({})
        );

        let mut v2 = v1.clone();
        v2["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:2");
        v2["metadata"]["labels"] = json!({});
        let patch =
            apply_patch(&modified_configuration(&v2).unwrap(), &live, "Deployment").unwrap();
        assert_eq!(patch["metadata"]["labels"], json!({"a": null}));
        assert_eq!(
            patch["spec"]["template"]["spec"]["containers"],
            json!([{"image": "nginx:2", "name": "c"}])
        );
        assert_eq!(
            patch["spec"]["template"]["spec"]["$setElementOrder/containers"],
            json!([{"name": "c"}])
        );
    }
}
