//! `rudderctl get`: one or many resources as kubectl prints them, and `-w` to keep
//! printing changes.

use clap::Args;
use futures::StreamExt;
use rudder_api::resource::ResourceInfo;
use rudder_client::{ListParams, WatchEvent, WatchParams};
use serde_json::Value;

use super::{Target, api, parse_targets, with_type};
use crate::error::{Reported, client_error_line, error_line};
use crate::manifest;
use crate::output::columns::{self, TableOptions};
use crate::output::{self, OutputFormat, tabwriter};
use crate::session::Session;

/// `get` flags.
#[derive(Debug, Clone, Default, Args)]
pub struct GetArgs {
    /// TYPE[,TYPE...] [NAME...] or TYPE/NAME...
    pub resources: Vec<String>,
    /// Output format: wide|yaml|json|name|jsonpath=...|custom-columns=...
    #[arg(short = 'o', long)]
    pub output: Option<String>,
    /// Label selector (`app=web,tier!=db`).
    #[arg(short = 'l', long)]
    pub selector: Option<String>,
    /// Field selector (`metadata.name=web`).
    #[arg(long)]
    pub field_selector: Option<String>,
    /// List across all namespaces.
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
    /// After listing, watch for changes.
    #[arg(short = 'w', long)]
    pub watch: bool,
    /// Watch for changes without listing first.
    #[arg(long)]
    pub watch_only: bool,
    /// Show all labels as the last column.
    #[arg(long)]
    pub show_labels: bool,
    /// Don't print headers.
    #[arg(long)]
    pub no_headers: bool,
    /// Print the kind with names.
    #[arg(long)]
    pub show_kind: bool,
    /// Objects named in these files.
    #[arg(short = 'f', long = "filename")]
    pub filenames: Vec<String>,
    /// Process directories of -f recursively.
    #[arg(short = 'R', long)]
    pub recursive: bool,
    /// Treat "resource not found" as a successful retrieval.
    #[arg(long)]
    pub ignore_not_found: bool,
    /// Keep `metadata.managedFields` in yaml and json output.
    #[arg(long)]
    pub show_managed_fields: bool,
}

/// Drops `metadata.managedFields`, which kubectl hides unless asked.
fn without_managed_fields(mut object: Value) -> Value {
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
    }
    object
}

/// Objects found for one resource type.
struct Found {
    info: &'static ResourceInfo,
    objects: Vec<Value>,
    resource_version: String,
}

/// Runs `get`.
pub async fn run(args: GetArgs, session: &mut Session<'_>) -> anyhow::Result<()> {
    let format = OutputFormat::parse(args.output.as_deref()).map_err(anyhow::Error::msg)?;
    let mut targets = parse_targets(&args.resources)?;
    let mut file_namespaces: Vec<Option<String>> = Vec::new();
    if !args.filenames.is_empty() {
        let manifests = manifest::read(&args.filenames, args.recursive, session.io)?;
        let namespace = session.namespace()?;
        for m in &manifests {
            let info = m.resource()?;
            let ns = m.target_namespace(info, &namespace, session.global.namespace.as_deref())?;
            targets.push(Target {
                info,
                names: vec![m.name().to_string()],
            });
            file_namespaces.push(ns);
        }
    } else if targets.is_empty() {
        session.eprint("You must specify the type of resource to get. Use \"rudderctl api-resources\" for a complete list of supported resources.\n\n");
        anyhow::bail!(
            "Required resource not specified.\nUse \"rudderctl explain <resource>\" for a detailed description of that resource (e.g. rudderctl explain pods).\nSee 'rudderctl get -h' for help and examples"
        );
    }
    let names_given = targets.iter().any(|t| !t.names.is_empty());
    if names_given && args.selector.is_some() {
        anyhow::bail!("name cannot be provided when a selector is specified");
    }
    if (args.watch || args.watch_only) && targets.len() > 1 && file_namespaces.is_empty() {
        anyhow::bail!("you may only specify a single resource type");
    }
    let namespace = session.namespace()?;
    let list_namespace = (!args.all_namespaces).then_some(namespace.as_str());
    let mut failed = false;
    let mut found: Vec<Found> = Vec::new();
    for (idx, target) in targets.iter().enumerate() {
        let ns = match file_namespaces.get(idx) {
            Some(ns) => ns.clone(),
            None => list_namespace.map(str::to_string),
        };
        let api = api(session, target.info, ns.as_deref())?;
        let mut objects = Vec::new();
        let mut resource_version = String::new();
        if target.names.is_empty() {
            if !args.watch_only {
                let params = ListParams {
                    label_selector: args.selector.clone(),
                    field_selector: args.field_selector.clone(),
                    ..Default::default()
                };
                let list = api.list(&params).await?;
                resource_version = list.resource_version().to_string();
                objects.extend(list.items.into_iter().map(|o| with_type(target.info, o.0)));
            }
        } else {
            for name in &target.names {
                match api.get(name).await {
                    Ok(object) => objects.push(with_type(target.info, object.0)),
                    Err(err) if err.is_not_found() && args.ignore_not_found => {}
                    Err(err) => {
                        session.eprint(&format!("{}\n", client_error_line(&err)));
                        failed = true;
                    }
                }
            }
            // A watch of named objects starts after the newest of them.
            resource_version = objects
                .iter()
                .filter_map(|o| {
                    o.pointer("/metadata/resourceVersion")?
                        .as_str()?
                        .parse::<u64>()
                        .ok()
                })
                .max()
                .map(|rv| rv.to_string())
                .unwrap_or_default();
        }
        match found.iter_mut().find(|f| f.info == target.info) {
            Some(f) => f.objects.extend(objects),
            None => found.push(Found {
                info: target.info,
                objects,
                resource_version,
            }),
        }
    }
    let single_item = targets.len() == 1 && targets[0].names.len() == 1;
    let with_kind = args.show_kind || found.len() > 1;
    let options = TableOptions {
        wide: format == OutputFormat::Wide,
        with_namespace: args.all_namespaces,
        show_labels: args.show_labels,
        with_kind,
    };
    if !args.show_managed_fields {
        for f in &mut found {
            f.objects = std::mem::take(&mut f.objects)
                .into_iter()
                .map(without_managed_fields)
                .collect();
        }
    }
    let now = session.io.now();
    let total: usize = found.iter().map(|f| f.objects.len()).sum();
    if !args.watch_only {
        let text = render(&found, &format, options, args.no_headers, single_item, now);
        session.print(&text);
    }
    if total == 0 && !names_given && !args.watch_only && format.is_table() {
        let scope = if args.all_namespaces || !found.iter().any(|f| f.info.namespaced) {
            String::new()
        } else {
            format!(" in {namespace} namespace")
        };
        session.eprint(&format!("No resources found{scope}.\n"));
    }
    if args.watch || args.watch_only {
        let Some(first) = found.first() else {
            return Ok(());
        };
        let names = targets.first().map(|t| t.names.clone()).unwrap_or_default();
        watch(
            session,
            first,
            &names,
            &args,
            &format,
            options,
            list_namespace,
        )
        .await?;
    }
    if failed {
        return Err(Reported.into());
    }
    Ok(())
}

/// Prints what was found in `format`.
fn render(
    found: &[Found],
    format: &OutputFormat,
    options: TableOptions,
    no_headers: bool,
    single_item: bool,
    now: i64,
) -> String {
    let all: Vec<Value> = found
        .iter()
        .flat_map(|f| f.objects.iter().cloned())
        .collect();
    let document = || {
        if single_item && all.len() == 1 {
            all[0].clone()
        } else {
            output::list_of(all.clone())
        }
    };
    match format {
        OutputFormat::Table | OutputFormat::Wide => {
            let mut text = String::new();
            for f in found.iter().filter(|f| !f.objects.is_empty()) {
                if !text.is_empty() && !no_headers {
                    text.push('\n');
                }
                let table = columns::table(f.info.kind, f.info.group, &f.objects, options, now);
                text.push_str(&columns::render(&table, no_headers));
            }
            text
        }
        OutputFormat::Yaml => {
            if all.is_empty() && !single_item {
                return output::to_yaml(&output::list_of(Vec::new()));
            }
            output::to_yaml(&document())
        }
        OutputFormat::Json => output::to_json(&document()),
        OutputFormat::Name => found
            .iter()
            .flat_map(|f| {
                f.objects
                    .iter()
                    .map(|o| format!("{}\n", output::resource_name(f.info.kind, f.info.group, o)))
            })
            .collect(),
        OutputFormat::JsonPath(path) => path.execute(&document()),
        OutputFormat::CustomColumns(columns) => output::custom_columns(columns, &all, no_headers),
    }
}

/// Follows changes of one resource type from the listed resourceVersion, printing
/// a row (or the object in the chosen format) per event, until the stream ends.
async fn watch(
    session: &mut Session<'_>,
    found: &Found,
    names: &[String],
    args: &GetArgs,
    format: &OutputFormat,
    options: TableOptions,
    namespace: Option<&str>,
) -> anyhow::Result<()> {
    let api = api(session, found.info, namespace)?;
    let params = WatchParams {
        label_selector: args.selector.clone(),
        field_selector: args.field_selector.clone(),
        bookmarks: false,
        timeout_seconds: None,
    };
    let now = session.io.now();
    // kubectl's tab writer remembers column widths between flushes.
    let mut widths = if args.watch_only {
        Vec::new()
    } else {
        let initial = columns::table(
            found.info.kind,
            found.info.group,
            &found.objects,
            options,
            now,
        );
        let mut rows = vec![initial.header.clone()];
        rows.extend(initial.rows);
        tabwriter::TABLE.widths(&rows)
    };
    let mut header_printed = !args.watch_only || args.no_headers;
    let mut stream = api.watch(&params, &found.resource_version).await?.boxed();
    while let Some(event) = stream.next().await {
        let object = match event {
            Ok(WatchEvent::Added(o) | WatchEvent::Modified(o) | WatchEvent::Deleted(o)) => o.0,
            Ok(WatchEvent::Bookmark { .. }) => continue,
            Ok(WatchEvent::Error(status)) => {
                anyhow::bail!(
                    "Error from server ({}): {}",
                    status.reason.unwrap_or_default(),
                    status.message.unwrap_or_default()
                );
            }
            Err(err) => {
                session.eprint(&format!("{}\n", error_line(&err.into())));
                return Err(Reported.into());
            }
        };
        let name = object
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !names.is_empty() && !names.iter().any(|n| n == name) {
            continue;
        }
        let object = with_type(found.info, object);
        let now = session.io.now();
        let text = match format {
            OutputFormat::Table | OutputFormat::Wide => {
                let table = columns::table(
                    found.info.kind,
                    found.info.group,
                    std::slice::from_ref(&object),
                    options,
                    now,
                );
                let mut rows = Vec::new();
                if !header_printed {
                    rows.push(table.header.clone());
                    header_printed = true;
                }
                rows.extend(table.rows);
                let fresh = tabwriter::TABLE.widths(&rows);
                widths.resize(widths.len().max(fresh.len()), 0);
                for (w, f) in widths.iter_mut().zip(fresh) {
                    *w = (*w).max(f);
                }
                rows.iter()
                    .map(|r| tabwriter::format_row(r, &widths))
                    .collect()
            }
            OutputFormat::Yaml => format!("---\n{}", output::to_yaml(&object)),
            other => render(
                &[Found {
                    info: found.info,
                    objects: vec![object],
                    resource_version: String::new(),
                }],
                other,
                options,
                true,
                true,
                now,
            ),
        };
        session.print(&text);
    }
    Ok(())
}
