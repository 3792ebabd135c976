"""Finding 17: a service's gRPC health follows its dependencies.

One real service process (catalog) on a PostgreSQL and a NATS of this module's own,
which the test stops and restarts: the service turns NOT_SERVING while either is gone,
SERVING again once it is back, and stays alive throughout (no restart needed): the
`liveness` health name that Kubernetes' liveness probe asks for stays SERVING.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.common import healthcheck
from services.common.health import LIVENESS
from services.devstack.embedded import EmbeddedNats, EmbeddedPostgres, free_port
from tests.polling import eventually

SECRET = "h" * 40
NOT_SERVING = "gRPC health: NOT_SERVING"


@pytest.fixture(scope="module")
def servers(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[EmbeddedPostgres, EmbeddedNats]]:
    if os.environ.get("DATABASE_URL") or os.environ.get("NATS_URL"):
        pytest.skip("external servers: this test stops and restarts its own embedded ones")
    pg = EmbeddedPostgres(tmp_path_factory.mktemp("health-pg"), durable=False)
    nats = EmbeddedNats(tmp_path_factory.mktemp("health-nats"))
    pg.start()
    nats.start()
    try:
        yield pg, nats
    finally:
        nats.stop()
        pg.stop()


@pytest.fixture(scope="module")
def catalog(
    servers: tuple[EmbeddedPostgres, EmbeddedNats], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    pg, nats = servers
    addr = f"127.0.0.1:{free_port()}"
    keep = ("PATH", "HOME", "LANG", "SYSTEMROOT")
    env = {k: v for k, v in os.environ.items() if k in keep} | {
        "DATABASE_URL": pg.create_database("catalog"),
        "NATS_URL": nats.url,
        "AUTH_MODE": "dev",
        "AUTH_JWT_SECRET": SECRET,
        "LISTEN_ADDR": addr,
    }
    log_path = Path(tmp_path_factory.mktemp("health-catalog")) / "catalog.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "services.catalog"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=Path(__file__).resolve().parents[2],
        )
    try:
        eventually(lambda: healthcheck.check(addr) is None, within=60, what="catalog to serve")
        yield addr, proc
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        if proc.returncode not in (0, -15):
            print(log_path.read_text())


def _status(addr: str) -> str:
    return healthcheck.check(addr) or "SERVING"


def test_not_serving_without_postgres_and_serving_again_after(
    servers: tuple[EmbeddedPostgres, EmbeddedNats], catalog: tuple[str, subprocess.Popen[bytes]]
) -> None:
    pg, _ = servers
    addr, proc = catalog
    assert _status(addr) == "SERVING"
    assert healthcheck.check(addr, service=LIVENESS) is None

    pg.kill()
    try:
        eventually(
            lambda: _status(addr),
            until=lambda s: s == NOT_SERVING,
            what="NOT_SERVING without PostgreSQL",
        )
        assert proc.poll() is None  # alive: readiness, not liveness, reports the outage
        # What Kubernetes' liveness probe asks: still SERVING, so no restart.
        assert healthcheck.check(addr, service=LIVENESS) is None
    finally:
        pg.start()
    eventually(
        lambda: _status(addr),
        until=lambda s: s == "SERVING",
        what="SERVING once PostgreSQL is back",
    )
    assert proc.poll() is None


def test_not_serving_without_nats_and_serving_again_after(
    servers: tuple[EmbeddedPostgres, EmbeddedNats], catalog: tuple[str, subprocess.Popen[bytes]]
) -> None:
    _, nats = servers
    addr, proc = catalog
    assert _status(addr) == "SERVING"

    nats.kill()
    try:
        eventually(
            lambda: _status(addr), until=lambda s: s == NOT_SERVING, what="NOT_SERVING without NATS"
        )
        assert proc.poll() is None
        assert healthcheck.check(addr, service=LIVENESS) is None
    finally:
        nats.start()
    eventually(
        lambda: _status(addr),
        until=lambda s: s == "SERVING",
        what="SERVING once NATS is back",
        within=60,
    )
    assert proc.poll() is None
