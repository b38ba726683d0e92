//! Where a client finds its API server and credentials: kubeconfig files chosen as
//! kubectl chooses them, one context of them, or TLS files given as flags.
//!
//! File choice (kubectl's rules): an explicit `--kubeconfig` path alone; else every
//! file of `KUBECONFIG` (`:`-separated, missing files skipped) merged, the first file
//! to define a cluster, user or context name winning, and the first non-empty
//! `current-context` winning; else `~/.kube/config`. `--context` overrides the current
//! context; the namespace is `--namespace`, else the context's, else `default`.
//! Relative certificate paths in a file are relative to that file's directory.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rudder_pki::kubeconfig::{Kubeconfig, Secret};
use rudder_pki::{TlsMaterial, TlsPaths};

use crate::error::{Error, Result};

/// The namespace used when neither the caller nor the context names one.
pub const DEFAULT_NAMESPACE: &str = "default";

/// What a command line says about the kubeconfig: `--kubeconfig`, `--context`,
/// `--namespace`. Every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KubeconfigOptions {
    /// An explicit file; `KUBECONFIG` and `~/.kube/config` are then not read.
    pub path: Option<PathBuf>,
    /// A context to use instead of the file's `current-context`.
    pub context: Option<String>,
    /// A namespace to use instead of the context's.
    pub namespace: Option<String>,
}

/// Everything needed to open a connection to the API server.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The server URL, e.g. `https://127.0.0.1:6443`.
    pub server: String,
    /// The name the server certificate must carry (the URL host or `tls-server-name`).
    pub server_name: String,
    /// CA, client certificate and key for mutual TLS.
    pub tls: TlsMaterial,
    /// A bearer token sent as `authorization: Bearer <token>` on every call.
    pub token: Option<Secret>,
    /// The namespace of `Api::default_namespaced` and of `rudderctl` without `-n`.
    pub default_namespace: String,
    /// Deadline of each unary call (not of watches).
    pub request_timeout: Duration,
    /// Deadline of establishing a connection.
    pub connect_timeout: Duration,
}

impl ClientConfig {
    /// Reads kubeconfig files as kubectl does (see the module docs), from the process
    /// environment (`KUBECONFIG`, `HOME`).
    pub fn load(options: &KubeconfigOptions) -> Result<ClientConfig> {
        let env = std::env::var("KUBECONFIG").ok();
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let paths = kubeconfig_paths(options.path.as_deref(), env.as_deref(), home.as_deref());
        let explicit = options.path.is_some();
        let mut files = Vec::new();
        for path in &paths {
            if !explicit && !path.exists() {
                continue;
            }
            let mut config = Kubeconfig::load(path)?;
            resolve_relative_paths(&mut config, path.parent().unwrap_or(Path::new(".")));
            files.push(config);
        }
        if files.is_empty() {
            return Err(Error::Config(format!(
                "no kubeconfig found (looked at {}); pass --kubeconfig or set KUBECONFIG",
                paths
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        Self::from_kubeconfig(&merge_kubeconfigs(files), options)
    }

    /// The configuration of one context of an already loaded kubeconfig.
    pub fn from_kubeconfig(
        kubeconfig: &Kubeconfig,
        options: &KubeconfigOptions,
    ) -> Result<ClientConfig> {
        let selected = select_context(kubeconfig, options)?;
        let mut pinned = kubeconfig.clone();
        pinned.current_context = selected.context.clone();
        let credentials = pinned.client_credentials()?;
        let token = kubeconfig
            .users
            .iter()
            .find(|u| u.name == selected.user)
            .and_then(|u| u.user.token.clone());
        Ok(ClientConfig {
            server: credentials.server,
            server_name: credentials.server_name,
            tls: credentials.tls,
            token,
            default_namespace: selected.namespace,
            request_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
        })
    }

    /// A configuration from TLS files given as flags (`--tls-ca/--tls-cert/--tls-key`)
    /// and a server URL, for components run without a kubeconfig.
    pub fn from_tls_paths(server: &str, tls: &TlsPaths) -> Result<ClientConfig> {
        let uri: http::Uri = server
            .parse()
            .map_err(|err| Error::Config(format!("server {server:?} is not a URL ({err})")))?;
        let host = uri
            .host()
            .ok_or_else(|| Error::Config(format!("server {server:?} has no host")))?;
        Ok(ClientConfig {
            server: server.to_string(),
            server_name: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string(),
            tls: tls.load()?,
            token: None,
            default_namespace: DEFAULT_NAMESPACE.to_string(),
            request_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
        })
    }
}

/// The kubeconfig files to read, in priority order: the explicit path alone, else the
/// non-empty entries of `KUBECONFIG` (duplicates dropped), else `<home>/.kube/config`.
pub fn kubeconfig_paths(
    explicit: Option<&Path>,
    env: Option<&str>,
    home: Option<&Path>,
) -> Vec<PathBuf> {
    if let Some(path) = explicit {
        return vec![path.to_path_buf()];
    }
    if let Some(list) = env.filter(|v| !v.trim().is_empty()) {
        let mut seen = HashSet::new();
        return list
            .split(':')
            .filter(|p| !p.is_empty())
            .filter(|p| seen.insert(p.to_string()))
            .map(PathBuf::from)
            .collect();
    }
    home.map(|h| vec![h.join(".kube").join("config")])
        .unwrap_or_default()
}

/// Merges kubeconfigs as kubectl merges `KUBECONFIG`: the first file to define a name
/// (cluster, user, context) wins, and the first non-empty `current-context` wins.
pub fn merge_kubeconfigs(files: Vec<Kubeconfig>) -> Kubeconfig {
    let mut files = files.into_iter();
    let Some(mut merged) = files.next() else {
        return Kubeconfig {
            api_version: "v1".to_string(),
            kind: "Config".to_string(),
            clusters: Vec::new(),
            users: Vec::new(),
            contexts: Vec::new(),
            current_context: String::new(),
            preferences: None,
        };
    };
    for file in files {
        if merged.current_context.is_empty() {
            merged.current_context = file.current_context;
        }
        for cluster in file.clusters {
            if !merged.clusters.iter().any(|c| c.name == cluster.name) {
                merged.clusters.push(cluster);
            }
        }
        for user in file.users {
            if !merged.users.iter().any(|u| u.name == user.name) {
                merged.users.push(user);
            }
        }
        for context in file.contexts {
            if !merged.contexts.iter().any(|c| c.name == context.name) {
                merged.contexts.push(context);
            }
        }
    }
    merged
}

/// The context a client uses, with the names it points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectedContext {
    /// The context's name.
    pub context: String,
    /// Its cluster's name.
    pub cluster: String,
    /// Its user's name.
    pub user: String,
    /// `--namespace`, else the context's namespace, else `default`.
    pub namespace: String,
}

/// Picks the context: `options.context` if given, else `current-context`; errors name
/// what is missing as kubectl words it.
pub fn select_context(
    kubeconfig: &Kubeconfig,
    options: &KubeconfigOptions,
) -> Result<SelectedContext> {
    let name = match options.context.as_deref() {
        Some(name) => name.to_string(),
        None if kubeconfig.current_context.is_empty() => {
            return Err(Error::Config(
                "current-context is not set and no --context was given".to_string(),
            ));
        }
        None => kubeconfig.current_context.clone(),
    };
    let context = kubeconfig
        .contexts
        .iter()
        .find(|c| c.name == name)
        .ok_or_else(|| {
            Error::Config(format!(
                "context was not found for specified context: {name}"
            ))
        })?;
    let namespace = options
        .namespace
        .clone()
        .or_else(|| context.context.namespace.clone())
        .filter(|ns| !ns.is_empty())
        .unwrap_or_else(|| DEFAULT_NAMESPACE.to_string());
    Ok(SelectedContext {
        context: name,
        cluster: context.context.cluster.clone(),
        user: context.context.user.clone(),
        namespace,
    })
}

/// Makes relative certificate file paths absolute against the kubeconfig's directory.
fn resolve_relative_paths(config: &mut Kubeconfig, dir: &Path) {
    let resolve = |path: &mut Option<String>| {
        if let Some(p) = path.as_mut()
            && Path::new(p.as_str()).is_relative()
        {
            *p = dir.join(p.as_str()).display().to_string();
        }
    };
    for cluster in &mut config.clusters {
        resolve(&mut cluster.cluster.certificate_authority);
    }
    for user in &mut config.users {
        resolve(&mut user.user.client_certificate);
        resolve(&mut user.user.client_key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rudder_pki::kubeconfig::{
        AuthInfo, Cluster, Context, NamedCluster, NamedContext, NamedUser,
    };

    fn kubeconfig(current: &str, contexts: &[(&str, &str, Option<&str>)]) -> Kubeconfig {
        Kubeconfig {
            api_version: "v1".to_string(),
            kind: "Config".to_string(),
            clusters: contexts
                .iter()
                .map(|(_, cluster, _)| NamedCluster {
                    name: cluster.to_string(),
                    cluster: Cluster {
                        server: format!("https://{cluster}:6443"),
                        certificate_authority_data: None,
                        certificate_authority: None,
                        tls_server_name: None,
                    },
                })
                .collect(),
            users: vec![NamedUser {
                name: "admin".to_string(),
                user: AuthInfo::default(),
            }],
            contexts: contexts
                .iter()
                .map(|(name, cluster, ns)| NamedContext {
                    name: name.to_string(),
                    context: Context {
                        cluster: cluster.to_string(),
                        user: "admin".to_string(),
                        namespace: ns.map(str::to_string),
                    },
                })
                .collect(),
            current_context: current.to_string(),
            preferences: None,
        }
    }

    #[test]
    fn relative_certificate_paths_are_relative_to_the_file() {
        let mut config = kubeconfig("dev", &[("dev", "c1", None)]);
        config.clusters[0].cluster.certificate_authority = Some("pki/ca.crt".into());
        config.users[0].user.client_certificate = Some("/abs/admin.crt".into());
        config.users[0].user.client_key = Some("admin.key".into());
        resolve_relative_paths(&mut config, Path::new("/etc/rudder"));
        assert_eq!(
            config.clusters[0].cluster.certificate_authority.as_deref(),
            Some("/etc/rudder/pki/ca.crt")
        );
        assert_eq!(
            config.users[0].user.client_certificate.as_deref(),
            Some("/abs/admin.crt")
        );
        assert_eq!(
            config.users[0].user.client_key.as_deref(),
            Some("/etc/rudder/admin.key")
        );
    }

    #[test]
    fn paths_follow_kubectl_precedence() {
        let home = Path::new("/home/u");
        assert_eq!(
            kubeconfig_paths(Some(Path::new("/x.conf")), Some("/a:/b"), Some(home)),
            [PathBuf::from("/x.conf")]
        );
        assert_eq!(
            kubeconfig_paths(None, Some("/a::/b:/a"), Some(home)),
            [PathBuf::from("/a"), PathBuf::from("/b")]
        );
        assert_eq!(
            kubeconfig_paths(None, Some(""), Some(home)),
            [PathBuf::from("/home/u/.kube/config")]
        );
        assert!(kubeconfig_paths(None, None, None).is_empty());
    }

    #[test]
    fn the_first_file_wins_per_name_and_for_current_context() {
        let first = kubeconfig("", &[("dev", "c1", Some("team"))]);
        let second = kubeconfig("prod", &[("dev", "c2", None), ("prod", "c3", None)]);
        let merged = merge_kubeconfigs(vec![first, second]);
        assert_eq!(merged.current_context, "prod");
        let names: Vec<_> = merged.contexts.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["dev", "prod"]);
        assert_eq!(merged.contexts[0].context.cluster, "c1");
        let clusters: Vec<_> = merged.clusters.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(clusters, ["c1", "c2", "c3"]);
    }

    #[test]
    fn context_and_namespace_selection() {
        let config = kubeconfig("dev", &[("dev", "c1", Some("team")), ("prod", "c2", None)]);
        let current = select_context(&config, &KubeconfigOptions::default()).unwrap();
        assert_eq!(
            current,
            SelectedContext {
                context: "dev".into(),
                cluster: "c1".into(),
                user: "admin".into(),
                namespace: "team".into()
            }
        );
        let overridden = KubeconfigOptions {
            context: Some("prod".into()),
            ..Default::default()
        };
        let prod = select_context(&config, &overridden).unwrap();
        assert_eq!(
            (prod.cluster.as_str(), prod.namespace.as_str()),
            ("c2", "default")
        );
        let with_ns = KubeconfigOptions {
            namespace: Some("kube-system".into()),
            ..Default::default()
        };
        assert_eq!(
            select_context(&config, &with_ns).unwrap().namespace,
            "kube-system"
        );
        let missing = KubeconfigOptions {
            context: Some("nope".into()),
            ..Default::default()
        };
        assert_eq!(
            select_context(&config, &missing).unwrap_err().to_string(),
            "kubeconfig: context was not found for specified context: nope"
        );
        let no_current = kubeconfig("", &[("dev", "c1", None)]);
        assert!(select_context(&no_current, &KubeconfigOptions::default()).is_err());
    }
}
