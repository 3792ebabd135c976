"""A consumer handles messages about different entities at once, about one entity in order."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from nats.aio.msg import Msg

from services.common import consumer as consumer_module
from services.common.consumer import EventConsumer, ordering_key
from tests.polling import eventually_async


class FakeMsg:
    def __init__(self, subject: str, n: int) -> None:
        self.headers = {"ce-subject": subject} if subject else {}
        self.subject = f"upskill.test.{n}"
        self.n = n


class Recording(EventConsumer):
    def __init__(self) -> None:
        super().__init__("test", cast(Any, None), cast(Any, None), [])
        self.running: set[str] = set()
        self.overlapped = False
        self.most_at_once = 0
        self.order: dict[str, list[int]] = {}
        self.gate = asyncio.Event()

    async def handle(self, msg: Msg) -> None:
        fake = cast(Any, msg)
        key = ordering_key(msg)
        if key in self.running:
            self.overlapped = True
        self.running.add(key)
        self.most_at_once = max(self.most_at_once, len(self.running))
        await self.gate.wait()
        await asyncio.sleep(0)
        self.order.setdefault(key, []).append(fake.n)
        self.running.discard(key)
        if fake.n == 3:
            raise RuntimeError("a failure settles nothing, and blocks nothing behind it")


async def dispatch(consumer: Recording, msgs: list[FakeMsg]) -> None:
    """What the pump does with a fetched batch."""
    for msg in msgs:
        await consumer._in_flight.acquire()
        consumer._dispatch(cast(Msg, msg))


async def settle(consumer: Recording) -> None:
    while consumer._tasks:
        await asyncio.wait(list(consumer._tasks))


def test_one_entity_in_stream_order_different_entities_at_once() -> None:
    consumer = Recording()
    msgs = [FakeMsg("a" if n % 2 else "b", n) for n in range(1, 8)] + [FakeMsg("", 8)]

    async def run() -> None:
        await dispatch(consumer, msgs)  # 8 messages: every one has a slot
        await eventually_async(lambda: len(consumer.running) == 3)  # a, b and ""
        consumer.gate.set()
        await settle(consumer)

    asyncio.run(run())
    assert not consumer.overlapped
    assert consumer.order == {"a": [1, 3, 5, 7], "b": [2, 4, 6], "": [8]}
    assert consumer.most_at_once == 3
    assert consumer._tails == {}


def test_no_more_than_max_in_flight_at_once(monkeypatch: Any) -> None:
    monkeypatch.setattr(consumer_module, "MAX_IN_FLIGHT", 3)
    consumer = Recording()
    msgs = [FakeMsg(f"e{n}", n) for n in range(10)]

    async def run() -> None:
        pumping = asyncio.create_task(dispatch(consumer, msgs))
        await eventually_async(lambda: len(consumer.running) == 3)
        assert len(consumer._tasks) == 3
        assert not pumping.done()  # waiting for a free slot
        consumer.gate.set()
        await pumping
        await settle(consumer)

    asyncio.run(run())
    assert consumer.most_at_once <= 3
    assert sorted(n for ns in consumer.order.values() for n in ns) == list(range(10))
