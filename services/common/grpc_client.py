"""Client channels to peer services: traced, with deadlines and the caller's token."""

from __future__ import annotations

import grpc
from opentelemetry.instrumentation.grpc import aio_client_interceptors

# Every call carries a deadline; a hung peer must not hang the caller.
DEFAULT_DEADLINE_SECONDS = 5.0


def channel(addr: str) -> grpc.aio.Channel:
    if not addr:
        raise ValueError("peer address is empty")
    return grpc.aio.insecure_channel(
        addr,
        interceptors=aio_client_interceptors(),
        options=[
            ("grpc.keepalive_time_ms", 30_000),
            ("grpc.enable_retries", 1),
        ],
    )


def auth_metadata(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),) if token else ()
