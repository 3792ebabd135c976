"""NATS connection, streams and durable pull consumers, all created idempotently."""

from __future__ import annotations

import logging

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ClusterInfo,
    ConsumerConfig,
    DeliverPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import APIError, NotFoundError

from services.common.events import stream_for

log = logging.getLogger(__name__)

# How long the stream remembers a Nats-Msg-Id: a relay that crashed after publishing
# and re-sends within this window is deduplicated by the server. A re-send comes once the
# crashed relay's lease runs out (30 s) or once PostgreSQL is back with a lost published
# mark: minutes under supervision. Later re-sends (PostgreSQL down for longer, a restored
# backup) are dropped by every consumer's inbox, kept longer than the stream keeps events.
# The server holds every id of the window in memory, about 175 bytes each: a day's window
# would grow NATS by 2.7 GB at 180 events/s (measured per id: benchmarks/README.md, end of
# round 8); five minutes of ids at that rate come to some 9 MB (computed, not measured).
DUPLICATE_WINDOW_SECONDS = 5 * 60
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


# Used when a stream is created by a consumer before its producer has started: the
# producer then sets its configured limits (services/common/retention.py).
DEFAULT_MAX_AGE_SECONDS = 7 * 24 * 3600
DEFAULT_DLQ_MAX_AGE_SECONDS = 30 * 24 * 3600


# JetStream's own error code for more than one copy asked of a server outside a cluster
# (JSStreamReplicasNotSupportedErr), kept so that our refusal below reads as the server's.
REPLICAS_NOT_SUPPORTED = 10074


def replicas_refusal(config: StreamConfig, cluster: ClusterInfo | None) -> APIError | None:
    """The error that bringing an existing stream to `config` must end in, or None. Its
    `cluster` (from stream_info) has no name when the server is not part of a cluster,
    and such a server keeps one copy of a stream, whatever it is asked."""
    replicas = config.num_replicas or 1
    if replicas <= 1 or (cluster is not None and cluster.name):
        return None
    return APIError(
        code=500,
        err_code=REPLICAS_NOT_SUPPORTED,
        description=(
            f"replicas > 1 not supported in non-clustered mode: stream {config.name} cannot "
            f"have {replicas} copies on a NATS server that is not part of a cluster; set "
            f"NATS_STREAM_REPLICAS to 1, or run NATS as a cluster of at least {replicas} servers"
        ),
    )


async def _ensure(js: JetStreamContext, config: StreamConfig, *, update: bool) -> None:
    """Create the stream, or (update=True) bring an existing one to `config`: a changed
    limit such as max_age, or a new replica count, takes effect on the next start-up."""
    try:
        info = await js.stream_info(config.name or "")
    except NotFoundError:
        await js.add_stream(config)
        log.info("created stream %s (%d replicas)", config.name, config.num_replicas or 1)
        return
    if not update:
        return
    # Every nats-server refuses to create a stream with more copies than one server keeps,
    # but older ones (2.9) accept an existing stream's update to them silently: stream_info
    # then reports the new count while one copy is kept. Refused here for every version, so
    # a NATS_STREAM_REPLICAS larger than the cluster fails start-up instead of passing.
    refusal = replicas_refusal(config, info.cluster)
    if refusal is not None:
        log.error("stream %s not updated: %s", config.name, refusal.description)
        raise refusal
    await js.update_stream(config)


def stream_config(
    service: str, *, max_age_seconds: float | None = None, replicas: int = 1
) -> StreamConfig:
    """The stream `service` publishes to: upskill.<service>.>, on disk, `replicas` copies
    (NATS_STREAM_REPLICAS) and the duplicate window that makes a re-sent event harmless."""
    return StreamConfig(
        name=stream_for(service),
        subjects=[f"upskill.{service}.>"],
        storage=StorageType.FILE,
        num_replicas=replicas,
        duplicate_window=DUPLICATE_WINDOW_SECONDS,
        max_age=max_age_seconds or DEFAULT_MAX_AGE_SECONDS,
    )


def dlq_stream_config(*, max_age_seconds: float | None = None, replicas: int = 1) -> StreamConfig:
    return StreamConfig(
        name=DLQ_STREAM,
        subjects=["upskill.dlq.>"],
        storage=StorageType.FILE,
        num_replicas=replicas,
        duplicate_window=DUPLICATE_WINDOW_SECONDS,
        max_age=max_age_seconds or DEFAULT_DLQ_MAX_AGE_SECONDS,
    )


async def ensure_stream(
    js: JetStreamContext, service: str, *, max_age_seconds: float | None = None, replicas: int = 1
) -> str:
    """The producing service's stream on upskill.<service>.>. Its producer passes the
    configured max_age and owns the config; anyone else (a consumer binding to it) only
    creates it when missing, so it never overwrites the producer's limits."""
    config = stream_config(service, max_age_seconds=max_age_seconds, replicas=replicas)
    await _ensure(js, config, update=max_age_seconds is not None)
    return config.name or ""


async def ensure_dlq_stream(
    js: JetStreamContext, *, max_age_seconds: float | None = None, replicas: int = 1
) -> str:
    """The dead-letter stream; with max_age_seconds (the runtime's setting) its config is
    brought up to date, without it (consumers) it is only created when missing."""
    config = dlq_stream_config(max_age_seconds=max_age_seconds, replicas=replicas)
    await _ensure(js, config, update=max_age_seconds is not None)
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
