"""Wait for an asynchronous outcome by polling a probe: the one polling helper of the suite.

Tests never sleep to synchronise and never assert how long something took: they wait for a
condition. The timeout only keeps a broken build from hanging; when it runs out the test
fails with what it was waiting for and the probe's last answer, so the failure says why.

    enrollment = eventually(lambda: active(enrollment_id), what="the enrollment to turn ACTIVE")
    count = await eventually_async(lambda: stream_count(js, "PAYMENTS"), what="a published event")

A probe returns a value; the first truthy one is returned, or with `until`, the first one that
`until` accepts (so that the failure shows the value itself, not just False):

    seen = eventually(collector.metric_names, until=expected.issubset, what="every metric")
 A probe that raises stops the wait,
unless the exception is one of `ignoring` (a server that is still restarting, say): then it
counts as a falsy answer and is shown as the last value if time runs out.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, overload

T = TypeVar("T")

DEFAULT_WITHIN = 30.0
DEFAULT_INTERVAL = 0.05

_NO_VALUE: Any = object()


class _Deadline:
    def __init__(self, probe: Callable[..., Any], timeout: float, what: str | None) -> None:
        self.what = what or getattr(probe, "__qualname__", repr(probe))
        self.timeout = timeout
        self.end = time.monotonic() + timeout
        self.last: Any = _NO_VALUE
        self.attempts = 0

    def passed(self) -> bool:
        return time.monotonic() >= self.end

    def failure(self) -> AssertionError:
        last = "no answer" if self.last is _NO_VALUE else _short(self.last)
        return AssertionError(
            f"timed out after {self.timeout:g} s ({self.attempts} tries) waiting for "
            f"{self.what}; last answer: {last}"
        )


def _short(value: Any, limit: int = 2000) -> str:
    text = f"{type(value).__name__}: {value}" if isinstance(value, BaseException) else repr(value)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} chars)"


def eventually(
    probe: Callable[[], T],
    *,
    within: float = DEFAULT_WITHIN,
    interval: float = DEFAULT_INTERVAL,
    what: str | None = None,
    until: Callable[[Any], object] = bool,
    ignoring: tuple[type[BaseException], ...] = (),
) -> T:
    """Call `probe` every `interval` seconds until its answer is truthy (or `until(answer)`
    is); return that answer.

    Raises AssertionError naming `what` and the last answer when `within` seconds run out. The
    probe is always called at least once, so `within=0` checks a condition exactly once.
    """
    deadline = _Deadline(probe, within, what)
    while True:
        deadline.attempts += 1
        try:
            value = probe()
        except ignoring as exc:
            deadline.last = exc
        else:
            if until(value):
                return value
            deadline.last = value
        if deadline.passed():
            raise deadline.failure()
        time.sleep(interval)  # the poll interval of a bounded wait, not a synchronisation


@overload
async def eventually_async(
    probe: Callable[[], Awaitable[T]],
    *,
    within: float = ...,
    interval: float = ...,
    what: str | None = ...,
    until: Callable[[Any], object] = ...,
    ignoring: tuple[type[BaseException], ...] = ...,
) -> T: ...


@overload
async def eventually_async(
    probe: Callable[[], T],
    *,
    within: float = ...,
    interval: float = ...,
    what: str | None = ...,
    until: Callable[[Any], object] = ...,
    ignoring: tuple[type[BaseException], ...] = ...,
) -> T: ...


async def eventually_async(
    probe: Callable[[], Any],
    *,
    within: float = DEFAULT_WITHIN,
    interval: float = DEFAULT_INTERVAL,
    what: str | None = None,
    until: Callable[[Any], object] = bool,
    ignoring: tuple[type[BaseException], ...] = (),
) -> Any:
    """`eventually` for an event loop: the probe may be a coroutine function or a plain one."""
    deadline = _Deadline(probe, within, what)
    while True:
        deadline.attempts += 1
        try:
            value = probe()
            if inspect.isawaitable(value):
                value = await value
        except ignoring as exc:
            deadline.last = exc
        else:
            if until(value):
                return value
            deadline.last = value
        if deadline.passed():
            raise deadline.failure()
        await asyncio.sleep(interval)  # the poll interval of a bounded wait
