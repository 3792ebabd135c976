"""Without an exporter no span is recorded, yet every span still has ids for the logs."""

from __future__ import annotations

from opentelemetry import propagate
from opentelemetry.sdk.trace import TracerProvider

from services.common.telemetry import sampler_for


def test_no_exporter_no_recorded_spans_but_trace_ids_and_propagation() -> None:
    sampler = sampler_for({})
    assert sampler is not None
    tracer = TracerProvider(sampler=sampler).get_tracer("test")
    with tracer.start_as_current_span("rpc") as span:
        assert not span.is_recording()
        context = span.get_span_context()
        assert context.is_valid  # the log formatter's trace_id and span_id
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
    assert carrier["traceparent"].split("-")[1] == format(context.trace_id, "032x")


def test_an_exporter_or_an_explicit_sampler_keeps_the_sdk_default() -> None:
    assert sampler_for({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317"}) is None
    assert sampler_for({"OTEL_TRACES_SAMPLER": "parentbased_traceidratio"}) is None
