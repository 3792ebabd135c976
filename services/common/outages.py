"""What counts as an outage of a dependency (PostgreSQL, NATS, a peer service), as opposed
to a bug: the one rule the server interceptor and the background loops share.

An outage is transient by nature: the caller is told UNAVAILABLE (HTTP 503 with
Retry-After at the gateway) and may retry, and the log gets one line without a traceback;
a bug stays INTERNAL with its traceback.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import asyncpg
import grpc
import nats.errors
import nats.js.errors

# PostgreSQL shutting down, crashed, starting up or out of connection slots: the server
# said it cannot serve us now, which is not about our query.
_POSTGRES_UNAVAILABLE: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.TooManyConnectionsError,
)
# asyncpg raises InterfaceError for many misuses too; only these texts mean "no connection".
_POSTGRES_GONE_TEXTS = ("connection is closed", "pool is closing", "pool is closed")

_NATS_UNAVAILABLE: tuple[type[BaseException], ...] = (
    nats.errors.ConnectionClosedError,
    nats.errors.ConnectionReconnectingError,
    nats.errors.ConnectionDrainingError,
    nats.errors.NoServersError,
    nats.errors.StaleConnectionError,
    nats.errors.OutboundBufferLimitError,
    nats.errors.NoRespondersError,
    nats.js.errors.NoStreamResponseError,
    nats.js.errors.ServiceUnavailableError,
)

# A peer that cannot answer this call right now, so the same call may be tried again (with
# the same idempotency key): unreachable, too slow, or CANCELLED, which reaches a caller that
# did not cancel only when the peer cancelled the call itself (a replica shutting down that
# could not finish it, or one that took it just as it stopped). Nothing was wrong with the
# request. Every caller of a peer (the gateway, a service calling another) decides by this.
PEER_UNAVAILABLE = frozenset(
    {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED}
)


def _is_outage_itself(exc: BaseException) -> bool:
    if isinstance(exc, _POSTGRES_UNAVAILABLE + _NATS_UNAVAILABLE):
        return True
    if isinstance(exc, asyncpg.InterfaceError):
        return any(text in str(exc) for text in _POSTGRES_GONE_TEXTS)
    if isinstance(exc, grpc.aio.AioRpcError):
        return exc.code() in PEER_UNAVAILABLE
    # Connection refused/reset, a pool acquire or a NATS request that timed out.
    return isinstance(exc, OSError | asyncio.TimeoutError)


def _in_chain(exc: BaseException, test: Callable[[BaseException], bool]) -> bool:
    """Whether `test` holds for `exc` or for what caused it."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if test(current):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def is_outage(exc: BaseException) -> bool:
    """Whether `exc` (or what caused it) says a dependency cannot be reached right now."""
    return _in_chain(exc, _is_outage_itself)


# A transaction PostgreSQL aborted for the sake of a concurrent one: a deadlock it broke
# (two writers that met each other's row locks in opposite orders, such as a purchase and a
# cancellation of the same learner's enrollment in one program), or a serialization failure.
# Nothing of it was written, and nothing was wrong with the request: the same call may
# simply be made again, so it is answered as UNAVAILABLE (retry), not as a bug.
_CONFLICTS = (asyncpg.exceptions.DeadlockDetectedError, asyncpg.exceptions.SerializationError)
CONFLICT_MESSAGE = "a concurrent change conflicted with this request; retry it"


def is_conflict(exc: BaseException) -> bool:
    """Whether `exc` (or what caused it) is a transaction aborted for a concurrent one."""
    return _in_chain(exc, lambda e: isinstance(e, _CONFLICTS))


def describe(exc: BaseException) -> str:
    """One short line naming the failure, for a log line without a traceback."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}"[:300] if text else type(exc).__name__


UNAVAILABLE_MESSAGE = "a dependency of this service is unavailable; retry shortly"
