//! `rudderctl api-resources`: the served resources from `rudder_api`'s table, in
//! kubectl's columns.

use clap::Args;
use rudder_api::resource::{self, ResourceInfo};

use crate::output::tabwriter::TABLE;
use crate::session::Session;

/// `api-resources` flags.
#[derive(Debug, Clone, Default, Args)]
pub struct ApiResourcesArgs {
    /// `wide` (adds VERBS and CATEGORIES) or `name`.
    #[arg(short = 'o', long)]
    pub output: Option<String>,
    /// Only namespaced (true) or cluster-scoped (false) resources.
    #[arg(long)]
    pub namespaced: Option<bool>,
    /// Only resources of this API group (`""` for core).
    #[arg(long)]
    pub api_group: Option<String>,
    /// Don't print headers.
    #[arg(long)]
    pub no_headers: bool,
}

/// The table (or names) for `resources`, pure.
pub fn render(
    resources: &[&ResourceInfo],
    output: Option<&str>,
    no_headers: bool,
) -> anyhow::Result<String> {
    match output {
        Some("name") => Ok(resources
            .iter()
            .map(|r| format!("{}\n", r.group_resource()))
            .collect()),
        None | Some("wide") => {
            let wide = output == Some("wide");
            let mut text = String::new();
            if !no_headers {
                text.push_str("NAME\tSHORTNAMES\tAPIVERSION\tNAMESPACED\tKIND");
                text.push_str(if wide { "\tVERBS\tCATEGORIES\n" } else { "\n" });
            }
            for r in resources {
                text.push_str(&format!(
                    "{}\t{}\t{}\t{}\t{}",
                    r.plural,
                    r.short_names.join(","),
                    r.api_version(),
                    r.namespaced,
                    r.kind
                ));
                if wide {
                    text.push_str(&format!(
                        "\t[{}]\t{}",
                        r.verbs.join(" "),
                        if r.categories.is_empty() {
                            String::new()
                        } else {
                            format!("[{}]", r.categories.join(" "))
                        }
                    ));
                }
                text.push('\n');
            }
            Ok(TABLE.format(&text))
        }
        Some(other) => anyhow::bail!("--output {other} is not available"),
    }
}

/// Runs `api-resources`.
pub fn run(args: ApiResourcesArgs, session: &mut Session<'_>) -> anyhow::Result<()> {
    let resources: Vec<&ResourceInfo> = resource::all()
        .iter()
        .filter(|r| args.namespaced.is_none_or(|n| r.namespaced == n))
        .filter(|r| args.api_group.as_deref().is_none_or(|g| r.group == g))
        .collect();
    let text = render(&resources, args.output.as_deref(), args.no_headers)?;
    session.print(&text);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_as_kubectl() {
        let pods = resource::resolve("po").unwrap();
        let deploy = resource::resolve("deploy").unwrap();
        let leases = resource::resolve("leases").unwrap();
        assert_eq!(
            render(&[pods, deploy, leases], None, false).unwrap(),
            "NAME          SHORTNAMES   APIVERSION               NAMESPACED   KIND\n\
             pods          po           v1                       true         Pod\n\
             deployments   deploy       apps/v1                  true         Deployment\n\
             leases                     coordination.k8s.io/v1   true         Lease\n"
        );
        assert_eq!(
            render(&[pods, deploy], Some("name"), false).unwrap(),
            "pods\ndeployments.apps\n"
        );
        assert!(render(&[pods], Some("wide"), true).unwrap().starts_with("pods   po    v1    true   Pod   [create delete deletecollection get list patch update watch]   [all]"));
    }
}
