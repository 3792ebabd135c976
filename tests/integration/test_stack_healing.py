"""`upskill dev`'s supervision of what it starts itself, PostgreSQL and NATS included, with
the stand-in services of test_stack.py: a SIGKILLed server comes back on the same port
with the same data; something that cannot come back ends supervise() with StackError (so
`upskill dev` exits non-zero) instead of being given up on silently."""

from __future__ import annotations

import contextlib
import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.devstack.embedded import (
    EmbeddedNats,
    EmbeddedPostgres,
    port_accepts,
    run_coroutine_sync,
    sigkill_tree,
)
from services.devstack.stack import Stack, StackError
from tests.integration.test_stack import _execute, options
from tests.integration.test_stack import env_dir as env_dir  # the fixture
from tests.polling import eventually


@contextlib.contextmanager
def supervised(stack: Stack) -> Iterator[list[BaseException]]:
    """stack.supervise() in a thread, as `upskill dev` runs it; what it raised, if anything."""
    stop = threading.Event()
    raised: list[BaseException] = []

    def loop() -> None:
        try:
            stack.supervise(stop, interval=0.05)
        except BaseException as exc:
            raised.append(exc)

    thread = threading.Thread(target=loop, name="supervise", daemon=True)
    thread.start()
    try:
        yield raised
    finally:
        stop.set()
        thread.join(60)


def test_killed_postgres_and_nats_come_back_with_their_data(tmp_path: Path, env_dir: Path) -> None:
    stack = Stack(tmp_path / "stack", options=options(auto_restart=True))
    try:
        stack.start()
        stack.wait_ready(30)
        assert stack.postgres is not None
        assert stack.nats is not None
        table = f"kept_{uuid.uuid4().hex[:8]}"
        dsn = stack.database_urls["catalog"]
        run_coroutine_sync(lambda: _execute(dsn, f"CREATE TABLE {table} (x int)"))
        with supervised(stack) as raised:
            for server in (stack.postgres, stack.nats):
                old_pid = server.pid
                assert old_pid is not None
                sigkill_tree(old_pid)

                def restarted(
                    server: EmbeddedPostgres | EmbeddedNats = server, old: int = old_pid
                ) -> bool:
                    return server.is_running() and server.pid != old and port_accepts(server.port)

                eventually(
                    restarted,
                    within=60,
                    what=f"{type(server).__name__} to be restarted by the supervisor",
                )
            assert raised == []
        found = run_coroutine_sync(lambda: _execute(dsn, f"SELECT count(*) FROM {table}"))
        assert found == "SELECT 1"
        assert stack.failed == {}
    finally:
        stack.close()


def test_a_server_that_cannot_come_back_ends_supervision_with_an_error(
    tmp_path: Path, env_dir: Path
) -> None:
    stack = Stack(
        tmp_path / "stack",
        options=options(auto_restart=True, crash_limit=1, restart_infra_timeout_seconds=2),
    )
    try:
        stack.start()
        stack.wait_ready(30)
        assert stack.postgres is not None
        port = stack.postgres.port
        pid = stack.postgres.pid
        assert pid is not None
        sigkill_tree(pid)
        # Someone else takes the port: PostgreSQL cannot listen there any more.
        squatter = eventually(lambda: _bind(port), within=30, what="the PostgreSQL port to be free")
        assert squatter is not None
        with squatter, pytest.raises(StackError, match="postgresql died 2 times"):
            stack.supervise(threading.Event(), interval=0.05)
        assert "postgresql" in stack.failed
    finally:
        stack.close()
    assert stack.running_services() == []


def test_a_service_that_keeps_crashing_ends_supervision_with_an_error(
    tmp_path: Path, env_dir: Path
) -> None:
    stack = Stack(
        tmp_path / "stack",
        options=options(
            auto_restart=True, crash_limit=1, env_overrides={"payments": {"FAKE_CRASH": "1"}}
        ),
    )
    try:
        stack.start(["catalog", "payments"])
        with pytest.raises(StackError, match="payments crashed 2 times"):
            stack.supervise(threading.Event(), interval=0.05)
    finally:
        stack.close()
    assert stack.running_services() == []


def _bind(port: int) -> socket.socket | None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen()
    except OSError:
        sock.close()
        return None
    return sock
