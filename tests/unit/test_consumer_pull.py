"""A consumer keeps pull requests open for a few messages, topped up as they come (_Pull)."""

from __future__ import annotations

import asyncio
import json
from typing import Any, cast

import pytest
from nats.aio.msg import Msg

from services.common import consumer as consumer_module
from services.common.consumer import PULL_BATCH, _Pull


class FakeNats:
    """What _Pull uses of a nats-py client: publishes are recorded."""

    def __init__(self) -> None:
        self.stats = {"reconnects": 0}
        self.is_connected = True
        self.published: list[tuple[str, dict[str, Any], str]] = []

    def new_inbox(self) -> str:
        return "_INBOX.test"

    async def publish(self, subject: str, payload: bytes, reply: str = "") -> None:
        self.published.append((subject, json.loads(payload), reply))


class FakeMsg:
    def __init__(self, reply: str = "", headers: dict[str, str] | None = None) -> None:
        self.reply = reply
        self.headers = headers


def message() -> Msg:
    return cast(Msg, FakeMsg(reply="$JS.ACK.PAYMENTS.enrollment.1.1.1.1.0"))


def status(code: str, **headers: str) -> Msg:
    return cast(Msg, FakeMsg(headers={"Status": code, **headers}))


def pull() -> tuple[_Pull, FakeNats]:
    nc = FakeNats()
    return _Pull(cast(Any, nc), "PAYMENTS", "enrollment"), nc


def test_one_request_for_a_batch_then_one_per_half_batch() -> None:
    p, nc = pull()

    async def run() -> None:
        await p.top_up()
        await p.top_up()  # asked for already: nothing more
        assert len(nc.published) == 1
        subject, request, reply = nc.published[0]
        assert subject == "$JS.API.CONSUMER.MSG.NEXT.PAYMENTS.enrollment"
        assert reply == "_INBOX.test"
        assert request["batch"] == PULL_BATCH
        assert request["expires"] == int(consumer_module.PULL_EXPIRES_SECONDS * 1e9)
        assert request["idle_heartbeat"] == int(consumer_module.PULL_HEARTBEAT_SECONDS * 1e9)
        assert "no_wait" not in request
        for _ in range(PULL_BATCH // 2 - 1):
            assert p.delivered(message())
            await p.top_up()
        assert len(nc.published) == 1  # more than half still to come
        assert p.delivered(message())
        await p.top_up()
        assert [r["batch"] for _, r, _ in nc.published] == [PULL_BATCH, PULL_BATCH // 2]
        assert p.asked == PULL_BATCH

    asyncio.run(run())


def test_heartbeats_change_nothing_an_ended_request_takes_back_what_it_did_not_deliver() -> None:
    p, _ = pull()
    p.asked = 12
    assert not p.delivered(status("100", Description="Idle Heartbeat"))
    assert p.asked == 12
    assert not p.delivered(status("408", **{"Nats-Pending-Messages": "8"}))
    assert p.asked == 4
    assert not p.refused
    assert not p.delivered(status("409", Description="Leadership Change"))
    assert p.asked == 0  # it did not say: ask again rather than wait


def test_a_refused_request_is_asked_again_at_the_next_check_not_at_once() -> None:
    p, nc = pull()

    async def run() -> None:
        await p.top_up()
        assert not p.delivered(status("400", Description="Bad Request"))
        assert p.refused
        await p.top_up()
        assert len(nc.published) == 1  # not again and again
        p.check()
        await p.top_up()
        assert len(nc.published) == 2

    asyncio.run(run())


def test_a_reconnect_or_a_silent_server_forgets_the_open_requests(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    p, nc = pull()
    p.asked = PULL_BATCH
    p.check()
    assert p.asked == PULL_BATCH  # heard from just now
    nc.stats["reconnects"] = 1
    p.check()
    assert p.asked == 0
    p.asked = PULL_BATCH
    now = p.heard + 2 * consumer_module.PULL_HEARTBEAT_SECONDS + 0.1
    monkeypatch.setattr(consumer_module.time, "monotonic", lambda: now)
    p.check()
    assert p.asked == 0


def test_nothing_is_asked_while_disconnected_and_a_failed_publish_asks_nothing() -> None:
    p, nc = pull()

    async def run() -> None:
        nc.is_connected = False
        await p.top_up()
        assert nc.published == []
        assert p.asked == 0
        nc.is_connected = True

        async def refused(subject: str, payload: bytes, reply: str = "") -> None:
            raise ConnectionError("gone")

        nc.publish = refused  # type: ignore[method-assign]
        with pytest.raises(ConnectionError):
            await p.top_up()
        assert p.asked == 0

    asyncio.run(run())
