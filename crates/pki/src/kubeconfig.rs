//! Kubeconfig files in the standard format (`apiVersion: v1`, `kind: Config`), with
//! certificates and keys embedded as base64 data so the file works on its own and the
//! real `kubectl` takes it unchanged.

use std::fmt;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};

use crate::files::{self, SECRET_MODE};
use crate::{IssuedCert, PkiError, PrivateKeyPem, TlsMaterial};

/// A kubeconfig: clusters, users, and contexts pairing them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Kubeconfig {
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    pub kind: String,
    #[serde(default)]
    pub clusters: Vec<NamedCluster>,
    #[serde(default)]
    pub users: Vec<NamedUser>,
    #[serde(default)]
    pub contexts: Vec<NamedContext>,
    #[serde(rename = "current-context", default)]
    pub current_context: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferences: Option<serde_json::Value>,
}

/// A `clusters:` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NamedCluster {
    pub name: String,
    pub cluster: Cluster,
}

/// Where a cluster's API server is and how to trust it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Cluster {
    pub server: String,
    /// Base64 of the PEM CA bundle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_authority_data: Option<String>,
    /// Path of a PEM CA bundle, for kubeconfigs made by other tools.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_authority: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_server_name: Option<String>,
}

/// A `users:` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NamedUser {
    pub name: String,
    pub user: AuthInfo,
}

/// How a user authenticates: a client certificate (data or files) or a bearer token.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct AuthInfo {
    /// Base64 of the PEM certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_certificate_data: Option<String>,
    /// Base64 of the PEM private key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_key_data: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_certificate: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<Secret>,
}

/// A `contexts:` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NamedContext {
    pub name: String,
    pub context: Context,
}

/// A pairing of a cluster and a user, by name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Context {
    pub cluster: String,
    pub user: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// A secret string of a kubeconfig (key data, token): serialized as is, but its
/// `Debug` prints `<redacted>` so a logged kubeconfig leaks nothing.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// What a client needs to reach the API server of a kubeconfig's current context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCredentials {
    /// The server URL, e.g. `https://127.0.0.1:6443`.
    pub server: String,
    /// The name the server certificate must carry: `tls-server-name` if set, else the
    /// host of `server`. Pass it to [`TlsMaterial::tonic_client`].
    pub server_name: String,
    pub tls: TlsMaterial,
}

impl Kubeconfig {
    /// A kubeconfig with one cluster, one user with an embedded client certificate,
    /// and one context `<user>@<cluster>` that is current, as kubeadm writes them.
    pub fn for_identity(
        cluster_name: &str,
        server_url: &str,
        ca_pem: &str,
        user_name: &str,
        cert: &IssuedCert,
    ) -> Kubeconfig {
        let context_name = format!("{user_name}@{cluster_name}");
        Kubeconfig {
            api_version: "v1".to_string(),
            kind: "Config".to_string(),
            clusters: vec![NamedCluster {
                name: cluster_name.to_string(),
                cluster: Cluster {
                    server: server_url.to_string(),
                    certificate_authority_data: Some(BASE64.encode(ca_pem)),
                    certificate_authority: None,
                    tls_server_name: None,
                },
            }],
            users: vec![NamedUser {
                name: user_name.to_string(),
                user: AuthInfo {
                    client_certificate_data: Some(BASE64.encode(&cert.cert_pem)),
                    client_key_data: Some(Secret(BASE64.encode(cert.key.expose_pem()))),
                    ..AuthInfo::default()
                },
            }],
            contexts: vec![NamedContext {
                name: context_name.clone(),
                context: Context {
                    cluster: cluster_name.to_string(),
                    user: user_name.to_string(),
                    namespace: None,
                },
            }],
            current_context: context_name,
            preferences: Some(serde_json::Value::Object(Default::default())),
        }
    }

    /// Parses kubeconfig YAML (or JSON). `what` names the source in errors.
    pub fn from_yaml(text: &str, what: &str) -> Result<Kubeconfig, PkiError> {
        serde_norway::from_str(text).map_err(|err| PkiError::Kubeconfig {
            what: what.to_string(),
            reason: one_line(&err.to_string()),
        })
    }

    /// The kubeconfig as YAML.
    pub fn to_yaml(&self) -> Result<String, PkiError> {
        serde_norway::to_string(self).map_err(|err| PkiError::Kubeconfig {
            what: "serializing".to_string(),
            reason: one_line(&err.to_string()),
        })
    }

    /// Reads a kubeconfig file.
    pub fn load(path: &Path) -> Result<Kubeconfig, PkiError> {
        Self::from_yaml(&files::read_to_string(path)?, &path.display().to_string())
    }

    /// Writes the kubeconfig with mode 0600: it holds a private key.
    pub fn save(&self, path: &Path) -> Result<(), PkiError> {
        files::write_file(path, self.to_yaml()?.as_bytes(), SECRET_MODE)
    }

    /// The server and TLS material of the current context, for components that take a
    /// `--kubeconfig` and talk gRPC to the API server. Certificate and key may be
    /// embedded data or file paths; a token-only user is an error (mTLS needs a cert).
    pub fn client_credentials(&self) -> Result<ClientCredentials, PkiError> {
        let error = |reason: String| PkiError::Kubeconfig {
            what: format!("context {:?}", self.current_context),
            reason,
        };
        let context = &self
            .contexts
            .iter()
            .find(|c| c.name == self.current_context)
            .ok_or_else(|| error("the current context is not defined".to_string()))?
            .context;
        let cluster = &self
            .clusters
            .iter()
            .find(|c| c.name == context.cluster)
            .ok_or_else(|| error(format!("cluster {:?} is not defined", context.cluster)))?
            .cluster;
        let user = &self
            .users
            .iter()
            .find(|u| u.name == context.user)
            .ok_or_else(|| error(format!("user {:?} is not defined", context.user)))?
            .user;

        let ca_pem = data_or_file(
            cluster.certificate_authority_data.as_deref(),
            cluster.certificate_authority.as_deref(),
            "certificate-authority",
        )?;
        let cert_pem = data_or_file(
            user.client_certificate_data.as_deref(),
            user.client_certificate.as_deref(),
            "client-certificate",
        )?;
        let key_pem = data_or_file(
            user.client_key_data
                .as_ref()
                .map(|secret| secret.0.as_str()),
            user.client_key.as_deref(),
            "client-key",
        )?;
        let key = PrivateKeyPem::parse(key_pem, "kubeconfig client-key")?;
        let server_name = match &cluster.tls_server_name {
            Some(name) => name.clone(),
            None => server_host(&cluster.server)
                .ok_or_else(|| error(format!("server {:?} has no host", cluster.server)))?,
        };
        Ok(ClientCredentials {
            server: cluster.server.clone(),
            server_name,
            tls: TlsMaterial::from_pem(ca_pem, cert_pem, key)?,
        })
    }
}

fn data_or_file(data: Option<&str>, file: Option<&str>, field: &str) -> Result<String, PkiError> {
    let invalid = |reason: String| PkiError::Kubeconfig {
        what: field.to_string(),
        reason,
    };
    match (data, file) {
        (Some(data), _) => {
            let bytes = BASE64
                .decode(data.trim())
                .map_err(|err| invalid(format!("{field}-data is not base64 ({err})")))?;
            String::from_utf8(bytes).map_err(|_| invalid(format!("{field}-data is not PEM text")))
        }
        (None, Some(file)) => files::read_to_string(Path::new(file)),
        (None, None) => Err(invalid(format!("neither {field}-data nor {field} is set"))),
    }
}

/// The host of a URL without brackets, e.g. `127.0.0.1`, `::1` or `api.example`.
fn server_host(url: &str) -> Option<String> {
    let uri: http::Uri = url.parse().ok()?;
    let host = uri.host()?;
    Some(
        host.trim_start_matches('[')
            .trim_end_matches(']')
            .to_string(),
    )
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CertificateAuthority, Identity, Validity};

    #[test]
    fn a_kubeconfig_round_trips_and_yields_its_credentials() {
        let ca = CertificateAuthority::generate("ca").unwrap();
        let cert = ca
            .issue_client("admin", &["system:masters"], Validity::days(1))
            .unwrap();
        let config = Kubeconfig::for_identity(
            "rudder",
            "https://[::1]:6443",
            ca.cert_pem(),
            "admin",
            &cert,
        );
        let yaml = config.to_yaml().unwrap();
        assert!(yaml.contains("current-context: admin@rudder"), "{yaml}");
        assert!(yaml.contains("client-key-data: "), "{yaml}");

        let parsed = Kubeconfig::from_yaml(&yaml, "test").unwrap();
        assert_eq!(parsed, config);
        let credentials = parsed.client_credentials().unwrap();
        assert_eq!(credentials.server_name, "::1");
        assert_eq!(
            credentials.tls.identity().unwrap(),
            Identity::new("admin", ["system:masters"])
        );
        let debug = format!("{parsed:?}");
        assert!(!debug.contains(&config.users[0].user.client_key_data.as_ref().unwrap().0));
    }
}
