//! `metadata.managedFields`: who owns which fields. One entry per manager,
//! operation (`Apply` or `Update`) and subresource, stored in upstream's order
//! (Apply entries first, then by time and manager).

use serde_json::{Map, Value, json};

use super::fieldset::FieldSet;
use crate::validation::FieldError;

/// How a manager last wrote its fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// Server-side apply: the manager's set is its configuration.
    Apply,
    /// Create, update or a non-apply patch: the fields the manager changed.
    Update,
}

impl Operation {
    fn as_str(self) -> &'static str {
        match self {
            Operation::Apply => "Apply",
            Operation::Update => "Update",
        }
    }
}

/// One `managedFields` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedEntry {
    /// The field manager (`kubectl`, `kube-controller-manager` ...).
    pub manager: String,
    /// How it wrote.
    pub operation: Operation,
    /// The apiVersion its fields are written in.
    pub api_version: String,
    /// When the entry last changed (RFC 3339), if known.
    pub time: Option<String>,
    /// `status`, `scale` ..., or "" for the main resource.
    pub subresource: String,
    /// The fields it owns.
    pub fields: FieldSet,
}

impl ManagedEntry {
    /// Whether this entry belongs to `manager` writing with `operation` to `subresource`.
    pub fn is(&self, manager: &str, operation: Operation, subresource: &str) -> bool {
        self.manager == manager && self.operation == operation && self.subresource == subresource
    }

    /// The manager as conflicts name it: `"kubectl"`, `"kubectl" with subresource
    /// "scale"`, `"kubectl-edit" using apps/v1` (updaters are named with their
    /// version, as upstream prints them).
    pub fn describe(&self) -> String {
        let mut out = Value::String(self.manager.clone()).to_string();
        if !self.subresource.is_empty() {
            out.push_str(&format!(
                " with subresource {}",
                Value::String(self.subresource.clone())
            ));
        }
        if self.operation == Operation::Update {
            out.push_str(&format!(" using {}", self.api_version));
        }
        out
    }

    /// The order conflicts list managers in (upstream sorts their encoded identity).
    pub fn identity(&self) -> String {
        let mut id = json!({"manager": self.manager, "operation": self.operation.as_str()});
        if self.operation == Operation::Update {
            id["apiVersion"] = json!(self.api_version);
        }
        if !self.subresource.is_empty() {
            id["subresource"] = json!(self.subresource);
        }
        id.to_string()
    }
}

/// Checks a request's `managedFields` as upstream's ObjectMeta validation does.
pub fn validate(list: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (n, entry) in list.as_array().into_iter().flatten().enumerate() {
        let at = format!("metadata.managedFields[{n}]");
        let operation = entry.get("operation").cloned().unwrap_or(Value::Null);
        if !matches!(operation.as_str(), Some("Apply" | "Update")) {
            errors.push(FieldError::invalid(
                &format!("{at}.operation"),
                Value::String(operation.as_str().unwrap_or("").to_string()),
                "must be `Apply` or `Update`",
            ));
        }
        match entry.get("fieldsType").and_then(Value::as_str) {
            None | Some("" | "FieldsV1") => {}
            Some(other) => errors.push(FieldError::invalid(
                &format!("{at}.fieldsType"),
                Value::String(other.to_string()),
                "must be `FieldsV1`",
            )),
        }
        let manager = entry.get("manager").and_then(Value::as_str).unwrap_or("");
        if manager.chars().count() > 128 {
            errors.push(FieldError::too_long(&format!("{at}.manager"), 128));
        }
    }
    errors
}

/// Decodes `managedFields`; the error says what does not decode.
pub fn decode(list: &Value) -> Result<Vec<ManagedEntry>, String> {
    let Value::Array(items) = list else {
        return Err("managedFields must be a list".into());
    };
    items.iter().map(decode_entry).collect()
}

fn decode_entry(entry: &Value) -> Result<ManagedEntry, String> {
    let text = |field: &str| -> Result<String, String> {
        match entry.get(field) {
            None | Some(Value::Null) => Ok(String::new()),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(_) => Err(format!("{field} must be a string")),
        }
    };
    let operation = match text("operation")?.as_str() {
        "Apply" => Operation::Apply,
        "Update" => Operation::Update,
        other => return Err(format!("unknown operation {other:?}")),
    };
    match text("fieldsType")?.as_str() {
        "FieldsV1" => {}
        other => return Err(format!("field type {other:?} unsupported")),
    }
    let fields = FieldSet::from_fields_v1(entry.get("fieldsV1").unwrap_or(&json!({})))?;
    Ok(ManagedEntry {
        manager: text("manager")?,
        operation,
        api_version: text("apiVersion")?,
        time: Some(text("time")?).filter(|t| !t.is_empty()),
        subresource: text("subresource")?,
        fields,
    })
}

/// The `managedFields` list of `entries`, in upstream's order; entries that own
/// nothing are left out.
pub fn encode(entries: &[ManagedEntry]) -> Value {
    let mut sorted: Vec<&ManagedEntry> = entries.iter().filter(|e| !e.fields.is_empty()).collect();
    sorted.sort_by(|a, b| {
        (
            a.operation.as_str(),
            &a.time,
            &a.manager,
            &a.api_version,
            &a.subresource,
        )
            .cmp(&(
                b.operation.as_str(),
                &b.time,
                &b.manager,
                &b.api_version,
                &b.subresource,
            ))
    });
    Value::Array(
        sorted
            .into_iter()
            .map(|e| {
                let mut m = Map::new();
                m.insert("manager".into(), json!(e.manager));
                m.insert("operation".into(), json!(e.operation.as_str()));
                m.insert("apiVersion".into(), json!(e.api_version));
                if let Some(t) = &e.time {
                    m.insert("time".into(), json!(t));
                }
                m.insert("fieldsType".into(), json!("FieldsV1"));
                m.insert("fieldsV1".into(), e.fields.to_fields_v1());
                if !e.subresource.is_empty() {
                    m.insert("subresource".into(), json!(e.subresource));
                }
                Value::Object(m)
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_in_upstream_order() {
        let list = json!([
            {"manager": "kubectl-edit", "operation": "Update", "apiVersion": "apps/v1",
             "time": "2026-01-01T00:00:02Z", "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:replicas": {}}}},
            {"manager": "kubectl", "operation": "Apply", "apiVersion": "apps/v1",
             "time": "2026-01-01T00:00:03Z", "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {}},
             "subresource": "status"},
        ]);
        let entries = decode(&list).unwrap();
        assert_eq!(entries[0].describe(), "\"kubectl-edit\" using apps/v1");
        assert_eq!(
            entries[1].describe(),
            "\"kubectl\" with subresource \"status\""
        );
        let encoded = encode(&entries);
        assert_eq!(encoded[0]["manager"], "kubectl");
        assert_eq!(encoded[1]["manager"], "kubectl-edit");
        assert_eq!(decode(&encoded).unwrap().len(), 2);
        assert!(decode(&json!([{"operation": "Update", "fieldsType": "FieldsV2"}])).is_err());
        assert!(decode(&json!("x")).is_err());
    }

    #[test]
    fn validation_words_as_upstream() {
        let errors =
            validate(&json!([{"manager": "m", "operation": "Patch", "fieldsType": "FieldsV1"}]));
        assert_eq!(
            errors[0].to_string(),
            "metadata.managedFields[0].operation: Invalid value: \"Patch\": must be `Apply` or `Update`"
        );
        assert!(validate(&json!([{"manager": "m", "operation": "Apply"}])).is_empty());
    }
}
