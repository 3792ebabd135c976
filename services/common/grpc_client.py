"""Client channels to peer services: traced, with deadlines and the caller's token."""

from __future__ import annotations

import grpc
from opentelemetry.instrumentation.grpc import aio_client_interceptors

# Every call carries a deadline; a hung peer must not hang the caller.
DEFAULT_DEADLINE_SECONDS = 5.0


def channel(addr: str) -> grpc.aio.Channel:
    """A channel to `addr`: `host:port`, or any gRPC target. When the target resolves to
    several addresses (`dns:///catalog:50051` on a headless Kubernetes Service, one A record
    per ready pod) calls are spread over all of them, not pinned to the first."""
    if not addr:
        raise ValueError("peer address is empty")
    return grpc.aio.insecure_channel(
        addr,
        interceptors=aio_client_interceptors(),
        options=[
            ("grpc.keepalive_time_ms", 30_000),
            ("grpc.enable_retries", 1),
            ("grpc.lb_policy_name", "round_robin"),
            # round_robin reconnects a lost peer with back-off (pick_first waited for the next
            # call instead); gRPC's default cap of 120 s would leave a restarted peer
            # unreachable for minutes, so retry soon and often.
            ("grpc.initial_reconnect_backoff_ms", 250),
            ("grpc.min_reconnect_backoff_ms", 250),
            ("grpc.max_reconnect_backoff_ms", 5_000),
        ],
    )


def auth_metadata(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),) if token else ()
