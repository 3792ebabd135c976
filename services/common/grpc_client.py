"""Client channels to peer services: traced, with deadlines and the caller's token."""

from __future__ import annotations

import json

import grpc
from opentelemetry.instrumentation.grpc import aio_client_interceptors

# Every call carries a deadline; a hung peer must not hang the caller.
DEFAULT_DEADLINE_SECONDS = 5.0


# Client-side health checking: round_robin sends calls only to the addresses whose
# grpc.health.v1 status ("") is SERVING, so a replica that is starting, draining after
# SIGTERM or cut off from its database gets no new calls while the others take them.
# waitForReady: while no address is ready (every replica restarting, or reconnecting after
# one came back) a call waits for one within its deadline instead of failing at once.
_SERVICE_CONFIG = json.dumps(
    {
        "loadBalancingConfig": [{"round_robin": {}}],
        "healthCheckConfig": {"serviceName": ""},
        "methodConfig": [{"name": [{}], "waitForReady": True}],
    }
)


# Callers keep a health Watch stream open on every connection and send a keepalive ping
# every 30 s while it is open. gRPC's server default accepts a ping without data only every
# 5 minutes and answers the second early one with GOAWAY "too_many_pings", which fails the
# calls in flight on that connection with UNAVAILABLE (seen as a 503 on enroll after a
# stack sat idle). Every server of ours accepts our callers' pings.
KEEPALIVE_TIME_MS = 30_000
ACCEPT_CALLER_PINGS: list[tuple[str, int]] = [
    ("grpc.http2.min_ping_interval_without_data_ms", KEEPALIVE_TIME_MS // 3),
    # 0: an early ping is never a strike; a caller of ours is never an abuser to cut off.
    ("grpc.http2.max_ping_strikes", 0),
    ("grpc.keepalive_permit_without_calls", 1),
]


def channel(addr: str, *, health_checked: bool = True, traced: bool = True) -> grpc.aio.Channel:
    """A channel to `addr`: `host:port`, or any gRPC target. When the target resolves to
    several addresses (`dns:///catalog:50051` on a headless Kubernetes Service, one A record
    per ready pod, or `ipv4:h:p1,h:p2`) calls are spread over the healthy ones, not pinned
    to the first. `health_checked=False`: for asking the health service itself.
    `traced=False`: without OpenTelemetry's client interceptor (a task and a span per call),
    for a caller that sends the trace context with each call's metadata itself."""
    if not addr:
        raise ValueError("peer address is empty")
    balancing: list[tuple[str, object]] = (
        [("grpc.service_config", _SERVICE_CONFIG)]
        if health_checked
        else [("grpc.lb_policy_name", "round_robin")]
    )
    return grpc.aio.insecure_channel(
        addr,
        interceptors=aio_client_interceptors() if traced else None,
        options=[
            ("grpc.keepalive_time_ms", KEEPALIVE_TIME_MS),
            ("grpc.enable_retries", 1),
            *balancing,
            # round_robin reconnects a lost peer with back-off (pick_first waited for the next
            # call instead); gRPC's default cap of 120 s would leave a restarted peer
            # unreachable for minutes, so retry soon and often.
            ("grpc.initial_reconnect_backoff_ms", 250),
            ("grpc.min_reconnect_backoff_ms", 250),
            # 1 s: a replica back from a restart gets calls again within a second, before
            # a rolling restart takes its sibling away.
            ("grpc.max_reconnect_backoff_ms", 1_000),
        ],
    )


def auth_metadata(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),) if token else ()
