"""The suite's polling helper: returns the first truthy answer, fails with the last one."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.polling import eventually, eventually_async


def answers(*values: object) -> Callable[[], object]:
    """A probe that answers each value in turn, then keeps answering the last one."""
    queue = list(values)

    def probe() -> object:
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return probe


def test_returns_the_first_truthy_answer() -> None:
    assert eventually(answers(None, 0, "", {"status": "ACTIVE"}), interval=0) == {
        "status": "ACTIVE"
    }


def test_checks_once_with_no_time_left_and_names_what_and_the_last_answer() -> None:
    calls = []

    def probe() -> dict[str, str]:
        calls.append(1)
        return {}

    with pytest.raises(AssertionError) as caught:
        eventually(probe, within=0, what="the enrollment to turn ACTIVE")
    assert calls == [1]
    assert "the enrollment to turn ACTIVE" in str(caught.value)
    assert "last answer: {}" in str(caught.value)


def test_an_unexpected_exception_stops_the_wait() -> None:
    def probe() -> bool:
        raise KeyError("boom")

    with pytest.raises(KeyError):
        eventually(probe, within=5, interval=0)


def test_ignored_exceptions_count_as_no_and_show_as_the_last_answer() -> None:
    failures = iter([ConnectionError("restarting"), ConnectionError("still restarting")])

    def probe() -> str:
        failure = next(failures, None)
        if failure is not None:
            raise failure
        return "up"

    assert eventually(probe, interval=0, ignoring=(ConnectionError,)) == "up"
    with pytest.raises(AssertionError, match="ConnectionError: down"):
        eventually(_raise(ConnectionError("down")), within=0, ignoring=(ConnectionError,))


def test_a_huge_last_answer_is_cut_short() -> None:
    with pytest.raises(AssertionError) as caught:
        eventually(lambda: _Falsy("y" * 10_000), within=0)
    assert len(str(caught.value)) < 2_500
    assert "(10002 chars)" in str(caught.value)


class _Falsy(str):
    def __bool__(self) -> bool:
        return False


def _raise(exc: BaseException) -> Callable[[], object]:
    def probe() -> object:
        raise exc

    return probe


async def test_async_form_awaits_coroutine_probes_and_accepts_plain_ones() -> None:
    seen = iter([False, False, True])

    async def probe() -> bool:
        return next(seen)

    assert await eventually_async(probe, interval=0) is True
    assert await eventually_async(lambda: 7, interval=0) == 7
    with pytest.raises(AssertionError, match="the stream to hold 1 event; last answer: 0"):
        await eventually_async(_zero, within=0, what="the stream to hold 1 event")


async def _zero() -> int:
    return 0


def test_until_decides_and_the_failure_shows_the_value_not_false() -> None:
    expected = {"a", "b"}
    assert eventually(answers({"a"}, {"a", "b", "c"}), until=expected.issubset, interval=0) == {
        "a",
        "b",
        "c",
    }
    with pytest.raises(AssertionError, match=r"last answer: \{'a'\}"):
        eventually(lambda: {"a"}, until=expected.issubset, within=0, what="every metric")
