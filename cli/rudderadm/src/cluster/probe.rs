//! Health probes `up` uses to know a component serves: one HTTP/1.1 GET, over TLS with
//! a client certificate where the component requires one, judged by its status line.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use rudder_pki::TlsPaths;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::plan::HealthCheck;

/// How long one probe may take before it counts as a failure.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Runs the check once: Ok when the component answered 200.
pub async fn probe(check: &HealthCheck) -> anyhow::Result<()> {
    tokio::time::timeout(PROBE_TIMEOUT, probe_once(check))
        .await
        .context("no answer")?
}

async fn probe_once(check: &HealthCheck) -> anyhow::Result<()> {
    match check {
        HealthCheck::Http { port, path } => {
            let stream = TcpStream::connect(("127.0.0.1", *port)).await?;
            expect_ok(stream, path).await
        }
        HealthCheck::Https { port, path, tls } => {
            let stream = TcpStream::connect(("127.0.0.1", *port)).await?;
            let connector = tokio_rustls::TlsConnector::from(http1_client_config(tls)?);
            let server_name = ServerName::try_from("127.0.0.1")?;
            let stream = connector.connect(server_name, stream).await?;
            expect_ok(stream, path).await
        }
    }
}

/// The pki client config speaks h2 only; a probe this small speaks HTTP/1.1.
fn http1_client_config(tls: &TlsPaths) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    let mut config = (*tls.client_config()?).clone();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

async fn expect_ok<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    path: &str,
) -> anyhow::Result<()> {
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut head = [0u8; 64];
    let mut len = 0;
    while len < head.len() {
        let n = stream.read(&mut head[len..]).await?;
        if n == 0 {
            break;
        }
        len += n;
        if head[..len].contains(&b'\n') {
            break;
        }
    }
    let status_line = String::from_utf8_lossy(&head[..len]);
    let status_line = status_line.lines().next().unwrap_or_default();
    match status_line.split_whitespace().nth(1) {
        Some("200") => Ok(()),
        Some(code) => bail!("answered {code}"),
        None => bail!("answered no HTTP status"),
    }
}
