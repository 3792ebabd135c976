"""One logic-free service of the pipeline: a grpc.aio server with generic handlers (tiny JSON
in, tiny JSON out), its own database, an outbox relay (LISTEN/NOTIFY wake-up, SKIP LOCKED
claim, JetStream publish with Nats-Msg-Id) and pull consumers that insert an inbox row per
event. No business rules, auth, validation or telemetry.

    python -m benchmarks.pipeline.service NAME   # config in env PIPELINE_CONFIG (JSON)
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import uuid
from collections.abc import Callable, Coroutine
from contextlib import suppress
from typing import Any

import asyncpg
import grpc
import httpx
import nats
import uvloop
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from benchmarks.pipeline.schema import STREAM

RELAY_BATCH = 32
RELAY_FALLBACK_SECONDS = 5.0

Json = dict[str, Any]
Handler = Callable[[Json], Coroutine[Any, Any, Json]]
Consumer = Callable[[asyncpg.Connection, Json], Coroutine[Any, Any, None]]


async def emit(conn: asyncpg.Connection, subject: str, body: Json) -> None:
    await conn.execute(
        "INSERT INTO outbox (id, subject, body) VALUES ($1, $2, $3)",
        uuid.uuid4(),
        subject,
        json.dumps(body).encode(),
    )


class Service:
    def __init__(self, name: str, config: Json) -> None:
        self.name = name
        self.config = config
        self.pool: asyncpg.Pool
        self.js: JetStreamContext
        self.peers: dict[str, grpc.aio.Channel] = {}
        self.http = httpx.AsyncClient(trust_env=False)
        self.key = Ed25519PrivateKey.generate()
        self.tasks: set[asyncio.Task[None]] = set()

    async def call(self, peer: str, method: str, body: Json) -> Json:
        if peer not in self.peers:
            self.peers[peer] = grpc.aio.insecure_channel(self.config["grpc"][peer])
        rpc = self.peers[peer].unary_unary(f"/pipeline/{method}")
        return json.loads(await rpc(json.dumps(body).encode()))

    async def item(self, id_: str) -> Json:
        return json.loads(await self.pool.fetchval("SELECT body FROM items WHERE id = $1", id_))

    # ----------------------------------------------------------------- the hops, per service

    def handlers(self) -> dict[str, Handler]:
        every: dict[str, dict[str, Handler]] = {
            "catalog": {"CreateProgram": self.create_program, "GetProgram": self.get_item},
            "payments": {
                "CreateCheckout": self.create_checkout,
                "Pay": self.pay,
                "Confirm": self.confirm,
            },
            "enrollment": {"CreateEnrollment": self.create_enrollment, "Get": self.get_item},
            "credentials": {"Get": self.get_item},
        }
        return every[self.name]

    def consumers(self) -> dict[str, Consumer]:
        every: dict[str, dict[str, Consumer]] = {
            "enrollment": {
                "pipeline.payment.succeeded": self.on_paid,
                "pipeline.credential.issued": self.on_credential,
            },
            "credentials": {"pipeline.enrollment.paid": self.issue},
        }
        return every.get(self.name, {})

    async def get_item(self, req: Json) -> Json:
        return await self.item(req["id"])

    async def create_program(self, req: Json) -> Json:
        id_ = str(uuid.uuid4())
        await self.pool.execute("INSERT INTO items VALUES ($1, $2)", id_, json.dumps(req))
        return {"id": id_}

    async def create_enrollment(self, req: Json) -> Json:
        program = await self.call("catalog", "GetProgram", {"id": req["program_id"]})
        id_ = str(uuid.uuid4())
        body = {"id": id_, "learner": req["learner"], "program_id": req["program_id"]}
        await self.pool.execute("INSERT INTO items VALUES ($1, $2)", id_, json.dumps(body))
        checkout = await self.call(
            "payments", "CreateCheckout", {"enrollment_id": id_, "price": program.get("price")}
        )
        body["payment_id"] = checkout["id"]
        await self.pool.execute("UPDATE items SET body = $2 WHERE id = $1", id_, json.dumps(body))
        return body

    async def create_checkout(self, req: Json) -> Json:
        id_ = str(uuid.uuid4())
        body = req | {"id": id_, "status": "open"}
        await self.pool.execute("INSERT INTO items VALUES ($1, $2)", id_, json.dumps(body))
        return {"id": id_}

    async def pay(self, req: Json) -> Json:
        await self.pool.execute(
            """UPDATE items SET body = body || '{"status": "paid"}' WHERE id = $1""", req["id"]
        )
        task = asyncio.create_task(self.webhook(req["id"]))  # delivered after the reply
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return {}

    async def webhook(self, payment_id: str) -> None:
        response = await self.http.post(self.config["webhook_url"], json={"id": payment_id})
        response.raise_for_status()

    async def confirm(self, req: Json) -> Json:
        async with self.pool.acquire() as conn, conn.transaction():
            body = json.loads(
                await conn.fetchval(
                    """UPDATE items SET body = body || '{"status": "confirmed"}'
                        WHERE id = $1 RETURNING body""",
                    req["id"],
                )
            )
            await emit(conn, "pipeline.payment.succeeded", body)
        return {}

    async def on_paid(self, conn: asyncpg.Connection, event: Json) -> None:
        body = await conn.fetchval(
            """UPDATE items SET body = body || '{"status": "paid"}' WHERE id = $1 RETURNING body""",
            event["enrollment_id"],
        )
        await emit(conn, "pipeline.enrollment.paid", json.loads(body))

    async def issue(self, conn: asyncpg.Connection, event: Json) -> None:
        id_ = str(uuid.uuid4())
        claims = {"id": id_, "enrollment_id": event["id"], "learner": event["learner"]}
        signature = self.key.sign(json.dumps(claims, sort_keys=True).encode()).hex()
        body = claims | {"signature": signature}
        await conn.execute("INSERT INTO items VALUES ($1, $2)", id_, json.dumps(body))
        await emit(conn, "pipeline.credential.issued", body)

    async def on_credential(self, conn: asyncpg.Connection, event: Json) -> None:
        await conn.execute(
            "UPDATE items SET body = body || $2::jsonb WHERE id = $1",
            event["enrollment_id"],
            json.dumps({"credential_id": event["id"]}),
        )

    # ----------------------------------------------------------------- outbox and inbox

    async def relay(self) -> None:
        wake = asyncio.Event()
        listener = await asyncpg.connect(self.config["databases"][self.name])
        await listener.add_listener("outbox", lambda *_: wake.set())
        while True:
            while await self.publish_batch():
                pass
            with suppress(TimeoutError):  # the fallback poll, should a NOTIFY be missed
                await asyncio.wait_for(wake.wait(), RELAY_FALLBACK_SECONDS)
            wake.clear()

    async def publish_batch(self) -> bool:
        async with self.pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                """SELECT seq, id, subject, body FROM outbox WHERE published_at IS NULL
                    ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED""",
                RELAY_BATCH,
            )
            if not rows:
                return False
            await asyncio.gather(
                *(
                    self.js.publish(r["subject"], r["body"], headers={"Nats-Msg-Id": str(r["id"])})
                    for r in rows
                )
            )
            await conn.execute(
                "UPDATE outbox SET published_at = now() WHERE seq = ANY($1)",
                [r["seq"] for r in rows],
            )
        return True

    async def consume(self, subject: str, handle: Consumer) -> None:
        durable = f"{self.name}-{subject.rsplit('.', 2)[1]}-{subject.rsplit('.', 1)[1]}"
        sub = await self.js.pull_subscribe(subject, durable=durable, stream=STREAM)
        while True:
            try:
                messages = await sub.fetch(batch=RELAY_BATCH, timeout=5)
            except (TimeoutError, nats.errors.TimeoutError):
                continue
            # A batch at once: no two events of one purchase are ever pending together.
            await asyncio.gather(*(self.receive(msg, handle) for msg in messages))

    async def receive(self, msg: Msg, handle: Consumer) -> None:
        event_id = msg.headers.get("Nats-Msg-Id") if msg.headers else None
        async with self.pool.acquire() as conn, conn.transaction():
            fresh = await conn.fetchval(
                "INSERT INTO inbox (event_id) VALUES ($1) ON CONFLICT DO NOTHING RETURNING true",
                event_id,
            )
            if fresh:
                await handle(conn, json.loads(msg.data))
        await msg.ack()

    # ----------------------------------------------------------------- running

    async def run(self) -> None:
        self.pool = await asyncpg.create_pool(self.config["databases"][self.name], max_size=10)
        connection = await nats.connect(self.config["nats_url"])
        self.js = connection.jetstream()
        server = grpc.aio.server()

        def unary(fn: Handler) -> grpc.RpcMethodHandler:
            async def handle(request: bytes, _: grpc.aio.ServicerContext) -> bytes:
                return json.dumps(await fn(json.loads(request))).encode()

            return grpc.unary_unary_rpc_method_handler(handle)

        methods = {name: unary(fn) for name, fn in self.handlers().items()}
        server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler("pipeline", methods),)
        )
        server.add_insecure_port(self.config["grpc"][self.name])
        await server.start()
        loops = [self.relay(), *(self.consume(s, h) for s, h in self.consumers().items())]
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        background = [asyncio.create_task(loop) for loop in loops]
        done, _ = await asyncio.wait(
            [*background, asyncio.create_task(stop.wait())], return_when=asyncio.FIRST_COMPLETED
        )
        for task in done:
            if task in background:
                task.result()  # a loop that ended raised: show it
        await server.stop(1)


def main() -> None:
    uvloop.run(Service(sys.argv[1], json.loads(os.environ["PIPELINE_CONFIG"])).run())


if __name__ == "__main__":
    main()
