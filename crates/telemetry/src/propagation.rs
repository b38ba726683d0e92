//! W3C trace context (`traceparent`, `tracestate`) in and out of HTTP headers and gRPC
//! metadata.
//!
//! These helpers always speak W3C trace context, whatever global propagator is set, so
//! every Rudder hop agrees on the wire format. The tower layers in [`crate::layer`] use
//! them; call them directly where a layer does not fit (a hand-rolled hyper client, a
//! watch stream, an object annotation).

use http::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::Context;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// Reads propagation fields from an [`http::HeaderMap`].
#[derive(Debug)]
pub struct HeaderExtractor<'a>(pub &'a HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }
}

/// Writes propagation fields into an [`http::HeaderMap`], replacing earlier values.
#[derive(Debug)]
pub struct HeaderInjector<'a>(pub &'a mut HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        // A propagator only emits valid header text; anything else is dropped, not sent.
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(key.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

/// Writes propagation fields into tonic request metadata.
#[derive(Debug)]
pub struct MetadataInjector<'a>(pub &'a mut MetadataMap);

impl Injector for MetadataInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(key), Ok(value)) = (
            MetadataKey::from_bytes(key.as_bytes()),
            MetadataValue::try_from(value.as_str()),
        ) {
            self.0.insert(key, value);
        }
    }
}

/// Reads propagation fields from tonic request metadata.
#[derive(Debug)]
pub struct MetadataExtractor<'a>(pub &'a MetadataMap);

impl Extractor for MetadataExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0
            .keys()
            .filter_map(|k| match k {
                tonic::metadata::KeyRef::Ascii(k) => Some(k.as_str()),
                tonic::metadata::KeyRef::Binary(_) => None,
            })
            .collect()
    }
}

fn propagator() -> TraceContextPropagator {
    TraceContextPropagator::new()
}

/// The remote context carried by `traceparent`/`tracestate` in `headers`.
///
/// A missing or malformed `traceparent` yields a context without a span, so a span
/// parented on it starts a new trace instead of failing the request. The result never
/// inherits the caller's current context: a request's parent is remote or nothing.
pub fn extract_context(headers: &HeaderMap) -> Context {
    propagator().extract_with_context(&Context::new(), &HeaderExtractor(headers))
}

/// Like [`extract_context`], for tonic metadata (e.g. inside a handler via
/// `request.metadata()`).
pub fn extract_metadata_context(metadata: &MetadataMap) -> Context {
    propagator().extract_with_context(&Context::new(), &MetadataExtractor(metadata))
}

/// Writes the current `tracing` span's trace context into `headers`, so the next hop's
/// spans join this trace. Writes nothing when there is no current span.
pub fn inject_context(headers: &mut HeaderMap) {
    inject_context_from(&tracing::Span::current().context(), headers);
}

/// Writes the trace context of `cx` into `headers`; for when the parent is not the
/// current span (a stored object's context, a span held across an await).
pub fn inject_context_from(cx: &Context, headers: &mut HeaderMap) {
    propagator().inject_context(cx, &mut HeaderInjector(headers));
}

/// Writes the trace context of `cx` into tonic metadata.
pub fn inject_metadata_context_from(cx: &Context, metadata: &mut MetadataMap) {
    propagator().inject_context(cx, &mut MetadataInjector(metadata));
}

/// Makes `span` a child of the remote context in `headers`, or the root of a new trace
/// when they carry none. Call it right after creating the span, before it is entered or
/// its context is read (OpenTelemetry fixes a span's parent when it starts).
pub fn set_remote_parent(span: &tracing::Span, headers: &HeaderMap) {
    if let Err(error) = span.set_parent(extract_context(headers)) {
        tracing::debug!(%error, "cannot set the remote parent of a span");
    }
}

/// A tonic client interceptor that sends the current span's trace context with every
/// call: `ApiClient::with_interceptor(channel, TraceContextInterceptor)`.
///
/// It adds no span of its own; prefer [`crate::ClientTraceLayer::grpc`], which records
/// a `grpc.client` span per call, where the client type allows a tower layer.
#[derive(Debug, Clone, Copy, Default)]
pub struct TraceContextInterceptor;

impl tonic::service::Interceptor for TraceContextInterceptor {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        inject_metadata_context_from(&tracing::Span::current().context(), request.metadata_mut());
        Ok(request)
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::{
        SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState,
    };

    use super::*;

    fn remote(trace: u128, span: u64) -> Context {
        Context::new().with_remote_span_context(SpanContext::new(
            TraceId::from(trace),
            SpanId::from(span),
            TraceFlags::SAMPLED,
            true,
            TraceState::default(),
        ))
    }

    #[test]
    fn inject_then_extract_round_trips_trace_and_span_id() {
        let mut headers = HeaderMap::new();
        inject_context_from(&remote(0xabc, 0x123), &mut headers);
        assert_eq!(
            headers["traceparent"],
            "00-00000000000000000000000000000abc-0000000000000123-01"
        );
        let cx = extract_context(&headers);
        let span = cx.span();
        let sc = span.span_context();
        assert!(sc.is_valid());
        assert!(sc.is_remote());
        assert_eq!(sc.trace_id(), TraceId::from(0xabc));
        assert_eq!(sc.span_id(), SpanId::from(0x123));
        assert!(sc.is_sampled());
    }

    #[test]
    fn tracestate_survives_the_round_trip() {
        let state = TraceState::from_key_value([("rudder", "x1")]).unwrap();
        let cx = Context::new().with_remote_span_context(SpanContext::new(
            TraceId::from(7),
            SpanId::from(8),
            TraceFlags::SAMPLED,
            true,
            state,
        ));
        let mut headers = HeaderMap::new();
        inject_context_from(&cx, &mut headers);
        assert_eq!(headers["tracestate"], "rudder=x1");
        let back = extract_context(&headers);
        assert_eq!(
            back.span().span_context().trace_state().get("rudder"),
            Some("x1")
        );
    }

    #[test]
    fn malformed_traceparent_is_ignored() {
        for bad in [
            "garbage",
            "00-xyz-0000000000000123-01",
            "00-00000000000000000000000000000000-0000000000000123-01",
            "00-00000000000000000000000000000abc-0000000000000000-01",
            "ff-00000000000000000000000000000abc-0000000000000123-01",
            "",
        ] {
            let mut headers = HeaderMap::new();
            headers.insert("traceparent", HeaderValue::from_static(bad));
            let cx = extract_context(&headers);
            assert!(!cx.span().span_context().is_valid(), "accepted {bad:?}");
        }
        // Not even valid header text (obs-text bytes): still no panic, still no parent.
        let mut headers = HeaderMap::new();
        headers.insert("traceparent", HeaderValue::from_bytes(b"\xff\xfe").unwrap());
        assert!(!extract_context(&headers).span().span_context().is_valid());
    }

    #[test]
    fn extraction_never_inherits_the_current_context() {
        let _attached = remote(0x99, 0x98).attach();
        let mut headers = HeaderMap::new();
        headers.insert("traceparent", HeaderValue::from_static("bogus"));
        assert!(!extract_context(&headers).span().span_context().is_valid());
        assert!(!extract_metadata_context(&MetadataMap::new()).has_active_span());
    }

    #[test]
    fn no_current_span_injects_nothing() {
        let mut headers = HeaderMap::new();
        inject_context(&mut headers);
        assert!(headers.is_empty());
    }

    #[test]
    fn metadata_round_trip() {
        let mut metadata = MetadataMap::new();
        inject_metadata_context_from(&remote(0xdef, 0x456), &mut metadata);
        let cx = extract_metadata_context(&metadata);
        assert_eq!(cx.span().span_context().trace_id(), TraceId::from(0xdef));
        let headers = metadata.into_headers();
        assert_eq!(
            extract_context(&headers).span().span_context().span_id(),
            SpanId::from(0x456)
        );
    }
}
