//! HTTPS to a Kubernetes API server as client-go talks to it: TLS with a client
//! certificate, HTTP/2 (ALPN `h2`), many requests multiplexed on one connection,
//! JSON bodies, and watches as long-lived streams of the same connection.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http2;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rudder_pki::TlsPaths;
use rudder_pki::kubeconfig::Kubeconfig;
use rustls_pki_types::ServerName;
use tokio_rustls::TlsConnector;

use crate::{Error, Result};

/// Where the API server is and how to prove who we are to it.
#[derive(Clone)]
pub struct Target {
    /// `https://host:port`, as in a kubeconfig, without a trailing slash.
    pub server: String,
    /// `host:port` to dial.
    address: String,
    /// The name the server certificate must carry.
    server_name: ServerName<'static>,
    tls: Arc<rustls::ClientConfig>,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

/// The `host:port` of an `https://` server URL (port 443 when absent).
pub fn server_address(server: &str) -> Result<String> {
    let invalid = |why: &str| Error::Invalid(format!("server {server:?}: {why}"));
    let rest = server
        .strip_prefix("https://")
        .ok_or_else(|| invalid("must start with https://"))?;
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.is_empty() {
        return Err(invalid("has no host"));
    }
    let has_port = match authority.rfind(']') {
        // [v6]:port
        Some(bracket) => authority[bracket..].contains(':'),
        None => authority.contains(':'),
    };
    Ok(if has_port {
        authority.to_string()
    } else {
        format!("{authority}:443")
    })
}

/// The host of a `host:port` address, without IPv6 brackets.
fn host_of(address: &str) -> &str {
    let host = address.rsplit_once(':').map_or(address, |(host, _)| host);
    host.trim_start_matches('[').trim_end_matches(']')
}

impl Target {
    /// The current context of a kubeconfig (as `rudderadm certs` writes `admin.conf`).
    pub fn from_kubeconfig(path: &Path, server: Option<&str>) -> Result<Target> {
        let tls_error = |e: rudder_pki::PkiError| Error::Tls(format!("{}: {e}", path.display()));
        let credentials = Kubeconfig::load(path)
            .and_then(|k| k.client_credentials())
            .map_err(tls_error)?;
        let tls = credentials.tls.client_config().map_err(tls_error)?;
        let server = server.unwrap_or(&credentials.server);
        Target::new(server, Some(&credentials.server_name), tls)
    }

    /// A server URL and kubectl's three TLS files.
    pub fn from_files(
        server: &str,
        ca: &Path,
        cert: &Path,
        key: &Path,
        server_name: Option<&str>,
    ) -> Result<Target> {
        let tls = TlsPaths::new(ca, cert, key)
            .client_config()
            .map_err(|e| Error::Tls(e.to_string()))?;
        Target::new(server, server_name, tls)
    }

    fn new(
        server: &str,
        server_name: Option<&str>,
        tls: Arc<rustls::ClientConfig>,
    ) -> Result<Target> {
        let address = server_address(server)?;
        let name = server_name.unwrap_or_else(|| host_of(&address)).to_string();
        let server_name = ServerName::try_from(name.clone())
            .map_err(|_| Error::Invalid(format!("{name:?} is not a TLS server name")))?;
        let mut tls = (*tls).clone();
        tls.alpn_protocols = vec![b"h2".to_vec()];
        Ok(Target {
            server: server.trim_end_matches('/').to_string(),
            address,
            server_name,
            tls: Arc::new(tls),
        })
    }

    /// Opens one HTTP/2 connection (TCP, TLS with our certificate, h2 handshake).
    pub async fn connect(&self, timeout: Duration) -> Result<Connection, String> {
        let open = async {
            let tcp = tokio::net::TcpStream::connect(&self.address)
                .await
                .map_err(|e| format!("connecting to {}: {e}", self.address))?;
            tcp.set_nodelay(true).map_err(|e| e.to_string())?;
            let tls = TlsConnector::from(self.tls.clone())
                .connect(self.server_name.clone(), tcp)
                .await
                .map_err(|e| format!("TLS with {}: {e}", self.address))?;
            let (sender, connection) = http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
                .await
                .map_err(|e| format!("HTTP/2 with {}: {e}", self.address))?;
            tokio::spawn(async move {
                // Ends with the last handle to the connection or an error: either way
                // the requests on it fail and say so.
                let _ = connection.await;
            });
            Ok(Connection {
                sender,
                server: self.server.clone(),
                timeout,
            })
        };
        tokio::time::timeout(timeout, open)
            .await
            .map_err(|_| format!("connecting to {} took over {timeout:?}", self.address))?
    }
}

/// One HTTP/2 connection; clones share it (each request is a stream of its own).
#[derive(Clone)]
pub struct Connection {
    sender: http2::SendRequest<Full<Bytes>>,
    server: String,
    /// Deadline of each request, body included.
    timeout: Duration,
}

/// A complete answer.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Bytes,
}

impl Answer {
    /// `Ok(self)` when the status is `expected`, else the status and the Status
    /// message the server sent, as one line.
    pub fn expect(self, expected: StatusCode) -> Result<Answer, String> {
        if self.status == expected {
            return Ok(self);
        }
        let message = serde_json::from_slice::<serde_json::Value>(&self.body)
            .ok()
            .and_then(|v| v["message"].as_str().map(str::to_string))
            .unwrap_or_else(|| {
                String::from_utf8_lossy(&self.body)
                    .chars()
                    .take(200)
                    .collect()
            });
        Err(format!("{}: {message}", self.status))
    }
}

impl Connection {
    /// Sends a request and reads the whole answer, within the request deadline.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Answer, String> {
        let exchange = async {
            let (status, incoming) = self.start(method, path, body).await?;
            let body = incoming
                .collect()
                .await
                .map_err(|e| format!("reading the answer: {e}"))?
                .to_bytes();
            Ok(Answer { status, body })
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| format!("no answer within {:?}", self.timeout))?
    }

    /// Sends a GET and returns as soon as the status arrives, with the body still
    /// streaming (a watch). Only the wait for the status has a deadline.
    pub async fn stream(&self, path: &str) -> Result<(StatusCode, Incoming), String> {
        tokio::time::timeout(self.timeout, self.start(Method::GET, path, None))
            .await
            .map_err(|_| format!("no answer within {:?}", self.timeout))?
    }

    async fn start(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<(StatusCode, Incoming), String> {
        let mut builder = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.server))
            .header(header::ACCEPT, "application/json")
            .header(header::USER_AGENT, "rudder-bench");
        if body.is_some() {
            builder = builder.header(header::CONTENT_TYPE, "application/json");
        }
        let request = builder
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|e| format!("building the request: {e}"))?;
        let mut sender = self.sender.clone();
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| format!("sending: {e}"))?;
        Ok((response.status(), response.into_body()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_addresses() {
        assert_eq!(
            server_address("https://127.0.0.1:6443").unwrap(),
            "127.0.0.1:6443"
        );
        assert_eq!(
            server_address("https://kubernetes.default.svc/").unwrap(),
            "kubernetes.default.svc:443"
        );
        assert_eq!(server_address("https://[::1]:6443").unwrap(), "[::1]:6443");
        assert_eq!(server_address("https://[::1]").unwrap(), "[::1]:443");
        assert_eq!(host_of("[::1]:6443"), "::1");
        assert_eq!(host_of("127.0.0.1:6443"), "127.0.0.1");
        for bad in ["http://127.0.0.1:8080", "https://", "127.0.0.1:6443"] {
            assert!(server_address(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn unexpected_answers_carry_the_status_message() {
        let answer = Answer {
            status: StatusCode::CONFLICT,
            body: Bytes::from_static(
                br#"{"kind":"Status","message":"the object has been modified","code":409}"#,
            ),
        };
        assert_eq!(
            answer.expect(StatusCode::OK).unwrap_err(),
            "409 Conflict: the object has been modified"
        );
        let ok = Answer {
            status: StatusCode::OK,
            body: Bytes::new(),
        };
        assert!(ok.expect(StatusCode::OK).is_ok());
    }
}
