"""Which failures are outages (UNAVAILABLE, retry) and which are bugs (INTERNAL), and the
start-up wait's back-off."""

from __future__ import annotations

import asyncpg
import grpc
import nats.errors
import pytest

from services.common import outages, startup
from services.common.errors import UnavailableError
from services.enrollment.peers import _translate as translate_peer_error
from services.gateway.rpc_errors import problem_from_rpc_error


class _Wrapped(Exception):
    pass


@pytest.mark.parametrize(
    "exc",
    [
        ConnectionRefusedError(111, "Connect call failed"),
        ConnectionResetError(),
        TimeoutError(),
        asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"),
        asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
        asyncpg.exceptions.AdminShutdownError("terminating connection"),
        asyncpg.exceptions.TooManyConnectionsError("too many clients"),
        asyncpg.InterfaceError("cannot call Connection.fetch(): connection is closed"),
        nats.errors.ConnectionClosedError(),
        nats.errors.NoServersError(),
    ],
)
def test_outages(exc: BaseException) -> None:
    assert outages.is_outage(exc)


def test_an_outage_behind_another_error_is_an_outage() -> None:
    outer = _Wrapped("while loading")
    outer.__cause__ = ConnectionRefusedError(111, "refused")
    assert outages.is_outage(outer)


@pytest.mark.parametrize(
    "exc",
    [
        ValueError("bad"),
        KeyError("x"),
        asyncpg.exceptions.UndefinedColumnError("column x does not exist"),
        asyncpg.exceptions.UniqueViolationError("duplicate"),
        asyncpg.InterfaceError("cannot perform operation: another operation is in progress"),
        asyncpg.exceptions.InvalidPasswordError("password authentication failed"),
    ],
)
def test_bugs_and_bad_settings_are_not_outages(exc: BaseException) -> None:
    assert not outages.is_outage(exc)


def test_describe_is_one_short_line() -> None:
    text = outages.describe(OSError("first line\nsecond line" + "x" * 1000))
    assert "\n" not in text
    assert text.startswith("OSError: first line")
    assert len(text) <= 300


def test_back_off_grows_to_a_cap() -> None:
    pause = 0.0
    seen = []
    for _ in range(20):
        pause = startup.next_pause(pause)
        seen.append(pause)
    assert seen[0] <= startup.FIRST_PAUSE_SECONDS
    assert max(seen) <= startup.MAX_PAUSE_SECONDS
    assert seen[-1] >= startup.MAX_PAUSE_SECONDS * 0.8


async def test_wait_for_retries_outages_and_raises_bugs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(startup, "MAX_PAUSE_SECONDS", 0.01)
    monkeypatch.setattr(startup, "FIRST_PAUSE_SECONDS", 0.001)
    calls = 0

    async def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls < 4:
            raise ConnectionRefusedError(111, "refused")
        return "up"

    assert await startup.wait_for(flaky, "flaky") == "up"
    assert calls == 4

    async def broken() -> str:
        raise asyncpg.exceptions.InvalidPasswordError("password authentication failed")

    with pytest.raises(asyncpg.exceptions.InvalidPasswordError):
        await startup.wait_for(broken, "broken")


def _rpc_error(code: grpc.StatusCode) -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details=code.name)


@pytest.mark.parametrize(
    "code",
    [grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED],
)
def test_a_peer_that_cannot_answer_now_is_retried_by_every_caller(code: grpc.StatusCode) -> None:
    """CANCELLED reaches a caller that did not cancel only from a peer replica that stopped
    (seen in a rolling restart as a 502 on enroll): the gateway and a service calling
    another both answer it as an outage, to be retried, never as a failure."""
    assert outages.is_outage(_rpc_error(code))
    assert isinstance(translate_peer_error("payments", _rpc_error(code)), UnavailableError)
    problem = problem_from_rpc_error(_rpc_error(code))
    assert problem.status == 503


@pytest.mark.parametrize(
    "code", [grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN, grpc.StatusCode.DATA_LOSS]
)
def test_a_peer_that_failed_is_not_retried(code: grpc.StatusCode) -> None:
    assert not outages.is_outage(_rpc_error(code))
    translated = translate_peer_error("payments", _rpc_error(code))
    assert not isinstance(translated, UnavailableError)
    assert problem_from_rpc_error(_rpc_error(code)).status == 502


@pytest.mark.parametrize(
    "exc",
    [
        asyncpg.exceptions.DeadlockDetectedError("deadlock detected"),
        asyncpg.exceptions.SerializationError("could not serialize access"),
    ],
)
def test_a_transaction_aborted_for_a_concurrent_one_is_a_conflict(exc: BaseException) -> None:
    assert outages.is_conflict(exc)
    assert not outages.is_outage(exc)  # the database answered: it is not away
    outer = _Wrapped("while cancelling")
    outer.__cause__ = exc
    assert outages.is_conflict(outer)


@pytest.mark.parametrize(
    "exc",
    [
        asyncpg.exceptions.UniqueViolationError("duplicate"),
        asyncpg.exceptions.LockNotAvailableError("could not obtain lock"),
        ConnectionRefusedError(111, "refused"),
    ],
)
def test_other_failures_are_not_conflicts(exc: BaseException) -> None:
    assert not outages.is_conflict(exc)
