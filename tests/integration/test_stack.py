"""Stack's process supervision, with tiny stand-in services (a gRPC health server, or an
HTTP /readyz for the gateway) so it is tested apart from the real services."""

from __future__ import annotations

import json
import signal
import sys
import uuid
from pathlib import Path

import asyncpg
import httpx
import pytest

from services.devstack.embedded import (
    EmbeddedNats,
    ExternalNats,
    PostgresServer,
    port_accepts,
    run_coroutine_sync,
)
from services.devstack.stack import CONFIG_VARS, SERVICES, Stack, StackError, StackOptions

FAKE_SERVICE = r"""
import json, os, signal, sys
name = sys.argv[1]
with open(os.path.join(os.environ["FAKE_ENV_DIR"], name + ".json"), "w") as f:
    json.dump(dict(os.environ), f)
print(json.dumps({"ts": "2025-01-01T00:00:00.000+00:00", "level": "INFO", "service": name,
                  "logger": "fake", "msg": "starting " + name}), flush=True)
if os.environ.get("FAKE_CRASH"):
    sys.exit(3)
host, port = os.environ["LISTEN_ADDR"].rsplit(":", 1)
signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
if name == "gateway":
    from http.server import BaseHTTPRequestHandler, HTTPServer
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            bodies = {"/readyz": b'{"status": "ready"}',
                      "/health/dependencies": b'{"status": "ok", "dependencies": {}}'}
            self.send_response(200 if self.path in bodies else 404)
            self.end_headers()
            self.wfile.write(bodies.get(self.path, b"not found"))
        def log_message(self, *args):
            pass
    HTTPServer((host, int(port)), Handler).serve_forever()
else:
    from concurrent import futures
    import grpc
    from grpc_health.v1 import health, health_pb2_grpc
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    health_pb2_grpc.add_HealthServicer_to_server(health.HealthServicer(), server)
    server.add_insecure_port(f"{host}:{port}")
    server.start()
    server.wait_for_termination()
"""


async def _execute(dsn: str, sql: str) -> str:
    conn = await asyncpg.connect(dsn)
    try:
        return str(await conn.execute(sql))
    finally:
        await conn.close()


def fake_command(name: str) -> list[str]:
    return [sys.executable, "-c", FAKE_SERVICE, name]


def options(**extra: object) -> StackOptions:
    return StackOptions(durable=False, command=fake_command, stop_grace_seconds=5, **extra)  # type: ignore[arg-type]


@pytest.fixture
def env_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "env"
    directory.mkdir()
    monkeypatch.setenv("FAKE_ENV_DIR", str(directory))
    # Must not leak into any child: each gets exactly its own configuration.
    monkeypatch.setenv("DATABASE_URL", "postgresql://leaked@nowhere/leaked")
    monkeypatch.setenv("STRIPE_API_KEY", "sk_leaked")
    return directory


def seen_env(env_dir: Path, name: str) -> dict[str, str]:
    return dict(json.loads((env_dir / f"{name}.json").read_text()))


def test_stack_on_embedded_servers_supervises_its_children(tmp_path: Path, env_dir: Path) -> None:
    base = tmp_path / "stack"
    stack = Stack(base, options=options())
    try:
        stack.start()
        stack.wait_ready(30)
        assert stack.postgres is not None
        assert stack.nats is not None
        assert set(stack.running_services()) == set(SERVICES)

        # Each child got exactly service_env() for it, nothing inherited from our config.
        for name in SERVICES:
            env = seen_env(env_dir, name)
            assert {k: v for k, v in env.items() if k in CONFIG_VARS} == stack.env_for(name)
        assert "DATABASE_URL" not in seen_env(env_dir, "gateway")
        assert seen_env(env_dir, "payments")["DATABASE_URL"] == stack.database.dsn_for(
            "upskill_payments"
        )
        assert httpx.get(stack.gateway_url + "/readyz", trust_env=False).status_code == 200

        # kill -9: not restarted (auto_restart is off), and wait_ready says who is down.
        old_pid = stack.pid("payments")
        stack.kill_service("payments")
        assert not stack.is_running("payments")
        with pytest.raises(StackError, match="payments is not running"):
            stack.wait_ready(5, services=["payments"])
        stack.start_service("payments")
        stack.wait_ready(30, services=["payments"])
        assert stack.pid("payments") not in (None, old_pid)

        old_pid = stack.pid("catalog")
        stack.restart_service("catalog", timeout=30)
        assert stack.pid("catalog") not in (None, old_pid)
        assert stack.stop_service("enrollment", signal.SIGTERM) == 0
        assert not stack.is_running("enrollment")

        assert "starting gateway" in stack.log_path("gateway").read_text()
        assert stack.log_path("catalog").read_text().count("starting catalog") == 2
        run_coroutine_sync(
            lambda: _execute(stack.database_urls["catalog"], "CREATE TABLE kept (x int)")
        )
    finally:
        stack.close()
    assert stack.running_services() == []
    assert not stack.postgres.is_running()
    assert not stack.nats.is_running()
    assert not port_accepts(stack.postgres.port)

    # A second run on the same directory finds the same secrets and databases.
    again = Stack(base, options=options())
    try:
        again.start_infra()
        assert again.secrets == stack.secrets
        found = run_coroutine_sync(
            lambda: _execute(again.database_urls["catalog"], "SELECT count(*) FROM kept")
        )
        assert found == "SELECT 1"
    finally:
        again.close()


def test_crash_looping_service_is_restarted_then_given_up(
    tmp_path: Path,
    env_dir: Path,
    embedded_pg: PostgresServer,
    nats_server: EmbeddedNats | ExternalNats,
) -> None:
    stack = Stack(
        tmp_path / "stack",
        database_url=embedded_pg.dsn,
        nats_url=nats_server.url,
        options=options(
            auto_restart=True,
            crash_limit=2,
            database_prefix=f"t_{uuid.uuid4().hex[:8]}",
            env_overrides={"credentials": {"FAKE_CRASH": "1"}},
        ),
    )
    try:
        stack.start(["catalog", "credentials"])
        assert stack.postgres is None
        assert stack.nats is None
        with pytest.raises(StackError, match="credentials crashed 3 times") as failure:
            stack.wait_ready(30)
        assert "starting credentials" in str(failure.value)  # shows its last output
        assert stack.log_path("credentials").read_text().count("starting credentials") == 3
        assert "credentials" in stack.failed
        assert stack.is_running("catalog")
    finally:
        stack.close()
    assert stack.running_services() == []
