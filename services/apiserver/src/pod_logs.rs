//! The `pods/log` subresource, as upstream serves it: the caller needs `get pods/log`;
//! the container is checked against the pod (the only one when none is named); a pod
//! not bound to a node has no log yet (an empty 200); a bound pod's log is the
//! kubelet's `/containerLogs/<ns>/<pod>/<container>` stream, fetched over HTTPS at
//! the node's InternalIP and kubelet port and passed through unchanged as text/plain.
//! REST (`GET .../pods/<name>/log`) and the gRPC `Logs` call both open it here.

use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use http_body_util::{BodyExt, BodyStream, Empty};
use hyper_util::rt::TokioIo;
use rudder_api::resource;
use rustls_pki_types::{CertificateDer, ServerName, pem::PemObject};
use serde_json::Value;

use crate::admission::{Attributes, RequestContext, Verb};
use crate::error::{Error, Result};
use crate::registry::{ObjectRef, Registry};

/// The kubelet's port when a node does not report one (`--port` of upstream's kubelet).
pub const DEFAULT_KUBELET_PORT: u16 = 10250;
/// How long the kubelet may take to accept the connection and answer the headers.
const KUBELET_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How much of a kubelet's error body becomes the Status message (upstream's limit).
const MAX_ERROR_BODY: usize = 4 * 1024;

/// The log, piece by piece, as the kubelet writes it.
pub type LogStream = Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send>>;

/// A PodLogOptions: what REST takes as query parameters and gRPC as `LogsRequest`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogOptions {
    /// Empty: the pod's only container.
    pub container: String,
    /// Keep streaming as the container writes.
    pub follow: bool,
    /// The previous instance of the container.
    pub previous: bool,
    /// Prefix each line with its RFC 3339 time.
    pub timestamps: bool,
    /// Only the last N lines.
    pub tail_lines: Option<i64>,
    /// Only lines newer than this many seconds.
    pub since_seconds: Option<i64>,
    /// Stop after this many bytes.
    pub limit_bytes: Option<i64>,
}

impl LogOptions {
    /// The options of a REST request's query.
    pub fn from_query(query: &crate::rest::request::Query) -> Result<LogOptions> {
        let number = |key: &str| -> Result<Option<i64>> {
            match query.get(key) {
                "" => Ok(None),
                text => text.parse().map(Some).map_err(|_| {
                    Error::BadRequest(format!(
                        "{key}: Invalid value: \"{text}\": must be an integer"
                    ))
                }),
            }
        };
        LogOptions {
            container: query.get("container").to_string(),
            follow: query.flag("follow"),
            previous: query.flag("previous"),
            timestamps: query.flag("timestamps"),
            tail_lines: number("tailLines")?,
            since_seconds: number("sinceSeconds")?,
            limit_bytes: number("limitBytes")?,
        }
        .validated()
    }

    /// Upstream's bounds: tailLines ≥ 0, sinceSeconds and limitBytes ≥ 1.
    pub fn validated(self) -> Result<LogOptions> {
        let check = |field: &str, value: Option<i64>, min: i64| match value {
            Some(v) if v < min => Err(Error::BadRequest(format!(
                "PodLogOptions is invalid: {field}: Invalid value: {v}: must be greater than {}",
                if min == 0 {
                    "or equal to 0".to_string()
                } else {
                    "0".to_string()
                }
            ))),
            _ => Ok(()),
        };
        check("tailLines", self.tail_lines, 0)?;
        check("sinceSeconds", self.since_seconds, 1)?;
        check("limitBytes", self.limit_bytes, 1)?;
        Ok(self)
    }

    /// The kubelet's query string for these options (the container is in the path).
    fn kubelet_query(&self) -> String {
        let mut params = Vec::new();
        if self.follow {
            params.push("follow=true".to_string());
        }
        if self.previous {
            params.push("previous=true".to_string());
        }
        if self.timestamps {
            params.push("timestamps=true".to_string());
        }
        for (key, value) in [
            ("sinceSeconds", self.since_seconds),
            ("tailLines", self.tail_lines),
            ("limitBytes", self.limit_bytes),
        ] {
            if let Some(v) = value {
                params.push(format!("{key}={v}"));
            }
        }
        params.join("&")
    }
}

/// The container whose log is asked for, checked against the pod as upstream's
/// `validateContainer` does (messages included).
pub fn container_of(pod: &Value, asked: &str) -> Result<String> {
    let pod_name = pod
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let names = |list: &str| -> Vec<String> {
        pod.pointer(&format!("/spec/{list}"))
            .and_then(Value::as_array)
            .map(|containers| {
                containers
                    .iter()
                    .filter_map(|c| c.get("name").and_then(Value::as_str))
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    let containers = names("containers");
    // Upstream visits init, then regular, then ephemeral containers.
    let all: Vec<String> = names("initContainers")
        .into_iter()
        .chain(containers.iter().cloned())
        .chain(names("ephemeralContainers"))
        .collect();
    if asked.is_empty() {
        return match containers.as_slice() {
            [only] => Ok(only.clone()),
            [] => Err(Error::BadRequest(format!(
                "a container name must be specified for pod {pod_name}"
            ))),
            _ => Err(Error::BadRequest(format!(
                "a container name must be specified for pod {pod_name}, choose one of: [{}]",
                all.join(" ")
            ))),
        };
    }
    if all.iter().any(|c| c == asked) {
        Ok(asked.to_string())
    } else {
        Err(Error::BadRequest(format!(
            "container {asked} is not valid for pod {pod_name}"
        )))
    }
}

/// Where a node's kubelet listens: its InternalIP and
/// `status.daemonEndpoints.kubeletEndpoint.Port` (10250 when unset).
pub fn kubelet_endpoint(node: &Value) -> Result<(String, u16)> {
    let name = node
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let address = node
        .pointer("/status/addresses")
        .and_then(Value::as_array)
        .and_then(|addresses| {
            addresses
                .iter()
                .find(|a| a.get("type").and_then(Value::as_str) == Some("InternalIP"))
        })
        .and_then(|a| a.get("address").and_then(Value::as_str))
        .filter(|a| !a.is_empty())
        .ok_or_else(|| {
            Error::Internal(format!(
                "no preferred addresses found; known addresses: [] (node {name})"
            ))
        })?;
    let port = node
        .pointer("/status/daemonEndpoints/kubeletEndpoint/Port")
        .and_then(Value::as_u64)
        .and_then(|p| u16::try_from(p).ok())
        .filter(|p| *p > 0)
        .unwrap_or(DEFAULT_KUBELET_PORT);
    Ok((address.to_string(), port))
}

/// The API server's HTTPS client for kubelets: verifies the kubelet's serving
/// certificate against a CA bundle and, when given one, presents the
/// `kube-apiserver-kubelet-client` identity (`--kubelet-client-certificate/-key`).
#[derive(Clone)]
pub struct KubeletClient {
    tls: Arc<rustls::ClientConfig>,
}

impl std::fmt::Debug for KubeletClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KubeletClient")
    }
}

impl KubeletClient {
    /// A client that trusts the CA bundle at `ca_file` for kubelets' certificates
    /// and presents `identity` (certificate, key) when one is given.
    pub fn new(ca_file: &Path, identity: Option<(&Path, &Path)>) -> Result<KubeletClient> {
        rudder_pki::install_crypto_provider();
        let bad = |what: String| Error::Startup(format!("kubelet client TLS: {what}"));
        let mut config = match identity {
            Some((cert, key)) => {
                let paths = rudder_pki::TlsPaths::new(ca_file, cert, key);
                (*paths.client_config().map_err(|e| bad(e.to_string()))?).clone()
            }
            None => {
                let pem = std::fs::read(ca_file)
                    .map_err(|e| bad(format!("{}: {e}", ca_file.display())))?;
                let mut roots = rustls::RootCertStore::empty();
                for cert in CertificateDer::pem_slice_iter(&pem) {
                    roots
                        .add(cert.map_err(|_| bad("the CA is not PEM".into()))?)
                        .map_err(|e| bad(e.to_string()))?;
                }
                rustls::ClientConfig::builder()
                    .with_root_certificates(roots)
                    .with_no_client_auth()
            }
        };
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(KubeletClient {
            tls: Arc::new(config),
        })
    }

    /// `GET https://host:port/<path>` and its body as a stream; a non-2xx answer
    /// becomes the error upstream's response checker makes of it.
    async fn stream(&self, host: &str, port: u16, path: &str, pod: &str) -> Result<LogStream> {
        let url = format!("https://{}{path}", authority(host, port));
        let unreachable = |why: String| Error::Internal(format!("Get \"{url}\": {why}"));
        let connect = async {
            let tcp = tokio::net::TcpStream::connect((host, port))
                .await
                .map_err(|e| unreachable(format!("dial tcp {}: {e}", authority(host, port))))?;
            let name =
                ServerName::try_from(host.to_string()).map_err(|e| unreachable(e.to_string()))?;
            let tls = tokio_rustls::TlsConnector::from(self.tls.clone())
                .connect(name, tcp)
                .await
                .map_err(|e| unreachable(format!("tls: {e}")))?;
            let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
                .await
                .map_err(|e| unreachable(e.to_string()))?;
            tokio::spawn(async move {
                // The connection ends with the body (or the caller going away).
                let _ = connection.await;
            });
            let request = http::Request::get(path)
                .header(http::header::HOST, authority(host, port))
                .header(http::header::ACCEPT, "text/plain, */*")
                .body(Empty::<Bytes>::new())
                .map_err(|e| unreachable(e.to_string()))?;
            sender
                .send_request(request)
                .await
                .map_err(|e| unreachable(e.to_string()))
        };
        let response = tokio::time::timeout(KUBELET_CONNECT_TIMEOUT, connect)
            .await
            .map_err(|_| unreachable("i/o timeout".into()))??;
        let status = response.status();
        if !status.is_success() {
            let body = read_prefix(response.into_body(), MAX_ERROR_BODY).await;
            return Err(kubelet_error(status.as_u16(), &body, pod));
        }
        let body = BodyStream::new(response.into_body()).filter_map(|frame| async move {
            match frame {
                Ok(frame) => frame.into_data().ok().map(Ok),
                Err(e) => Some(Err(std::io::Error::other(e))),
            }
        });
        Ok(Box::pin(body))
    }
}

fn authority(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

async fn read_prefix(body: hyper::body::Incoming, limit: usize) -> String {
    let mut bytes = Vec::new();
    let mut stream = BodyStream::new(body);
    while let Some(Ok(frame)) = stream.next().await {
        if let Ok(data) = frame.into_data() {
            bytes.extend_from_slice(&data);
            if bytes.len() >= limit {
                bytes.truncate(limit);
                break;
            }
        }
    }
    String::from_utf8_lossy(&bytes).trim_end().to_string()
}

/// A kubelet's refusal as upstream's `GenericHttpResponseChecker` turns it into a
/// Status: 400 and 500 carry the kubelet's words, others a generic line.
fn kubelet_error(code: u16, body: &str, pod: &str) -> Error {
    match code {
        400 => Error::BadRequest(body.to_string()),
        500 => Error::Internal(body.to_string()),
        404 => Error::Internal(format!(
            "the server could not find the requested resource ( pods/log {pod})"
        )),
        other => Error::Internal(format!(
            "the server responded with the status code {other} but did not return more information (get pods/log {pod})"
        )),
    }
}

/// Opens the log of `namespace/name` for `ctx`.
pub async fn open(
    registry: &Registry,
    kubelet: Option<&KubeletClient>,
    ctx: &RequestContext,
    namespace: &str,
    name: &str,
    options: &LogOptions,
) -> Result<LogStream> {
    let pods = resource::by_plural("", "pods").ok_or(Error::PathNotFound)?;
    let nodes = resource::by_plural("", "nodes").ok_or(Error::PathNotFound)?;
    registry.authorizer().authorize(
        ctx,
        &Attributes {
            verb: Verb::Get,
            resource: pods,
            subresource: Some("log"),
            namespace: Some(namespace),
            name,
        },
    )?;
    // The pod and its node are read with the server's own authority: the caller
    // was authorized for pods/log, as upstream's log REST does.
    let system = RequestContext::new(rudder_pki::Identity::new(
        "system:apiserver",
        ["system:masters"],
    ));
    let read = |resource, namespace: Option<&str>, name: &str| ObjectRef {
        resource,
        namespace: namespace.map(str::to_string),
        name: name.to_string(),
        subresource: None,
    };
    let pod = registry
        .get(&system, &read(pods, Some(namespace), name))
        .await?;
    let container = container_of(&pod, &options.container)?;
    let node_name = pod
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if node_name.is_empty() {
        // Not scheduled yet: nothing ran, so the log is empty.
        return Ok(Box::pin(futures::stream::empty()));
    }
    let node = registry.get(&system, &read(nodes, None, node_name)).await?;
    let (host, port) = kubelet_endpoint(&node)?;
    let Some(kubelet) = kubelet else {
        return Err(Error::Internal(
            "this API server has no kubelet client configured".into(),
        ));
    };
    let query = options.kubelet_query();
    let path = format!(
        "/containerLogs/{namespace}/{name}/{container}{}{query}",
        if query.is_empty() { "" } else { "?" }
    );
    kubelet.stream(&host, port, &path, name).await
}

/// Whether a REST request is `GET .../pods/<name>/log`.
pub fn is_log_request(req: &crate::rest::request::ResourceRequest) -> bool {
    req.verb == Verb::Get
        && req.resource.group.is_empty()
        && req.resource.plural == "pods"
        && req.subresource.as_deref() == Some("log")
}

/// Answers `GET .../pods/<name>/log`: the log as a chunked text/plain body.
pub async fn rest_response(
    registry: &Registry,
    kubelet: Option<&KubeletClient>,
    ctx: &RequestContext,
    req: &crate::rest::request::ResourceRequest,
    query: &crate::rest::request::Query,
) -> Result<http::Response<crate::rest::codec::Body>> {
    let options = LogOptions::from_query(query)?;
    let namespace = req.namespace.as_deref().unwrap_or_default();
    let name = req.name.as_deref().unwrap_or_default();
    let log = open(registry, kubelet, ctx, namespace, name, &options).await?;
    let frames = log.map(|chunk| {
        chunk
            .map(hyper::body::Frame::data)
            .map_err(|e| Box::new(e) as crate::rest::codec::BoxError)
    });
    let mut response = http::Response::new(http_body_util::StreamBody::new(frames).boxed_unsync());
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain"),
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(containers: &[&str], init: &[&str]) -> Value {
        let list = |names: &[&str]| names.iter().map(|n| json!({"name": n})).collect::<Vec<_>>();
        json!({"metadata": {"name": "web"},
               "spec": {"containers": list(containers), "initContainers": list(init)}})
    }

    #[test]
    fn the_container_is_picked_or_refused_as_upstream() {
        assert_eq!(container_of(&pod(&["app"], &[]), "").unwrap(), "app");
        assert_eq!(
            container_of(&pod(&["app", "sidecar"], &["setup"]), "")
                .unwrap_err()
                .to_string(),
            "a container name must be specified for pod web, choose one of: [setup app sidecar]"
        );
        assert_eq!(
            container_of(&pod(&["app"], &[]), "nope")
                .unwrap_err()
                .to_string(),
            "container nope is not valid for pod web"
        );
        assert_eq!(
            container_of(&pod(&["app"], &["setup"]), "setup").unwrap(),
            "setup"
        );
        assert_eq!(container_of(&pod(&[], &[]), "").unwrap_err().code(), 400);
    }

    #[test]
    fn the_kubelet_is_found_at_the_internal_ip_and_reported_port() {
        let node = json!({"metadata": {"name": "n1"}, "status": {
            "addresses": [{"type": "Hostname", "address": "n1"},
                          {"type": "InternalIP", "address": "127.0.0.1"}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 12250}}}});
        assert_eq!(
            kubelet_endpoint(&node).unwrap(),
            ("127.0.0.1".to_string(), 12250)
        );
        let bare = json!({"metadata": {"name": "n1"}, "status": {
            "addresses": [{"type": "InternalIP", "address": "10.0.0.5"}]}});
        assert_eq!(kubelet_endpoint(&bare).unwrap().1, DEFAULT_KUBELET_PORT);
        assert!(kubelet_endpoint(&json!({"metadata": {"name": "n1"}})).is_err());
    }

    #[test]
    fn options_become_the_kubelets_query() {
        let query = crate::rest::request::Query::parse(Some(
            "container=app&follow=true&previous=1&tailLines=10",
        ));
        let options = LogOptions::from_query(&query).unwrap();
        assert_eq!(options.container, "app");
        assert_eq!(
            options.kubelet_query(),
            "follow=true&previous=true&tailLines=10"
        );
        let bad = crate::rest::request::Query::parse(Some("tailLines=-1"));
        assert_eq!(LogOptions::from_query(&bad).unwrap_err().code(), 400);
        let bad = crate::rest::request::Query::parse(Some("tailLines=x"));
        assert_eq!(LogOptions::from_query(&bad).unwrap_err().code(), 400);
        assert_eq!(LogOptions::default().kubelet_query(), "");
    }
}
