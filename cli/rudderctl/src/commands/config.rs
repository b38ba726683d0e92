//! `rudderctl config view|current-context|use-context|get-contexts|set-context`:
//! kubeconfig files read and written as generic YAML so fields Rudder does not model
//! (extensions, exec plugins) survive a `use-context`.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use rudder_client::config::kubeconfig_paths;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::output::{self, tabwriter::TABLE};
use crate::session::Session;

/// `config` subcommands.
#[derive(Debug, Clone, Args)]
pub struct ConfigArgs {
    /// The subcommand.
    #[command(subcommand)]
    pub command: ConfigCommand,
}

/// What `config` does.
#[derive(Debug, Clone, Subcommand)]
pub enum ConfigCommand {
    /// Display merged kubeconfig settings.
    View(ViewArgs),
    /// Display the current-context.
    CurrentContext,
    /// Set the current-context in a kubeconfig file.
    UseContext {
        /// The context to switch to.
        name: String,
    },
    /// Describe one or many contexts.
    GetContexts {
        /// Only these contexts.
        names: Vec<String>,
        /// `name`: only the names.
        #[arg(short = 'o', long)]
        output: Option<String>,
        /// Don't print headers.
        #[arg(long)]
        no_headers: bool,
    },
    /// Set a context's namespace (`--current` for the current context); the
    /// namespace is the global `--namespace`, as kubectl parses it.
    SetContext {
        /// The context (omit with --current).
        name: Option<String>,
        /// Change the current context.
        #[arg(long)]
        current: bool,
    },
}

/// `config view` flags.
#[derive(Debug, Clone, Default, Args)]
pub struct ViewArgs {
    /// Show certificate data and tokens.
    #[arg(long)]
    pub raw: bool,
    /// Only what the current context uses.
    #[arg(long)]
    pub minify: bool,
    /// `yaml` (default) or `json`.
    #[arg(short = 'o', long)]
    pub output: Option<String>,
}

/// The kubeconfig files the flags and environment select, existing ones only
/// (an explicit `--kubeconfig` must exist).
fn files(session: &Session<'_>) -> anyhow::Result<Vec<PathBuf>> {
    let env = std::env::var("KUBECONFIG").ok();
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let explicit = session.global.kubeconfig.as_deref();
    let paths = kubeconfig_paths(explicit, env.as_deref(), home.as_deref());
    if let Some(path) = explicit
        && !path.exists()
    {
        anyhow::bail!("stat {}: no such file or directory", path.display());
    }
    Ok(paths.into_iter().filter(|p| p.exists()).collect())
}

fn load(path: &Path) -> anyhow::Result<Value> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("error loading config file \"{}\": {e}", path.display()))?;
    if text.trim().is_empty() {
        return Ok(json!({}));
    }
    let doc = serde_norway::Deserializer::from_str(&text);
    Value::deserialize(doc)
        .map_err(|e| anyhow::anyhow!("error loading config file \"{}\": {e}", path.display()))
}

/// Merges kubeconfigs as kubectl does: the first file to name a cluster, user or
/// context wins, and the first non-empty current-context.
pub fn merge(files: &[Value]) -> Value {
    let mut merged = Map::new();
    let mut current = String::new();
    for key in ["clusters", "contexts", "users"] {
        let mut items: Vec<Value> = Vec::new();
        for file in files {
            for item in file
                .get(key)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let name = item.get("name");
                if !items.iter().any(|i| i.get("name") == name) {
                    items.push(item.clone());
                }
            }
        }
        merged.insert(key.to_string(), Value::Array(items));
    }
    for file in files {
        if current.is_empty() {
            current = file
                .get("current-context")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
        }
    }
    merged.insert("apiVersion".to_string(), json!("v1"));
    merged.insert("kind".to_string(), json!("Config"));
    merged.insert("current-context".to_string(), json!(current));
    merged.insert("preferences".to_string(), json!({}));
    Value::Object(merged)
}

/// `config view`'s document: secrets redacted unless `raw`, only the current
/// context's entries with `minify`.
pub fn view(merged: &Value, raw: bool, minify: bool) -> anyhow::Result<Value> {
    let mut view = merged.clone();
    if minify {
        let current = view["current-context"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if current.is_empty() {
            anyhow::bail!("current-context must exist in order to minify");
        }
        let context = find(&view, "contexts", &current)
            .ok_or_else(|| anyhow::anyhow!("cannot locate context {current}"))?;
        let cluster = context
            .pointer("/context/cluster")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let user = context
            .pointer("/context/user")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        keep_only(&mut view, "contexts", &current);
        keep_only(&mut view, "clusters", &cluster);
        keep_only(&mut view, "users", &user);
    }
    if !raw {
        for cluster in view["clusters"].as_array_mut().into_iter().flatten() {
            redact(
                cluster.pointer_mut("/cluster/certificate-authority-data"),
                "DATA+OMITTED",
            );
        }
        for user in view["users"].as_array_mut().into_iter().flatten() {
            redact(
                user.pointer_mut("/user/client-certificate-data"),
                "DATA+OMITTED",
            );
            redact(user.pointer_mut("/user/client-key-data"), "DATA+OMITTED");
            redact(user.pointer_mut("/user/token"), "REDACTED");
            redact(user.pointer_mut("/user/password"), "REDACTED");
        }
    }
    Ok(view)
}

fn redact(field: Option<&mut Value>, with: &str) {
    if let Some(v) = field {
        *v = Value::String(with.to_string());
    }
}

fn keep_only(view: &mut Value, key: &str, name: &str) {
    if let Some(items) = view[key].as_array_mut() {
        items.retain(|i| i.get("name").and_then(Value::as_str) == Some(name));
    }
}

fn find<'a>(config: &'a Value, key: &str, name: &str) -> Option<&'a Value> {
    config[key]
        .as_array()?
        .iter()
        .find(|i| i.get("name").and_then(Value::as_str) == Some(name))
}

/// The file a change goes to: the explicit one, else the first that has the
/// context (or the first file).
fn target_file(files: &[PathBuf], loaded: &[Value], context: &str) -> anyhow::Result<usize> {
    if files.is_empty() {
        anyhow::bail!("no kubeconfig file to modify");
    }
    Ok(loaded
        .iter()
        .position(|f| find(f, "contexts", context).is_some())
        .unwrap_or(0))
}

fn save(path: &Path, value: &Value) -> anyhow::Result<()> {
    std::fs::write(path, output::to_yaml(value))
        .map_err(|e| anyhow::anyhow!("error writing {}: {e}", path.display()))
}

/// Runs `config`.
pub fn run(args: ConfigArgs, session: &mut Session<'_>) -> anyhow::Result<()> {
    let paths = files(session)?;
    let loaded: Vec<Value> = paths
        .iter()
        .map(|p| load(p))
        .collect::<anyhow::Result<_>>()?;
    let mut merged = merge(&loaded);
    if let Some(context) = &session.global.context {
        merged["current-context"] = json!(context);
    }
    let current = merged["current-context"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    match args.command {
        ConfigCommand::View(view_args) => {
            let doc = view(&merged, view_args.raw, view_args.minify)?;
            let text = match view_args.output.as_deref() {
                None | Some("yaml") => output::to_yaml(&doc),
                Some("json") => output::to_json(&doc),
                Some(other) => anyhow::bail!("--output {other} is not supported by config view"),
            };
            session.print(&text);
        }
        ConfigCommand::CurrentContext => {
            if current.is_empty() {
                anyhow::bail!("current-context is not set");
            }
            session.print(&format!("{current}\n"));
        }
        ConfigCommand::UseContext { name } => {
            if find(&merged, "contexts", &name).is_none() {
                anyhow::bail!("no context exists with the name: \"{name}\"");
            }
            let index = match &session.global.kubeconfig {
                Some(_) => 0,
                None => target_file(&paths, &loaded, &name)?,
            };
            let mut file = loaded[index].clone();
            file["current-context"] = json!(name);
            save(&paths[index], &file)?;
            session.print(&format!("Switched to context \"{name}\".\n"));
        }
        ConfigCommand::GetContexts {
            names,
            output,
            no_headers,
        } => {
            let contexts: Vec<&Value> = merged["contexts"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|c| {
                    names.is_empty()
                        || names
                            .iter()
                            .any(|n| c.get("name").and_then(Value::as_str) == Some(n))
                })
                .collect();
            if let Some(missing) = names
                .iter()
                .find(|n| find(&merged, "contexts", n).is_none())
            {
                anyhow::bail!("context {missing} not found");
            }
            let text = match output.as_deref() {
                Some("name") => contexts
                    .iter()
                    .map(|c| {
                        format!(
                            "{}\n",
                            c.get("name").and_then(Value::as_str).unwrap_or_default()
                        )
                    })
                    .collect(),
                None => {
                    let mut text = String::new();
                    if !no_headers {
                        text.push_str("CURRENT\tNAME\tCLUSTER\tAUTHINFO\tNAMESPACE\n");
                    }
                    for c in contexts {
                        let name = c.get("name").and_then(Value::as_str).unwrap_or_default();
                        let field = |k: &str| {
                            c.pointer(&format!("/context/{k}"))
                                .and_then(Value::as_str)
                                .unwrap_or_default()
                                .to_string()
                        };
                        let mark = if name == current { "*" } else { "" };
                        text.push_str(&format!(
                            "{mark}\t{name}\t{}\t{}\t{}\n",
                            field("cluster"),
                            field("user"),
                            field("namespace")
                        ));
                    }
                    TABLE.format(&text)
                }
                Some(other) => anyhow::bail!("output must be one of '' or 'name', not {other:?}"),
            };
            session.print(&text);
        }
        ConfigCommand::SetContext {
            name,
            current: use_current,
        } => {
            let namespace = session.global.namespace.clone();
            let name = match (name, use_current) {
                (Some(_), true) => anyhow::bail!("you cannot specify a context name and --current"),
                (Some(n), false) => n,
                (None, true) if current.is_empty() => anyhow::bail!("no current context is set"),
                (None, true) => current.clone(),
                (None, false) => {
                    anyhow::bail!("you must specify a non-empty context name or --current")
                }
            };
            let index = target_file(&paths, &loaded, &name)?;
            let mut file = loaded[index].clone();
            let existed = find(&file, "contexts", &name).is_some();
            if !existed {
                let contexts = file
                    .as_object_mut()
                    .ok_or_else(|| anyhow::anyhow!("the kubeconfig is not a map"))?
                    .entry("contexts")
                    .or_insert_with(|| json!([]));
                if let Some(list) = contexts.as_array_mut() {
                    list.push(json!({"name": name, "context": {}}));
                }
            }
            for context in file["contexts"].as_array_mut().into_iter().flatten() {
                if context.get("name").and_then(Value::as_str) == Some(name.as_str())
                    && let Some(ns) = &namespace
                {
                    context["context"]["namespace"] = json!(ns);
                }
            }
            save(&paths[index], &file)?;
            let verb = if existed { "modified" } else { "created" };
            session.print(&format!("Context \"{name}\" {verb}.\n"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(current: &str, contexts: &[(&str, &str)]) -> Value {
        json!({
            "apiVersion": "v1", "kind": "Config", "current-context": current,
            "clusters": contexts.iter().map(|(_, c)| json!({"name": c, "cluster": {"server": format!("https://{c}:6443"), "certificate-authority-data": "Q0E="}})).collect::<Vec<_>>(),
            "users": [{"name": "admin", "user": {"client-certificate-data": "Q0VSVA==", "client-key-data": "S0VZ", "token": "secret"}}],
            "contexts": contexts.iter().map(|(n, c)| json!({"name": n, "context": {"cluster": c, "user": "admin"}})).collect::<Vec<_>>(),
        })
    }

    #[test]
    fn view_redacts_and_minifies() {
        let merged = merge(&[config("dev", &[("dev", "c1"), ("prod", "c2")])]);
        let viewed = view(&merged, false, true).unwrap();
        assert_eq!(
            output::to_yaml(&viewed),
            "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: DATA+OMITTED\n    server: https://c1:6443\n  name: c1\ncontexts:\n- context:\n    cluster: c1\n    user: admin\n  name: dev\ncurrent-context: dev\nkind: Config\npreferences: {}\nusers:\n- name: admin\n  user:\n    client-certificate-data: DATA+OMITTED\n    client-key-data: DATA+OMITTED\n    token: REDACTED\n"
        );
        let raw = view(&merged, true, false).unwrap();
        assert_eq!(raw["users"][0]["user"]["token"], "secret");
        assert_eq!(raw["contexts"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn merge_is_first_wins() {
        let merged = merge(&[
            config("", &[("dev", "c1")]),
            config("prod", &[("dev", "c9"), ("prod", "c2")]),
        ]);
        assert_eq!(merged["current-context"], "prod");
        assert_eq!(merged["contexts"][0]["context"]["cluster"], "c1");
        assert_eq!(merged["contexts"].as_array().unwrap().len(), 2);
    }
}
