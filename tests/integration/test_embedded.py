"""The embedded PostgreSQL and NATS servers: start, connect, survive stop/start and kill -9."""

from __future__ import annotations

import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import nats
import pytest
from nats.js.api import StorageType, StreamConfig

from services.devstack.embedded import (
    EmbeddedNats,
    EmbeddedPostgres,
    EmbeddedServerError,
    ExternalNats,
    PostgresServer,
    dsn_with_database,
    free_port,
    port_accepts,
)


async def _fetch(dsn: str, query: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetch(query)
    finally:
        await conn.close()


# --------------------------------------------------------------------------- PostgreSQL


async def test_session_postgres_accepts_asyncpg(embedded_pg: PostgresServer) -> None:
    rows = await _fetch(embedded_pg.dsn, "SELECT current_user AS who, 40 + 2 AS answer")
    assert rows[0]["answer"] == 42
    assert rows[0]["who"] == "postgres" or "DATABASE_URL" in __import__("os").environ


async def test_create_database_is_idempotent(embedded_pg: PostgresServer) -> None:
    name = f"t_idem_{uuid.uuid4().hex[:8]}"
    first = embedded_pg.create_database(name)
    second = embedded_pg.create_database(name)
    try:
        assert first == second == embedded_pg.dsn_for(name)
        rows = await _fetch(first, "SELECT current_database() AS db")
        assert rows[0]["db"] == name
        count = await _fetch(
            embedded_pg.dsn, f"SELECT count(*) AS n FROM pg_database WHERE datname = '{name}'"
        )
        assert count[0]["n"] == 1
    finally:
        embedded_pg.drop_database(name)
    gone = await _fetch(
        embedded_pg.dsn, f"SELECT count(*) AS n FROM pg_database WHERE datname = '{name}'"
    )
    assert gone[0]["n"] == 0


def test_bad_database_names_are_refused(embedded_pg: PostgresServer) -> None:
    for bad in ('x"; DROP DATABASE postgres; --', "Upper", "", "a" * 64):
        with pytest.raises(ValueError, match="database name"):
            embedded_pg.create_database(bad)


def test_dsn_with_database_keeps_credentials_and_options() -> None:
    dsn = "postgresql://u:p%40ss@db.example:6543/main?sslmode=require"
    assert (
        dsn_with_database(dsn, "upskill_catalog")
        == "postgresql://u:p%40ss@db.example:6543/upskill_catalog?sslmode=require"
    )
    with pytest.raises(ValueError, match="postgresql://"):
        dsn_with_database("mysql://x/y", "z")


@pytest.fixture(scope="module")
def own_pg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPostgres]:
    """A durable cluster of this module's own, to stop, kill and restart."""
    server = EmbeddedPostgres(tmp_path_factory.mktemp("own-pg"), durable=True)
    server.start()
    yield server
    server.stop()


async def test_data_survives_stop_and_start(own_pg: EmbeddedPostgres) -> None:
    dsn = own_pg.create_database("survivor")
    conn = await asyncpg.connect(dsn)
    await conn.execute("CREATE TABLE IF NOT EXISTS notes (body text)")
    await conn.execute("INSERT INTO notes VALUES ('kept across a clean restart')")
    await conn.close()
    port = own_pg.port

    own_pg.stop()
    assert not own_pg.is_running()
    assert not port_accepts(port)
    assert not (own_pg.pgdata / "postmaster.pid").exists()  # a clean shutdown removes it

    assert own_pg.start() == f"postgresql://postgres@127.0.0.1:{port}/postgres"
    rows = await _fetch(dsn, "SELECT body FROM notes")
    assert [r["body"] for r in rows] == ["kept across a clean restart"]


async def test_kill_then_start_recovers_committed_data(own_pg: EmbeddedPostgres) -> None:
    dsn = own_pg.create_database("crashy")
    conn = await asyncpg.connect(dsn)
    await conn.execute("CREATE TABLE IF NOT EXISTS events (n int)")
    await conn.execute("INSERT INTO events SELECT generate_series(1, 100)")
    await conn.close()
    old_pid = own_pg.pid

    own_pg.kill()
    assert not own_pg.is_running()
    pidfile = own_pg.pgdata / "postmaster.pid"
    assert pidfile.exists(), "a kill -9 leaves the pid file behind"
    assert pidfile.read_text().split()[0] == str(old_pid)

    own_pg.start()  # crash recovery replays the WAL
    rows = await _fetch(dsn, "SELECT count(*) AS n FROM events")
    assert rows[0]["n"] == 100


def test_stale_pidfile_naming_a_live_process_is_cleared(own_pg: EmbeddedPostgres) -> None:
    own_pg.kill()
    # After a reboot or in a container the old pid may belong to something else by now:
    # PostgreSQL alone would refuse to start ("lock file already exists").
    squatter = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        pidfile = own_pg.pgdata / "postmaster.pid"
        lines = pidfile.read_text().splitlines()
        lines[0] = str(squatter.pid)
        pidfile.write_text("\n".join(lines) + "\n")
        own_pg.start()
        assert own_pg.create_database("after_squatter").endswith("/after_squatter")
        assert squatter.poll() is None, "an unrelated process must not be touched"
    finally:
        squatter.kill()
        squatter.wait()


def test_second_supervisor_on_the_same_data_dir_is_refused(own_pg: EmbeddedPostgres) -> None:
    assert own_pg.is_running()
    intruder = EmbeddedPostgres(own_pg.data_dir, durable=False)
    with pytest.raises(EmbeddedServerError, match="in use by another process"):
        intruder.start()
    assert own_pg.is_running()


def test_start_failure_shows_the_server_log(tmp_path: Path) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        taken = blocker.getsockname()[1]
        server = EmbeddedPostgres(tmp_path / "pg", port=taken, durable=False)
        with pytest.raises(EmbeddedServerError) as failure:
            server.start(timeout=1)
    message = str(failure.value)
    assert "Address already in use" in message
    assert str(server.log_path) in message
    assert not server.is_running()


# --------------------------------------------------------------------------- NATS


async def _stream_messages(url: str, stream: str) -> int:
    nc = await nats.connect(url)
    try:
        info = await nc.jetstream().stream_info(stream)
        return int(info.state.messages)
    finally:
        await nc.close()


async def _publish(url: str, stream: str, count: int) -> None:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        await js.add_stream(
            StreamConfig(name=stream, subjects=[f"{stream.lower()}.>"], storage=StorageType.FILE)
        )
        for i in range(count):
            ack = await js.publish(f"{stream.lower()}.thing", f"m{i}".encode())
            assert ack.stream == stream
    finally:
        await nc.close()


async def test_session_nats_has_jetstream(nats_server: EmbeddedNats | ExternalNats) -> None:
    nc = await nats.connect(nats_server.url)
    try:
        info = await nc.jetstream().account_info()
        assert info.limits is not None
    finally:
        await nc.close()


async def test_nats_stream_survives_restart_and_kill(tmp_path: Path) -> None:
    server = EmbeddedNats(tmp_path / "nats")
    url = server.start()
    try:
        assert url == f"nats://127.0.0.1:{server.port}"
        await _publish(url, "KEEP", 3)

        server.stop()
        assert not server.is_running()
        assert not port_accepts(server.port)
        assert server.start() == url  # same port, same store
        assert await _stream_messages(url, "KEEP") == 3

        await _publish(url, "KEEP2", 2)
        server.kill()
        assert not server.is_running()
        server.start()
        assert await _stream_messages(url, "KEEP") == 3
        assert await _stream_messages(url, "KEEP2") == 2
    finally:
        server.stop()
    assert (tmp_path / "nats" / "jetstream").is_dir()


def test_free_port_hands_out_distinct_bindable_ports() -> None:
    ports = {free_port() for _ in range(20)}
    assert len(ports) == 20
    for port in list(ports)[:3]:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))
