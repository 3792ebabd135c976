"""Starting while PostgreSQL or NATS is away: wait for them with back-off, for as long as
it takes, while a health-only gRPC server on the service's port says so.

A service must never crash-loop because a dependency is down: the supervisor (upskill dev,
Kubernetes) would restart it in vain and eventually give up on it. Meanwhile the
standard health service answers the liveness check SERVING (the process is fine, do not
restart it) and readiness NOT_SERVING (do not send it traffic); the real server takes
the port over once everything answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from services.common import outages
from services.common.grpc_client import ACCEPT_CALLER_PINGS

log = logging.getLogger(__name__)

T = TypeVar("T")

FIRST_PAUSE_SECONDS = 0.25
MAX_PAUSE_SECONDS = 5.0
LIVENESS = "liveness"  # services.common.health.LIVENESS (not imported: no asyncpg here)


def next_pause(previous: float) -> float:
    """Exponential back-off with jitter, capped: replicas do not retry in lock-step."""
    grown = min(MAX_PAUSE_SECONDS, max(FIRST_PAUSE_SECONDS, previous * 2))
    return grown * random.uniform(0.8, 1.0)


async def wait_for(connect: Callable[[], Awaitable[T]], what: str) -> T:
    """`connect()` until it succeeds, pausing with back-off after each failure that is an
    outage (one log line each, no traceback); any other error is a bug or a bad setting
    and is raised at once."""
    pause = 0.0
    attempt = 0
    while True:
        attempt += 1
        try:
            return await connect()
        except Exception as exc:
            if not outages.is_outage(exc):
                raise
            pause = next_pause(pause)
            if attempt == 1 or attempt % 10 == 0:
                log.warning(
                    "waiting for %s (attempt %d, next in %.1fs): %s",
                    what,
                    attempt,
                    pause,
                    outages.describe(exc),
                )
            await asyncio.sleep(pause)


@contextlib.asynccontextmanager
async def health_while_starting(listen_addr: str) -> AsyncIterator[None]:
    """A health-only server on `listen_addr` for the duration of the block: alive, not
    ready. Stopped (port released) when the block ends, before the real server binds."""
    server = grpc.aio.server(options=ACCEPT_CALLER_PINGS)
    servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    await servicer.set(LIVENESS, health_pb2.HealthCheckResponse.SERVING)
    await servicer.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
    # Best effort: without the port (taken), starting still proceeds as before.
    started = False
    try:
        if server.add_insecure_port(listen_addr):
            await server.start()
            started = True
    except RuntimeError as exc:
        log.warning("no start-up health server on %s: %s", listen_addr, exc)
    try:
        yield
    finally:
        if started:
            await server.stop(None)
