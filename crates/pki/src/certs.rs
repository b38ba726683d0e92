//! `rudderadm certs`: the cluster CA, one certificate per identity, and kubeconfigs,
//! laid out as kubeadm lays them out. Test harnesses call [`write_cluster_certs`] to
//! get the same files on a fresh directory.
//!
//! Layout under `dir`:
//!
//! ```text
//! pki/ca.crt, ca.key                         cluster CA (ECDSA P-256, 10 years)
//! pki/apiserver.crt, .key                    API server serving cert
//! pki/apiserver-etcd-client.crt, .key        API server -> store client (CN kube-apiserver-etcd-client)
//! pki/apiserver-kubelet-client.crt, .key     API server -> kubelets (CN kube-apiserver-kubelet-client)
//! pki/sa.key, sa.pub                         service-account token signing pair (ES256)
//! pki/store/<member>.crt, .key               store member, server + peer
//! pki/<name>.crt, .key                       client identities, same as in the kubeconfigs:
//!                                            admin, controller-manager, scheduler, proxy, kubelet-<node>
//! admin.conf, controller-manager.conf, scheduler.conf, proxy.conf, kubelet-<node>.conf
//! ```
//!
//! Keys and kubeconfigs are mode 0600. Re-running keeps every file that exists and
//! writes only the missing ones, signed by the CA on disk, so adding a `--node` later
//! works. `force` regenerates everything, the CA included; a newly made CA also
//! regenerates everything, since certificates of an old CA would no longer verify.
//! As kubeadm, a kept file that contradicts the options is an error, not a silent keep:
//! a serving certificate without a SAN asked for, a kubeconfig with another server
//! URL, one file of a pair without the other, or anything that does not parse.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use crate::ca::{CertRequest, CertUsage, LEAF_VALIDITY_DAYS, ServiceAccountKey};
use crate::files::{self, PUBLIC_MODE, SECRET_MODE};
use crate::kubeconfig::Kubeconfig;
use crate::{CertificateAuthority, IssuedCert, PkiError, PrivateKeyPem, TlsPaths, Validity};

/// The default API server URL in kubeconfigs.
pub const DEFAULT_SERVER_URL: &str = "https://127.0.0.1:6443";
/// The cluster name in kubeconfigs (and the CA's common name is `<cluster>-ca`).
pub const DEFAULT_CLUSTER_NAME: &str = "rudder";
/// The store member made when none is named.
pub const DEFAULT_STORE_MEMBER: &str = "default";
/// Names every serving certificate carries: loopback, so local clients always verify.
const LOOPBACK_SANS: [&str; 3] = ["localhost", "127.0.0.1", "::1"];
/// The in-cluster names of the API server, as in Kubernetes.
const APISERVER_SERVICE_SANS: [&str; 4] = [
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
];

/// What `rudderadm certs` makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertsOptions {
    /// The directory that gets `pki/` and the kubeconfigs.
    pub dir: PathBuf,
    /// The API server URL written into kubeconfigs; its host is added to the API
    /// server certificate's SANs.
    pub server_url: String,
    /// Extra API server SANs (DNS names or IPs), besides loopback and `kubernetes*`.
    pub apiserver_sans: Vec<String>,
    /// Store members, one server+peer certificate each; empty means one named `default`.
    pub store_members: Vec<String>,
    /// Extra SANs of every store member certificate, besides loopback and the member name.
    pub store_sans: Vec<String>,
    /// Nodes that get a kubelet identity `system:node:<name>`; none by default.
    pub nodes: Vec<String>,
    /// Regenerate every file, the CA included.
    pub force: bool,
    /// Cluster (and context) name in kubeconfigs.
    pub cluster_name: String,
}

impl CertsOptions {
    /// The defaults of `rudderadm certs` for `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        CertsOptions {
            dir: dir.into(),
            server_url: DEFAULT_SERVER_URL.to_string(),
            apiserver_sans: Vec::new(),
            store_members: Vec::new(),
            store_sans: Vec::new(),
            nodes: Vec::new(),
            force: false,
            cluster_name: DEFAULT_CLUSTER_NAME.to_string(),
        }
    }
}

/// What a run did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CertsReport {
    /// Whether a new CA was made (first run, or `force`).
    pub ca_generated: bool,
    /// Files written by this run, in the order written.
    pub written: Vec<PathBuf>,
    /// Files that existed and were kept.
    pub kept: Vec<PathBuf>,
}

/// Paths of the files `rudderadm certs --dir <dir>` writes, for components and
/// harnesses that need them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertsLayout {
    pub dir: PathBuf,
}

impl CertsLayout {
    /// The layout under `dir`, the `--dir` of `rudderadm certs`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        CertsLayout { dir: dir.into() }
    }

    /// `<dir>/pki`, what [`CertificateAuthority::load`] takes.
    pub fn pki_dir(&self) -> PathBuf {
        self.dir.join("pki")
    }

    /// `pki/ca.crt`, the CA every component trusts.
    pub fn ca_cert(&self) -> PathBuf {
        self.pki_dir().join("ca.crt")
    }

    /// `pki/ca.key`, needed only to issue certificates.
    pub fn ca_key(&self) -> PathBuf {
        self.pki_dir().join("ca.key")
    }

    /// `pki/<name>.crt` and `pki/<name>.key`.
    pub fn pair(&self, name: &str) -> (PathBuf, PathBuf) {
        let pki = self.pki_dir();
        (
            pki.join(format!("{name}.crt")),
            pki.join(format!("{name}.key")),
        )
    }

    /// `pki/store/<member>.crt` and `.key`.
    pub fn store_member_pair(&self, member: &str) -> (PathBuf, PathBuf) {
        let store = self.pki_dir().join("store");
        (
            store.join(format!("{member}.crt")),
            store.join(format!("{member}.key")),
        )
    }

    /// `pki/sa.key` (private, PKCS#8 PEM) and `pki/sa.pub` (SubjectPublicKeyInfo PEM).
    pub fn service_account_pair(&self) -> (PathBuf, PathBuf) {
        let pki = self.pki_dir();
        (pki.join("sa.key"), pki.join("sa.pub"))
    }

    /// `<dir>/<name>.conf`, e.g. `admin.conf`, `kubelet-node-1.conf`.
    pub fn kubeconfig(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.conf"))
    }

    /// TLS of the API server: serving cert, and the CA to verify clients.
    pub fn apiserver_tls(&self) -> TlsPaths {
        self.tls_of(self.pair("apiserver"))
    }

    /// TLS of the API server as a client of the store.
    pub fn apiserver_etcd_client_tls(&self) -> TlsPaths {
        self.tls_of(self.pair("apiserver-etcd-client"))
    }

    /// TLS of the API server as a client of kubelets (pods/log, exec, port-forward).
    pub fn apiserver_kubelet_client_tls(&self) -> TlsPaths {
        self.tls_of(self.pair("apiserver-kubelet-client"))
    }

    /// TLS of a store member (serving clients and dialing peers).
    pub fn store_member_tls(&self, member: &str) -> TlsPaths {
        self.tls_of(self.store_member_pair(member))
    }

    /// TLS of a client identity: `admin`, `controller-manager`, `scheduler`, `proxy`,
    /// `kubelet-<node>`.
    pub fn client_tls(&self, name: &str) -> TlsPaths {
        self.tls_of(self.pair(name))
    }

    fn tls_of(&self, (cert, key): (PathBuf, PathBuf)) -> TlsPaths {
        TlsPaths::new(self.ca_cert(), cert, key)
    }
}

/// One client identity: its file name and its subject.
struct ClientIdentity {
    name: String,
    user: String,
    groups: Vec<String>,
}

fn client_identities(nodes: &[String]) -> Vec<ClientIdentity> {
    let mut identities = vec![
        ClientIdentity {
            name: "admin".to_string(),
            user: "admin".to_string(),
            groups: vec!["system:masters".to_string()],
        },
        ClientIdentity {
            name: "controller-manager".to_string(),
            user: "system:kube-controller-manager".to_string(),
            groups: Vec::new(),
        },
        ClientIdentity {
            name: "scheduler".to_string(),
            user: "system:kube-scheduler".to_string(),
            groups: Vec::new(),
        },
        ClientIdentity {
            name: "proxy".to_string(),
            user: "system:kube-proxy".to_string(),
            groups: Vec::new(),
        },
    ];
    identities.extend(nodes.iter().map(|node| ClientIdentity {
        name: format!("kubelet-{node}"),
        user: format!("system:node:{node}"),
        groups: vec!["system:nodes".to_string()],
    }));
    identities
}

/// Makes (or completes) the cluster's certificates and kubeconfigs; see the module doc.
pub fn write_cluster_certs(options: &CertsOptions) -> Result<CertsReport, PkiError> {
    let plan = Plan::new(options)?;
    let layout = CertsLayout::new(&options.dir);
    files::create_dir_all(&layout.pki_dir().join("store"))?;
    let mut run = Run {
        report: CertsReport::default(),
        regenerate: options.force,
    };

    let ca = run.ensure_ca(&layout)?;
    let leaf = Validity::days(LEAF_VALIDITY_DAYS);

    let (cert, key) = layout.pair("apiserver");
    run.ensure_serving_pair(&cert, &key, &plan.apiserver_sans, || {
        ca.issue(&CertRequest {
            common_name: "kube-apiserver".to_string(),
            organizations: Vec::new(),
            sans: plan.apiserver_sans.clone(),
            usage: CertUsage::Server,
            validity: leaf,
        })
    })?;

    let (cert, key) = layout.pair("apiserver-etcd-client");
    run.ensure_pair(&cert, &key, || {
        ca.issue_client("kube-apiserver-etcd-client", &[] as &[&str], leaf)
    })?;

    // No organization: kubelets authorize it through RBAC (`system:kubelet-api-admin`),
    // not as a cluster admin (kubeadm since 1.29 also keeps it out of system:masters).
    let (cert, key) = layout.pair("apiserver-kubelet-client");
    run.ensure_pair(&cert, &key, || {
        ca.issue_client("kube-apiserver-kubelet-client", &[] as &[&str], leaf)
    })?;

    run.ensure_service_account_key(&layout)?;

    for member in &plan.store_members {
        let mut sans = vec![member.clone()];
        sans.extend(plan.store_sans.iter().cloned());
        let sans = dedup(sans);
        let (cert, key) = layout.store_member_pair(member);
        run.ensure_serving_pair(&cert, &key, &sans, || {
            ca.issue(&CertRequest {
                common_name: member.clone(),
                organizations: Vec::new(),
                sans: sans.clone(),
                usage: CertUsage::Peer,
                validity: leaf,
            })
        })?;
    }

    for identity in client_identities(&options.nodes) {
        let (cert_path, key_path) = layout.pair(&identity.name);
        let (issued, fresh) = run.ensure_pair(&cert_path, &key_path, || {
            ca.issue_client(&identity.user, &identity.groups, leaf)
        })?;
        let conf = layout.kubeconfig(&identity.name);
        if !fresh && conf.exists() {
            check_kubeconfig_server(&conf, &options.server_url)?;
            run.report.kept.push(conf);
        } else {
            Kubeconfig::for_identity(
                &options.cluster_name,
                &options.server_url,
                ca.cert_pem(),
                &identity.user,
                &issued,
            )
            .save(&conf)?;
            run.report.written.push(conf);
        }
    }
    Ok(run.report)
}

/// The validated inputs of a run.
struct Plan {
    apiserver_sans: Vec<String>,
    store_members: Vec<String>,
    store_sans: Vec<String>,
}

impl Plan {
    fn new(options: &CertsOptions) -> Result<Self, PkiError> {
        let server_host = server_url_host(&options.server_url)?;
        for node in &options.nodes {
            validate_object_name("node name", node)?;
        }
        let store_members = if options.store_members.is_empty() {
            vec![DEFAULT_STORE_MEMBER.to_string()]
        } else {
            options.store_members.clone()
        };
        for member in &store_members {
            validate_object_name("store member name", member)?;
        }
        for san in options.apiserver_sans.iter().chain(&options.store_sans) {
            validate_san(san)?;
        }
        let mut apiserver_sans: Vec<String> = LOOPBACK_SANS
            .iter()
            .chain(APISERVER_SERVICE_SANS.iter())
            .map(|san| san.to_string())
            .collect();
        apiserver_sans.push(server_host);
        apiserver_sans.extend(options.apiserver_sans.iter().cloned());
        let mut store_sans: Vec<String> = LOOPBACK_SANS.iter().map(|san| san.to_string()).collect();
        store_sans.extend(options.store_sans.iter().cloned());
        Ok(Plan {
            apiserver_sans: dedup(apiserver_sans),
            store_members: dedup(store_members),
            store_sans: dedup(store_sans),
        })
    }
}

/// The state of one run: what it did, and whether existing files are to be replaced.
struct Run {
    report: CertsReport,
    regenerate: bool,
}

impl Run {
    fn ensure_ca(&mut self, layout: &CertsLayout) -> Result<CertificateAuthority, PkiError> {
        let (cert, key) = (layout.ca_cert(), layout.ca_key());
        if !self.regenerate && both_exist(&cert, &key)? {
            let ca = CertificateAuthority::load(&layout.pki_dir())?;
            self.report.kept.extend([cert, key]);
            return Ok(ca);
        }
        let ca = CertificateAuthority::generate("rudder-ca")?;
        ca.write(&layout.pki_dir())?;
        self.report.ca_generated = true;
        self.report.written.extend([cert, key]);
        // Certificates of a previous CA would not verify against this one.
        self.regenerate = true;
        Ok(ca)
    }

    /// Keeps an existing pair or issues a new one; returns it and whether it is new.
    fn ensure_pair(
        &mut self,
        cert: &Path,
        key: &Path,
        issue: impl FnOnce() -> Result<IssuedCert, PkiError>,
    ) -> Result<(IssuedCert, bool), PkiError> {
        if !self.regenerate && both_exist(cert, key)? {
            let existing = IssuedCert::load(cert, key)?;
            self.report
                .kept
                .extend([cert.to_path_buf(), key.to_path_buf()]);
            return Ok((existing, false));
        }
        let issued = issue()?;
        issued.write(cert, key)?;
        self.report
            .written
            .extend([cert.to_path_buf(), key.to_path_buf()]);
        Ok((issued, true))
    }

    /// [`Run::ensure_pair`] for serving certificates: a kept one must carry every SAN
    /// asked for now. As kubeadm, it is an error rather than a silent keep or a
    /// silent replacement.
    fn ensure_serving_pair(
        &mut self,
        cert: &Path,
        key: &Path,
        sans: &[String],
        issue: impl FnOnce() -> Result<IssuedCert, PkiError>,
    ) -> Result<(), PkiError> {
        let (issued, fresh) = self.ensure_pair(cert, key, issue)?;
        if !fresh {
            let missing = issued.missing_sans(sans)?;
            if !missing.is_empty() {
                return Err(PkiError::InvalidCertificate {
                    what: cert.display().to_string(),
                    reason: format!(
                        "exists without SANs {}; remove it and its key to reissue it, or use --force",
                        missing.join(", ")
                    ),
                });
            }
        }
        Ok(())
    }

    fn ensure_service_account_key(&mut self, layout: &CertsLayout) -> Result<(), PkiError> {
        let (key, public) = layout.service_account_pair();
        if !self.regenerate && both_exist(&key, &public)? {
            PrivateKeyPem::parse(files::read_to_string(&key)?, &key.display().to_string())?;
            self.report.kept.extend([key, public]);
            return Ok(());
        }
        let pair = ServiceAccountKey::generate()?;
        files::write_file(&key, pair.key.expose_pem().as_bytes(), SECRET_MODE)?;
        files::write_file(&public, pair.public_pem.as_bytes(), PUBLIC_MODE)?;
        self.report.written.extend([key, public]);
        Ok(())
    }
}

/// A kept kubeconfig must point at the server asked for now (and must parse).
fn check_kubeconfig_server(conf: &Path, server_url: &str) -> Result<(), PkiError> {
    let existing = Kubeconfig::load(conf)?.client_credentials()?;
    if existing.server != server_url {
        return Err(PkiError::Kubeconfig {
            what: conf.display().to_string(),
            reason: format!(
                "exists with server {}, not {server_url}; remove it to rewrite it, or use --force",
                existing.server
            ),
        });
    }
    Ok(())
}

/// Whether both files of a pair exist; one without the other is an error, since
/// silently replacing it could strand whatever uses the other.
fn both_exist(first: &Path, second: &Path) -> Result<bool, PkiError> {
    match (first.exists(), second.exists()) {
        (true, true) => Ok(true),
        (false, false) => Ok(false),
        (present, _) => {
            let (there, missing) = if present {
                (first, second)
            } else {
                (second, first)
            };
            Err(PkiError::Incomplete(format!(
                "{} exists but {} is missing; restore it, or remove {} (or use --force) to make a new pair",
                there.display(),
                missing.display(),
                there.display()
            )))
        }
    }
}

fn server_url_host(url: &str) -> Result<String, PkiError> {
    let invalid = |reason: &str| PkiError::InvalidName {
        what: "server URL",
        value: url.to_string(),
        reason: reason.to_string(),
    };
    let uri: http::Uri = url.parse().map_err(|_| invalid("not a URL"))?;
    if uri.scheme_str() != Some("https") {
        return Err(invalid("must start with https://"));
    }
    let host = uri.host().ok_or_else(|| invalid("has no host"))?;
    Ok(host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string())
}

/// Node and store member names: a DNS-1123 subdomain, as Kubernetes object names are.
/// They become file names and certificate names, so nothing else is allowed.
fn validate_object_name(what: &'static str, name: &str) -> Result<(), PkiError> {
    validate_dns_name(what, name)?;
    if name.contains('*') || name.chars().any(|c| c.is_ascii_uppercase()) {
        return Err(PkiError::InvalidName {
            what,
            value: name.to_string(),
            reason: "use lower-case letters, digits, '-' and '.'".to_string(),
        });
    }
    Ok(())
}

fn validate_san(san: &str) -> Result<(), PkiError> {
    if san.parse::<IpAddr>().is_ok() {
        return Ok(());
    }
    validate_dns_name("subject alternative name", san)
}

/// A DNS name (a leading `*.` wildcard allowed): labels of letters, digits and '-'.
pub(crate) fn validate_dns_name(what: &'static str, name: &str) -> Result<(), PkiError> {
    let invalid = |reason: &str| PkiError::InvalidName {
        what,
        value: name.to_string(),
        reason: reason.to_string(),
    };
    if name.is_empty() || name.len() > 253 {
        return Err(invalid("must be 1 to 253 characters"));
    }
    let labels = name.strip_prefix("*.").unwrap_or(name);
    for label in labels.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err(invalid(
                "each dot-separated part must be 1 to 63 characters",
            ));
        }
        if !label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            || label.starts_with('-')
            || label.ends_with('-')
        {
            return Err(invalid(
                "use letters, digits and '-' (not at either end of a part), separated by '.'",
            ));
        }
    }
    Ok(())
}

fn dedup(items: Vec<String>) -> Vec<String> {
    let mut seen = Vec::with_capacity(items.len());
    for item in items {
        if !seen.contains(&item) {
            seen.push(item);
        }
    }
    seen
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_are_not_dns_names_are_refused() {
        for bad in ["", "a/b", "-x", "x-", "a..b", "UPPER", "with space"] {
            assert!(
                validate_object_name("node name", bad).is_err(),
                "{bad:?} accepted"
            );
        }
        for good in ["node-1", "worker.example", "a"] {
            validate_object_name("node name", good).unwrap();
        }
        validate_san("*.example.com").unwrap();
        validate_san("::1").unwrap();
    }

    #[test]
    fn the_server_url_must_be_https_with_a_host() {
        assert_eq!(server_url_host("https://[::1]:6443").unwrap(), "::1");
        assert_eq!(
            server_url_host("https://api.example").unwrap(),
            "api.example"
        );
        assert!(server_url_host("http://127.0.0.1:6443").is_err());
        assert!(server_url_host("nonsense").is_err());
    }
}
