//! `rudderadm certs`: the cluster CA, certificates and kubeconfigs under `--dir`, laid
//! out as kubeadm lays them out (see `rudder_pki::certs`).
//!
//! Default: one store member named `default` and no nodes; pass `--node NAME` per
//! kubelet (also later: existing files are kept, new ones are signed by the CA on disk).

use std::path::PathBuf;

use clap::Args;
use rudder_pki::certs::{
    CertsOptions, DEFAULT_CLUSTER_NAME, DEFAULT_SERVER_URL, write_cluster_certs,
};

/// Flags of `rudderadm certs`. Lists take repeated flags or comma-separated values.
#[derive(Debug, Clone, Args)]
pub struct CertsArgs {
    /// Directory that gets pki/ and the kubeconfigs.
    #[arg(
        long,
        env = "RUDDER_DIR",
        value_name = "DIR",
        default_value = ".rudder"
    )]
    pub dir: PathBuf,

    /// API server URL written into the kubeconfigs; its host joins the API server's SANs.
    #[arg(long, env = "RUDDER_SERVER", value_name = "URL", default_value = DEFAULT_SERVER_URL)]
    pub server: String,

    /// Extra DNS name or IP of the API server certificate (loopback and kubernetes.default.svc are always in).
    #[arg(
        long = "apiserver-san",
        env = "RUDDER_APISERVER_SANS",
        value_name = "NAME|IP",
        value_delimiter = ','
    )]
    pub apiserver_sans: Vec<String>,

    /// Store member to make a server+peer certificate for [default: default].
    #[arg(
        long = "store-member",
        env = "RUDDER_STORE_MEMBERS",
        value_name = "NAME",
        value_delimiter = ','
    )]
    pub store_members: Vec<String>,

    /// Extra DNS name or IP of every store member certificate (loopback and the member name are always in).
    #[arg(
        long = "store-san",
        env = "RUDDER_STORE_SANS",
        value_name = "NAME|IP",
        value_delimiter = ','
    )]
    pub store_sans: Vec<String>,

    /// Node to make a kubelet identity (system:node:NAME) and kubelet-NAME.conf for.
    #[arg(
        long = "node",
        env = "RUDDER_NODES",
        value_name = "NAME",
        value_delimiter = ','
    )]
    pub nodes: Vec<String>,

    /// Cluster and context name in the kubeconfigs.
    #[arg(long, env = "RUDDER_CLUSTER_NAME", value_name = "NAME", default_value = DEFAULT_CLUSTER_NAME)]
    pub cluster_name: String,

    /// Regenerate everything, the CA included (every existing certificate stops working).
    #[arg(long, env = "RUDDER_FORCE")]
    pub force: bool,
}

/// Writes the certificates and prints, kubeadm-style, what was written and what kept.
pub fn run(args: &CertsArgs) -> anyhow::Result<()> {
    let options = CertsOptions {
        dir: args.dir.clone(),
        server_url: args.server.clone(),
        apiserver_sans: args.apiserver_sans.clone(),
        store_members: args.store_members.clone(),
        store_sans: args.store_sans.clone(),
        nodes: args.nodes.clone(),
        force: args.force,
        cluster_name: args.cluster_name.clone(),
    };
    // PkiError messages name the file at fault; no context needed.
    let report = write_cluster_certs(&options)?;
    if report.ca_generated {
        println!("[certs] generated a new cluster CA");
    }
    for path in &report.written {
        println!("[certs] wrote {}", path.display());
    }
    for path in &report.kept {
        println!("[certs] kept {}", path.display());
    }
    Ok(())
}
