//! [`Client`]: one mTLS gRPC channel to the API server's `Api` service, with trace
//! context and the bearer token on every call, and retries of transient failures.

use std::future::Future;
use std::time::Duration;

use futures::{Stream, StreamExt};
use rudder_proto::api::v1 as proto;
use rudder_proto::api::v1::api_client::ApiClient;
use rudder_telemetry::ClientTraceLayer;
use rudder_telemetry::layer::ClientTrace;
use tonic::metadata::{AsciiMetadataValue, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};
use tower::Layer;
use tracing::Instrument;

use crate::backoff::RetryPolicy;
use crate::config::{ClientConfig, KubeconfigOptions};
use crate::error::{Error, Result};

type GrpcClient = ApiClient<ClientTrace<InterceptedService<Channel, BearerToken>>>;

/// Adds `authorization: Bearer <token>` to every call when the kubeconfig has a token.
#[derive(Clone)]
struct BearerToken(Option<AsciiMetadataValue>);

impl tonic::service::Interceptor for BearerToken {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(value) = &self.0 {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        Ok(request)
    }
}

/// Whether a call may be repeated after a failure that might have reached the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Idempotency {
    /// Reads: repeat on any transient error.
    Safe,
    /// Writes: repeat only when the request certainly was not processed.
    Unsafe,
}

/// A connection to the API server, cheap to clone (clones share the HTTP/2 channel).
///
/// It connects lazily: building one never fails because the server is down, and the
/// first call retries until it is up (within the [`RetryPolicy`]). Every call carries
/// a `grpc.client` span whose W3C trace context the server continues.
#[derive(Clone)]
pub struct Client {
    grpc: GrpcClient,
    default_namespace: String,
    request_timeout: Duration,
    retry: RetryPolicy,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("default_namespace", &self.default_namespace)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

/// `<binary>/<version>`, as client-go names its callers: the API server records
/// the writes of a client that names no field manager for the binary's name.
fn user_agent() -> String {
    let binary = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "rudder-client".to_string());
    format!("{binary}/{}", env!("CARGO_PKG_VERSION"))
}

impl Client {
    /// A client for the kubeconfig the options select (see [`crate::config`]).
    pub fn from_kubeconfig(options: &KubeconfigOptions) -> Result<Client> {
        Client::new(ClientConfig::load(options)?)
    }

    /// A client for `config`. Must be called inside a Tokio runtime.
    pub fn new(config: ClientConfig) -> Result<Client> {
        let tls = config.tls.tonic_client(&config.server_name)?;
        let endpoint = Endpoint::from_shared(config.server.clone())
            .map_err(|err| Error::Config(format!("server {:?}: {err}", config.server)))?
            .tls_config(tls)
            .map_err(|err| Error::Config(format!("TLS: {err}")))?
            .connect_timeout(config.connect_timeout)
            .user_agent(user_agent())
            .map_err(|err| Error::Config(format!("user agent: {err}")))?
            // Keep-alives let a watch notice a server that vanished without a FIN.
            .http2_keep_alive_interval(Duration::from_secs(30))
            .keep_alive_timeout(Duration::from_secs(10))
            .keep_alive_while_idle(true);
        let channel = endpoint.connect_lazy();
        let token = match &config.token {
            Some(token) => Some(
                MetadataValue::try_from(format!("Bearer {}", token.0))
                    .map_err(|_| Error::Config("the token is not valid header text".to_string()))?,
            ),
            None => None,
        };
        let grpc = ApiClient::new(
            ClientTraceLayer::grpc().layer(InterceptedService::new(channel, BearerToken(token))),
        )
        // Objects are JSON in bytes fields; lists of thousands of pods exceed the 4 MiB default.
        .max_decoding_message_size(256 * 1024 * 1024);
        Ok(Client {
            grpc,
            default_namespace: config.default_namespace,
            request_timeout: config.request_timeout,
            retry: RetryPolicy::default(),
        })
    }

    /// The same client with another retry policy (e.g. [`RetryPolicy::none`] for a CLI
    /// that reports at once, or short delays in tests).
    pub fn with_retry_policy(mut self, retry: RetryPolicy) -> Client {
        self.retry = retry;
        self
    }

    /// The retry policy in use.
    pub fn retry_policy(&self) -> RetryPolicy {
        self.retry
    }

    /// The namespace of the kubeconfig context (or `--namespace`), `default` if none.
    pub fn default_namespace(&self) -> &str {
        &self.default_namespace
    }

    /// Runs `call` until it succeeds, fails for good, or attempts run out.
    async fn with_retries<T, F, Fut>(
        &self,
        verb: &'static str,
        idempotency: Idempotency,
        mut call: F,
    ) -> Result<T>
    where
        F: FnMut(GrpcClient) -> Fut,
        Fut: Future<Output = Result<T, tonic::Status>>,
    {
        let mut backoff = self.retry.backoff.start();
        let mut attempt = 1;
        loop {
            // Also bounds opening a watch (its response headers), not the stream itself.
            let err =
                match tokio::time::timeout(self.request_timeout, call(self.grpc.clone())).await {
                    Ok(Ok(value)) => return Ok(value),
                    Ok(Err(status)) => Error::from_grpc(status),
                    Err(_elapsed) => Error::from_grpc(tonic::Status::deadline_exceeded(format!(
                        "no answer within {:?}",
                        self.request_timeout
                    ))),
                };
            let retryable = match &err {
                Error::Transient(t) => idempotency == Idempotency::Safe || t.not_processed,
                _ => false,
            };
            if !retryable || attempt >= self.retry.max_attempts {
                return Err(err);
            }
            let delay = backoff.next_delay();
            tracing::debug!(verb, attempt, ?delay, error = %err, "retrying a transient failure");
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    fn unary<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        request.set_timeout(self.request_timeout);
        request
    }

    /// `Get` on the raw service: the object's JSON.
    pub async fn get_raw(&self, r: proto::ResourceRef, resource_version: &str) -> Result<Vec<u8>> {
        let message = proto::GetRequest {
            r#ref: Some(r),
            resource_version: resource_version.to_string(),
        };
        let span = tracing::debug_span!("api.get");
        self.with_retries("get", Idempotency::Safe, |mut grpc| {
            let request = self.unary(message.clone());
            async move { grpc.get(request).await.map(|r| r.into_inner().object) }
        })
        .instrument(span)
        .await
    }

    /// `List` on the raw service: the list's JSON.
    pub async fn list_raw(&self, message: proto::ListRequest) -> Result<Vec<u8>> {
        self.with_retries("list", Idempotency::Safe, |mut grpc| {
            let request = self.unary(message.clone());
            async move { grpc.list(request).await.map(|r| r.into_inner().list) }
        })
        .instrument(tracing::debug_span!("api.list"))
        .await
    }

    /// `Create` on the raw service.
    pub async fn create_raw(&self, message: proto::CreateRequest) -> Result<Vec<u8>> {
        self.with_retries("create", Idempotency::Unsafe, |mut grpc| {
            let request = self.unary(message.clone());
            async move { grpc.create(request).await.map(|r| r.into_inner().object) }
        })
        .instrument(tracing::debug_span!("api.create"))
        .await
    }

    /// `Update` on the raw service.
    pub async fn update_raw(&self, message: proto::UpdateRequest) -> Result<Vec<u8>> {
        self.with_retries("update", Idempotency::Unsafe, |mut grpc| {
            let request = self.unary(message.clone());
            async move { grpc.update(request).await.map(|r| r.into_inner().object) }
        })
        .instrument(tracing::debug_span!("api.update"))
        .await
    }

    /// `Patch` on the raw service.
    pub async fn patch_raw(&self, message: proto::PatchRequest) -> Result<Vec<u8>> {
        self.with_retries("patch", Idempotency::Unsafe, |mut grpc| {
            let request = self.unary(message.clone());
            async move { grpc.patch(request).await.map(|r| r.into_inner().object) }
        })
        .instrument(tracing::debug_span!("api.patch"))
        .await
    }

    /// `Delete` on the raw service: the deleted object (or a `Status`) as JSON.
    pub async fn delete_raw(&self, message: proto::DeleteRequest) -> Result<Vec<u8>> {
        self.with_retries("delete", Idempotency::Unsafe, |mut grpc| {
            let request = self.unary(message.clone());
            async move { grpc.delete(request).await.map(|r| r.into_inner().object) }
        })
        .instrument(tracing::debug_span!("api.delete"))
        .await
    }

    /// `DeleteCollection` on the raw service: the list of deleted objects as JSON.
    pub async fn delete_collection_raw(&self, message: proto::DeleteRequest) -> Result<Vec<u8>> {
        self.with_retries("deletecollection", Idempotency::Unsafe, |mut grpc| {
            let request = self.unary(message.clone());
            async move {
                grpc.delete_collection(request)
                    .await
                    .map(|r| r.into_inner().list)
            }
        })
        .instrument(tracing::debug_span!("api.deletecollection"))
        .await
    }

    /// `Watch` on the raw service. Opening the stream is retried like a read; an error
    /// in the middle of the stream ends it (resuming is the [`crate::watcher`]'s job).
    pub async fn watch_raw(
        &self,
        message: proto::WatchRequest,
    ) -> Result<impl Stream<Item = Result<proto::WatchEvent>> + Send + 'static + use<>> {
        let stream = self
            .with_retries("watch", Idempotency::Safe, |mut grpc| {
                let message = message.clone();
                async move { grpc.watch(message).await.map(|r| r.into_inner()) }
            })
            .instrument(tracing::debug_span!("api.watch"))
            .await?;
        Ok(stream.map(|item| item.map_err(Error::from_grpc)))
    }

    /// The server's version document (what REST's `/version` answers): `major`,
    /// `minor`, `gitVersion`, `platform` ...
    pub async fn server_version(&self) -> Result<serde_json::Value> {
        let info = self
            .with_retries("version", Idempotency::Safe, |mut grpc| {
                let request = self.unary(proto::VersionRequest {});
                async move { grpc.version(request).await.map(|r| r.into_inner().info) }
            })
            .instrument(tracing::debug_span!("api.version"))
            .await?;
        serde_json::from_slice(&info).map_err(|source| Error::Decode {
            what: "version".to_string(),
            source,
        })
    }

    /// The OpenAPI v3 document of one group-version (`""` for the core group), as
    /// REST serves it at `/openapi/v3/api/v1` or `/openapi/v3/apis/<group>/<version>`:
    /// the schemas of its kinds with their field descriptions, what `explain` prints.
    /// A group-version the server does not serve is [`Error::Api`] with code 404.
    pub async fn openapi_v3(&self, group: &str, version: &str) -> Result<serde_json::Value> {
        let message = proto::OpenApiV3Request {
            group: group.to_string(),
            version: version.to_string(),
        };
        let document = self
            .with_retries("openapi", Idempotency::Safe, |mut grpc| {
                let request = self.unary(message.clone());
                async move {
                    grpc.open_api_v3(request)
                        .await
                        .map(|r| r.into_inner().document)
                }
            })
            .instrument(tracing::debug_span!("api.openapi_v3"))
            .await?;
        serde_json::from_slice(&document).map_err(|source| Error::Decode {
            what: "OpenAPI document".to_string(),
            source,
        })
    }

    /// The log of `pod`'s container in `namespace` (the `pods/log` subresource), as
    /// the kubelet streams it; with `follow` it lasts as long as the container
    /// writes. Opening is retried like a read; an error mid-stream ends it.
    pub async fn logs(
        &self,
        namespace: &str,
        pod: &str,
        params: &crate::params::LogParams,
    ) -> Result<impl Stream<Item = Result<Vec<u8>>> + Send + 'static + use<>> {
        let message = proto::LogsRequest {
            namespace: namespace.to_string(),
            name: pod.to_string(),
            container: params.container.clone().unwrap_or_default(),
            follow: params.follow,
            previous: params.previous,
            timestamps: params.timestamps,
            tail_lines: params.tail_lines,
            since_seconds: params.since_seconds,
            limit_bytes: params.limit_bytes,
        };
        let stream = self
            .with_retries("logs", Idempotency::Safe, |mut grpc| {
                let message = message.clone();
                async move { grpc.logs(message).await.map(|r| r.into_inner()) }
            })
            .instrument(tracing::debug_span!("api.logs"))
            .await?;
        Ok(stream.map(|item| item.map(|chunk| chunk.data).map_err(Error::from_grpc)))
    }
}
