//! `rudderctl api-resources`: the served resources from `rudder_api`'s table, and
//! the access reviews the API server answers beside it, in kubectl's columns and
//! order (by group, then name).

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

/// One row: what discovery tells of a resource.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiResource {
    pub plural: String,
    pub short_names: Vec<String>,
    pub group: String,
    pub version: String,
    pub namespaced: bool,
    pub kind: String,
    pub verbs: Vec<String>,
    pub categories: Vec<String>,
}

impl ApiResource {
    fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    fn group_resource(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }
}

impl From<&ResourceInfo> for ApiResource {
    fn from(r: &ResourceInfo) -> Self {
        let strings = |l: &[&str]| l.iter().map(|s| s.to_string()).collect();
        ApiResource {
            plural: r.plural.to_string(),
            short_names: strings(r.short_names),
            group: r.group.to_string(),
            version: r.version.to_string(),
            namespaced: r.namespaced,
            kind: r.kind.to_string(),
            verbs: strings(r.verbs),
            categories: strings(r.categories),
        }
    }
}

/// The access reviews (authorization.k8s.io/v1), served by the API server's
/// authorizer outside the resource table: create-only, never stored.
fn access_reviews() -> Vec<ApiResource> {
    [
        ("selfsubjectaccessreviews", "SelfSubjectAccessReview"),
        ("selfsubjectrulesreviews", "SelfSubjectRulesReview"),
        ("subjectaccessreviews", "SubjectAccessReview"),
    ]
    .into_iter()
    .map(|(plural, kind)| ApiResource {
        plural: plural.to_string(),
        short_names: Vec::new(),
        group: "authorization.k8s.io".to_string(),
        version: "v1".to_string(),
        namespaced: false,
        kind: kind.to_string(),
        verbs: vec!["create".to_string()],
        categories: Vec::new(),
    })
    .collect()
}

/// The table (or names) for `resources`, pure.
pub fn render(
    resources: &[ApiResource],
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
    let mut resources: Vec<ApiResource> = resource::all()
        .iter()
        .map(ApiResource::from)
        .chain(access_reviews())
        .filter(|r| args.namespaced.is_none_or(|n| r.namespaced == n))
        .filter(|r| args.api_group.as_deref().is_none_or(|g| r.group == g))
        .collect();
    resources.sort_by(|a, b| (&a.group, &a.plural).cmp(&(&b.group, &b.plural)));
    let text = render(&resources, args.output.as_deref(), args.no_headers)?;
    session.print(&text);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_as_kubectl() {
        let row = |name: &str| ApiResource::from(resource::resolve(name).unwrap());
        let (pods, deploy, leases) = (row("po"), row("deploy"), row("leases"));
        assert_eq!(
            render(&[pods.clone(), deploy.clone(), leases], None, false).unwrap(),
            "NAME          SHORTNAMES   APIVERSION               NAMESPACED   KIND\n\
             pods          po           v1                       true         Pod\n\
             deployments   deploy       apps/v1                  true         Deployment\n\
             leases                     coordination.k8s.io/v1   true         Lease\n"
        );
        assert_eq!(
            render(&[pods.clone(), deploy], Some("name"), false).unwrap(),
            "pods\ndeployments.apps\n"
        );
        assert!(render(&[pods], Some("wide"), true).unwrap().starts_with("pods   po    v1    true   Pod   [create delete deletecollection get list patch update watch]   [all]"));
    }
}
