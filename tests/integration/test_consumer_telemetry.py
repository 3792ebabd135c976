"""Finding 15: consume spans follow the OTel messaging conventions and record failures,
on real PostgreSQL and NATS JetStream (the plumbing tests' fixtures)."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest
from nats.js import JetStreamContext
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.integration.test_event_plumbing import (  # noqa: F401 (fixtures)
    SUCCEEDED_SUBJECT,
    eventually,
    headers_for,
    js,
    own_nats_url,
    pool,
    publish_raw,
    recording_consumer,
    succeeded,
)
from tests.unit.test_rpc_telemetry import span_exporter

pytestmark = pytest.mark.asyncio(loop_scope="session")


def _process_spans(exporter: InMemorySpanExporter, event_id: str) -> list[ReadableSpan]:
    return [
        s
        for s in exporter.get_finished_spans()
        if s.kind is trace.SpanKind.CONSUMER
        and (s.attributes or {}).get("messaging.message.id") == event_id
    ]


async def test_a_failed_then_retried_delivery_is_two_process_spans_the_first_an_error(
    pool: asyncpg.Pool,  # noqa: F811
    js: JetStreamContext,  # noqa: F811
) -> None:
    exporter = span_exporter()
    event_id = str(uuid.uuid4())
    message = succeeded("traced")
    await publish_raw(js, message.SerializeToString(), headers_for(message, event_id))
    task = asyncio.create_task(recording_consumer("traced", pool, js, fail_first=1).run())
    try:

        async def two_deliveries() -> bool:
            return len(_process_spans(exporter, event_id)) == 2

        await eventually(two_deliveries, within=15)
    finally:
        task.cancel()

    failed, succeeded_span = sorted(
        _process_spans(exporter, event_id),
        key=lambda s: int(str((s.attributes or {})["upskill.message.delivery_count"])),
    )
    for span in (failed, succeeded_span):
        assert span.name == f"process {SUCCEEDED_SUBJECT}"
        attributes = dict(span.attributes or {})
        assert {
            "messaging.system": "nats",
            "messaging.operation.name": "process",
            "messaging.operation.type": "process",
            "messaging.destination.name": SUCCEEDED_SUBJECT,
            "messaging.consumer.group.name": "traced",
            "messaging.message.id": event_id,
        }.items() <= attributes.items()
    assert failed.status.status_code is trace.StatusCode.ERROR
    assert "transient" in (failed.status.description or "")
    assert (failed.attributes or {})["error.type"] == "ConnectionError"
    assert [e.name for e in failed.events] == ["exception"]
    assert succeeded_span.status.status_code is trace.StatusCode.UNSET
    assert "error.type" not in (succeeded_span.attributes or {})
