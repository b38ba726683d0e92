//! Trace context rides every call of the client. Its own test binary: tracing caches
//! per-callsite interest process-wide, so a thread-local subscriber is only reliable
//! where no other test creates the same spans at the same time.

mod support;

use k8s_openapi::api::core::v1::Pod;
use rudder_client::Api;
use support::FakeApiServer;

#[tokio::test]
async fn trace_context_rides_every_call() {
    use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
    use tracing::Instrument;
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    use tracing_subscriber::layer::SubscriberExt;

    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("client-test")));
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = FakeApiServer::start_in("team").await;
    let pods = Api::<Pod>::namespaced(server.client(), "team");
    let span = tracing::info_span!("reconcile");
    let trace_id = span.context().span().span_context().trace_id().to_string();
    let err = pods.get("x").instrument(span.clone()).await.unwrap_err();
    assert!(err.is_not_found());
    let traceparent = server.last_traceparent().expect("a traceparent");
    assert!(
        traceparent.contains(&trace_id),
        "{traceparent} lacks {trace_id}"
    );

    // Watches too.
    let watch = pods
        .watch(&rudder_client::WatchParams::default(), "")
        .instrument(span)
        .await
        .unwrap();
    drop(watch);
    assert!(server.last_traceparent().unwrap().contains(&trace_id));
}
