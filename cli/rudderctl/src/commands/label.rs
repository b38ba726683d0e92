//! `rudderctl label` (and `annotate`): `key=value` sets, `key-` removes, an existing
//! key changes only with `--overwrite`; sent as a JSON merge patch of the map.

use std::collections::BTreeMap;

use clap::Args;
use rudder_client::{ListParams, Patch, PatchParams};
use serde_json::{Map, Value, json};

use super::{Target, api, kind_name, name_of, parse_targets};
use crate::error::{Reported, client_error_line};
use crate::output::{self, OutputFormat};
use crate::session::Session;

/// `label` / `annotate` flags.
#[derive(Debug, Clone, Default, Args)]
pub struct LabelArgs {
    /// TYPE NAME... KEY=VAL... KEY-... (or TYPE/NAME).
    #[arg(required = true)]
    pub args: Vec<String>,
    /// Allow changing a key that already has a value.
    #[arg(long)]
    pub overwrite: bool,
    /// Only objects matching this label selector.
    #[arg(short = 'l', long)]
    pub selector: Option<String>,
    /// Every object of the type in the namespace.
    #[arg(long)]
    pub all: bool,
    /// Only change if the object is still at this resourceVersion.
    #[arg(long)]
    pub resource_version: Option<String>,
    /// Print the object after the change: yaml|json|name.
    #[arg(short = 'o', long)]
    pub output: Option<String>,
}

/// Which map of `metadata` the command edits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// `label`.
    Labels,
    /// `annotate`.
    Annotations,
}

impl Field {
    fn key(self) -> &'static str {
        match self {
            Field::Labels => "labels",
            Field::Annotations => "annotations",
        }
    }
    fn noun(self) -> &'static str {
        match self {
            Field::Labels => "label",
            Field::Annotations => "annotation",
        }
    }
}

/// Parsed `KEY=VAL` and `KEY-` arguments.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    /// Keys to set.
    pub set: BTreeMap<String, String>,
    /// Keys to remove.
    pub remove: Vec<String>,
}

/// Splits the arguments into resources and changes (changes come last).
pub fn split_args(args: &[String], field: Field) -> anyhow::Result<(Vec<String>, Changes)> {
    let mut resources = Vec::new();
    let mut changes = Changes::default();
    for arg in args {
        if let Some((k, v)) = arg.split_once('=') {
            if k.is_empty() {
                anyhow::bail!("invalid {}: {arg:?}", field.noun());
            }
            if changes.set.insert(k.to_string(), v.to_string()).is_some() {
                anyhow::bail!("can not modify {:?} twice", k);
            }
        } else if let Some(k) = arg
            .strip_suffix('-')
            .filter(|k| !k.is_empty() && !resources.is_empty())
        {
            changes.remove.push(k.to_string());
        } else if changes.set.is_empty() && changes.remove.is_empty() {
            resources.push(arg.clone());
        } else {
            anyhow::bail!(
                "all resources must be specified before {} changes: {arg}",
                field.noun()
            );
        }
    }
    if changes.set.is_empty() && changes.remove.is_empty() {
        anyhow::bail!("at least one {} update is required", field.noun());
    }
    if let Some(k) = changes.remove.iter().find(|k| changes.set.contains_key(*k)) {
        anyhow::bail!(
            "can not both modify and remove the following {}(s) in the same command: {k}",
            field.noun()
        );
    }
    Ok((resources, changes))
}

/// The merge patch of one object's map, or the kubectl error when a key exists
/// and `overwrite` is false. None when nothing would change.
pub fn plan(
    current: &BTreeMap<String, String>,
    changes: &Changes,
    overwrite: bool,
    field: Field,
    resource_version: Option<&str>,
) -> anyhow::Result<Option<Value>> {
    let mut map = Map::new();
    for (k, v) in &changes.set {
        match current.get(k) {
            Some(old) if old == v => {}
            Some(old) if !overwrite => match field {
                Field::Labels => {
                    anyhow::bail!("'{k}' already has a value ({old}), and --overwrite is false")
                }
                // kubectl words the two verbs differently.
                Field::Annotations => anyhow::bail!(
                    "--overwrite is false but found the following declared annotation(s): '{k}' already has a value ({old})"
                ),
            },
            _ => {
                map.insert(k.clone(), Value::String(v.clone()));
            }
        }
    }
    for k in &changes.remove {
        if current.contains_key(k) {
            map.insert(k.clone(), Value::Null);
        }
    }
    if map.is_empty() {
        return Ok(None);
    }
    let mut metadata = Map::new();
    metadata.insert(field.key().to_string(), Value::Object(map));
    if let Some(rv) = resource_version {
        metadata.insert("resourceVersion".to_string(), json!(rv));
    }
    Ok(Some(json!({ "metadata": metadata })))
}

/// Runs `label` or `annotate`.
pub async fn run(args: LabelArgs, field: Field, session: &mut Session<'_>) -> anyhow::Result<()> {
    let format = OutputFormat::parse(args.output.as_deref()).map_err(anyhow::Error::msg)?;
    let (resources, changes) = split_args(&args.args, field)?;
    let namespace = session.namespace()?;
    let mut failed = false;
    for Target { info, names } in parse_targets(&resources)? {
        super::no_names_with_selector(&names, args.selector.as_deref(), args.all)?;
        let api = api(session, info, info.namespaced.then_some(namespace.as_str()))?;
        let objects: Vec<Value> = if names.is_empty() {
            if args.selector.is_none() && !args.all {
                anyhow::bail!("resource(s) were provided, but no name was specified");
            }
            let params = ListParams {
                label_selector: args.selector.clone(),
                ..Default::default()
            };
            api.list(&params)
                .await?
                .items
                .into_iter()
                .map(|o| o.0)
                .collect()
        } else {
            let mut objects = Vec::new();
            for name in &names {
                match api.get(name).await {
                    Ok(o) => objects.push(o.0),
                    Err(err) => {
                        session.eprint(&format!("{}\n", client_error_line(&err)));
                        failed = true;
                    }
                }
            }
            objects
        };
        for object in objects {
            let name = name_of(&object).to_string();
            let current = crate::output::columns::string_map(
                object.pointer(&format!("/metadata/{}", field.key())),
            );
            let patch = match plan(
                &current,
                &changes,
                args.overwrite,
                field,
                args.resource_version.as_deref(),
            ) {
                Ok(p) => p,
                Err(err) => {
                    session.eprint(&format!("error: {err}\n"));
                    failed = true;
                    continue;
                }
            };
            let removed_only = changes.set.is_empty();
            let verb = match (field, &patch) {
                (Field::Labels, None) => "not labeled",
                (Field::Labels, Some(_)) if removed_only && !args.overwrite => "unlabeled",
                (Field::Labels, Some(_)) => "labeled",
                (Field::Annotations, _) => "annotated",
            };
            let result = match &patch {
                Some(patch) => api
                    .patch(&name, &PatchParams::default(), &Patch::Merge(patch))
                    .await
                    .map(|o| o.0),
                None => Ok(object.clone()),
            };
            match result {
                Ok(updated) => {
                    let text = match &format {
                        OutputFormat::Yaml => output::to_yaml(&updated),
                        OutputFormat::Json => output::to_json(&updated),
                        _ => format!("{}/{name} {verb}\n", kind_name(info)),
                    };
                    session.print(&text);
                }
                Err(err) => {
                    session.eprint(&format!("{}\n", client_error_line(&err)));
                    failed = true;
                }
            }
        }
    }
    if failed {
        return Err(Reported.into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn arguments_split_into_resources_and_changes() {
        let (res, changes) =
            split_args(&strings(&["pods", "web", "app=v2", "tier-"]), Field::Labels).unwrap();
        assert_eq!(res, ["pods", "web"]);
        assert_eq!(
            changes.set,
            BTreeMap::from([("app".to_string(), "v2".to_string())])
        );
        assert_eq!(changes.remove, ["tier"]);
        let (res, changes) = split_args(
            &strings(&["pod/web", "example.com/owner-"]),
            Field::Annotations,
        )
        .unwrap();
        assert_eq!(res, ["pod/web"]);
        assert_eq!(changes.remove, ["example.com/owner"]);
        assert_eq!(
            split_args(&strings(&["pods", "web"]), Field::Labels)
                .unwrap_err()
                .to_string(),
            "at least one label update is required"
        );
        assert!(split_args(&strings(&["pods", "a=1", "web"]), Field::Labels).is_err());
        assert!(split_args(&strings(&["pods", "web", "a=1", "a-"]), Field::Labels).is_err());
    }

    #[test]
    fn overwrite_rule_and_patches() {
        let current = BTreeMap::from([("app".to_string(), "web".to_string())]);
        let changes = Changes {
            set: BTreeMap::from([("app".to_string(), "api".to_string())]),
            remove: vec![],
        };
        assert_eq!(
            plan(&current, &changes, false, Field::Labels, None)
                .unwrap_err()
                .to_string(),
            "'app' already has a value (web), and --overwrite is false"
        );
        assert_eq!(
            plan(&current, &changes, true, Field::Labels, None).unwrap(),
            Some(json!({"metadata": {"labels": {"app": "api"}}}))
        );
        let remove = Changes {
            set: BTreeMap::new(),
            remove: vec!["app".to_string(), "absent".to_string()],
        };
        assert_eq!(
            plan(&current, &remove, false, Field::Annotations, Some("7")).unwrap(),
            Some(json!({"metadata": {"annotations": {"app": null}, "resourceVersion": "7"}}))
        );
        let same = Changes {
            set: current.clone(),
            remove: vec![],
        };
        assert_eq!(
            plan(&current, &same, false, Field::Labels, None).unwrap(),
            None
        );
    }
}
