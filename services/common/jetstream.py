"""NATS connection, streams and durable pull consumers, all created idempotently."""

from __future__ import annotations

import logging

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from services.common.events import stream_for

log = logging.getLogger(__name__)

# How long the stream remembers a Nats-Msg-Id: a relay that crashed after publishing
# and re-sends within this window is deduplicated by the server.
DUPLICATE_WINDOW_SECONDS = 24 * 3600
DLQ_STREAM = "DLQ"


async def connect(url: str, name: str) -> tuple[Client, JetStreamContext]:
    async def on_error(exc: Exception) -> None:
        log.warning("nats error: %s", exc)

    nc = await nats.connect(
        url,
        name=name,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        error_cb=on_error,
    )
    return nc, nc.jetstream(timeout=10)


async def _ensure(js: JetStreamContext, config: StreamConfig) -> None:
    try:
        await js.stream_info(config.name or "")
    except NotFoundError:
        await js.add_stream(config)
        log.info("created stream %s", config.name)
        return
    await js.update_stream(config)


async def ensure_stream(js: JetStreamContext, service: str) -> str:
    """The producing service's stream on upskill.<service>.>."""
    name = stream_for(service)
    await _ensure(
        js,
        StreamConfig(
            name=name,
            subjects=[f"upskill.{service}.>"],
            storage=StorageType.FILE,
            duplicate_window=DUPLICATE_WINDOW_SECONDS,
        ),
    )
    return name


async def ensure_dlq_stream(js: JetStreamContext) -> str:
    await _ensure(
        js,
        StreamConfig(
            name=DLQ_STREAM,
            subjects=["upskill.dlq.>"],
            storage=StorageType.FILE,
            duplicate_window=DUPLICATE_WINDOW_SECONDS,
        ),
    )
    return DLQ_STREAM


async def ensure_consumer(
    js: JetStreamContext,
    *,
    stream: str,
    durable: str,
    subjects: list[str],
    max_deliver: int,
    ack_wait_seconds: float,
) -> None:
    """A durable pull consumer shared by every replica of the consuming service."""
    config = ConsumerConfig(
        durable_name=durable,
        deliver_policy=DeliverPolicy.ALL,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=ack_wait_seconds,
        max_deliver=max_deliver,
        filter_subjects=sorted(subjects),
        max_ack_pending=1000,
    )
    await js.add_consumer(stream, config)
