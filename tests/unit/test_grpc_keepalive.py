"""Our servers accept the keepalive pings our callers send. Callers hold a health Watch
stream open on every connection and ping every KEEPALIVE_TIME_MS; a server that allows
fewer pings without data answers GOAWAY "too_many_pings", failing the calls in flight on
that connection (seen as a 503 on enroll after a stack sat idle for minutes)."""

from __future__ import annotations

from services.common import runtime
from services.common.grpc_client import ACCEPT_CALLER_PINGS, KEEPALIVE_TIME_MS


def _option(options: list[tuple[str, object]], name: str) -> object:
    found = [value for key, value in options if key == name]
    assert len(found) == 1, f"{name} set {len(found)} times"
    return found[0]


def test_servers_accept_a_ping_more_often_than_callers_send_one() -> None:
    accepted = _option(list(runtime.SERVER_OPTIONS), "grpc.http2.min_ping_interval_without_data_ms")
    assert isinstance(accepted, int)
    assert accepted < KEEPALIVE_TIME_MS
    assert _option(list(runtime.SERVER_OPTIONS), "grpc.keepalive_permit_without_calls") == 1
    assert _option(list(runtime.SERVER_OPTIONS), "grpc.http2.max_ping_strikes") == 0


def test_the_start_up_health_server_uses_the_same_ping_policy() -> None:
    assert set(ACCEPT_CALLER_PINGS) <= set(runtime.SERVER_OPTIONS)
