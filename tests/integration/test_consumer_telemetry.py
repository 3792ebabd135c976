"""Finding 15: consume spans follow the OTel messaging conventions and record failures,
on real PostgreSQL and NATS JetStream (a NATS of this module's own)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator

import asyncpg
import nats
import pytest
from google.protobuf.message import Message
from nats.js import JetStreamContext
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from upskill.payments.v1 import events_pb2

from services.common import db, events, jetstream
from services.common.consumer import EventConsumer, Subscription
from tests.own_nats import own_nats
from tests.polling import eventually_async
from tests.unit.test_rpc_telemetry import span_exporter

pytestmark = pytest.mark.asyncio(loop_scope="session")

SUBJECT = events.subject_for(events_pb2.PaymentSucceeded)


@pytest.fixture
async def pool(fresh_database: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await db.create_pool(fresh_database)
    async with pool.acquire() as conn:
        await db.migrate(conn, "services.common")
    yield pool
    await pool.close()


@pytest.fixture(scope="module")
def nats_url_of_our_own(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with own_nats(tmp_path_factory.mktemp("telemetry-nats")) as url:
        yield url


@pytest.fixture
async def js(nats_url_of_our_own: str) -> AsyncIterator[JetStreamContext]:
    nc = await nats.connect(nats_url_of_our_own)
    await jetstream.ensure_stream(nc.jetstream(), "payments")
    yield nc.jetstream()
    await nc.close()


async def _publish(js: JetStreamContext, event_id: str) -> None:
    message = events_pb2.PaymentSucceeded(payment_id=str(uuid.uuid4()), enrollment_id="e1")
    envelope = events.Envelope(
        id=event_id, type=message.DESCRIPTOR.full_name, source="test", subject="", time="t"
    )
    headers = envelope.headers() | {"Nats-Msg-Id": event_id}
    await js.publish(SUBJECT, message.SerializeToString(), headers=headers)


def _process_spans(exporter: InMemorySpanExporter, event_id: str) -> list[ReadableSpan]:
    return [
        s
        for s in exporter.get_finished_spans()
        if s.kind is trace.SpanKind.CONSUMER
        and (s.attributes or {}).get("messaging.message.id") == event_id
    ]


async def test_a_failed_then_retried_delivery_is_two_process_spans_the_first_an_error(
    pool: asyncpg.Pool, js: JetStreamContext
) -> None:
    exporter = span_exporter()
    event_id = str(uuid.uuid4())
    failures = {"left": 1}

    async def flaky(conn: asyncpg.Connection, event: Message, envelope: events.Envelope) -> None:
        if envelope.id == event_id and failures["left"] > 0:
            failures["left"] -= 1
            raise ConnectionError("transient")

    durable = f"traced-{uuid.uuid4().hex[:8]}"
    consumer = EventConsumer(durable, pool, js, [Subscription(events_pb2.PaymentSucceeded, flaky)])
    await _publish(js, event_id)
    task = asyncio.create_task(consumer.run())
    try:
        await eventually_async(
            lambda: len(_process_spans(exporter, event_id)) == 2,
            within=20,
            what="a failed and a retried delivery",
        )
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await consumer.close()

    failed, retried = sorted(
        _process_spans(exporter, event_id),
        key=lambda s: int(str((s.attributes or {})["upskill.message.delivery_count"])),
    )
    for span in (failed, retried):
        assert span.name == f"process {SUBJECT}"
        attributes = dict(span.attributes or {})
        assert {
            "messaging.system": "nats",
            "messaging.operation.name": "process",
            "messaging.operation.type": "process",
            "messaging.destination.name": SUBJECT,
            "messaging.consumer.group.name": durable,
            "messaging.message.id": event_id,
        }.items() <= attributes.items()
    assert failed.status.status_code is trace.StatusCode.ERROR
    assert "transient" in (failed.status.description or "")
    assert (failed.attributes or {})["error.type"] == "ConnectionError"
    assert [e.name for e in failed.events] == ["exception"]
    assert retried.status.status_code is trace.StatusCode.UNSET
    assert "error.type" not in (retried.attributes or {})
