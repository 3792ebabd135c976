"""The logic-free pipeline of issue 12: the yardstick for "the practical limit of this
architecture on this machine". The same hops as a purchase through our stack, with no
business rules, auth, validation or telemetry:

    edge (uvicorn)  POST /api/v1/enrollments -> enrollment.CreateEnrollment
                        -> catalog.GetProgram, payments.CreateCheckout
                    POST /checkout/{id} -> payments.Pay; payments POSTs the webhook back
                        into the edge -> payments.Confirm: outbox payment.succeeded
    relay (NOTIFY, SKIP LOCKED) -> JetStream (Nats-Msg-Id) -> enrollment's pull consumer
        (inbox row): outbox enrollment.paid -> credentials' consumer (inbox row, Ed25519
        signature): outbox credential.issued -> enrollment's consumer: credential_id
    GET /api/v1/enrollments/{id} -> enrollment.Get

Four grpc.aio processes (benchmarks/pipeline/service.py) with a database each, on the
PostgreSQL and NATS a bench's stack started, and the edge (benchmarks/pipeline/edge.py), so
the bench's buyers (benchmarks.__main__.Market) drive it unchanged.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from contextlib import suppress
from pathlib import Path
from types import TracebackType

import asyncpg
import nats
import psutil

from benchmarks.pipeline.schema import SCHEMA, STREAM
from services.devstack.embedded import (
    PostgresServer,
    free_port,
    port_accepts,
    run_coroutine_sync,
)

SERVICES = ("catalog", "payments", "enrollment", "credentials")
START_SECONDS = 30.0


class Pipeline:
    """Starts the pipeline's five processes (logs into `log_dir`); a context manager."""

    def __init__(self, postgres: PostgresServer, nats_url: str, log_dir: Path) -> None:
        self.postgres = postgres
        self.nats_url = nats_url
        self.log_dir = log_dir
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.databases: dict[str, str] = {}  # service -> DSN, once started
        self.edge_port = free_port()
        self.url = f"http://127.0.0.1:{self.edge_port}"

    def __enter__(self) -> Pipeline:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        databases = {}
        for name in SERVICES:
            with_suffix = f"pipeline_{name}"
            self.postgres.drop_database(with_suffix)
            databases[name] = self.postgres.create_database(with_suffix)
        self.databases = databases
        run_coroutine_sync(lambda: _prepare(databases, self.nats_url))
        ports = {name: free_port() for name in SERVICES}
        config = {
            "databases": databases,
            "nats_url": self.nats_url,
            "grpc": {name: f"127.0.0.1:{port}" for name, port in ports.items()},
            "webhook_url": f"{self.url}/webhooks/payments",
        }
        env = os.environ | {"PIPELINE_CONFIG": json.dumps(config)}
        self.log_dir.mkdir(parents=True, exist_ok=True)
        commands = {
            name: [sys.executable, "-m", "benchmarks.pipeline.service", name] for name in SERVICES
        }
        commands["edge"] = [
            *(sys.executable, "-m", "uvicorn", "benchmarks.pipeline.edge:app"),
            *("--host", "127.0.0.1", "--port", str(self.edge_port)),
            *("--no-access-log", "--log-level", "warning"),
        ]
        ports["edge"] = self.edge_port
        for name, command in commands.items():
            with (self.log_dir / f"pipeline-{name}.log").open("ab") as log:
                self.procs[name] = subprocess.Popen(
                    command, env=env, stdout=log, stderr=subprocess.STDOUT
                )
        deadline = time.monotonic() + START_SECONDS
        for name, port in ports.items():
            while not port_accepts(port):
                if self.procs[name].poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"pipeline {name} did not start: see {self.log_dir}")
                time.sleep(0.05)

    def stop(self) -> None:
        for proc in self.procs.values():
            proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs.clear()

    def roots(self) -> dict[str, psutil.Process]:
        return {f"pipeline-{name}": psutil.Process(p.pid) for name, p in self.procs.items()}


async def _prepare(databases: dict[str, str], nats_url: str) -> None:
    for dsn in databases.values():
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(SCHEMA)
        finally:
            await conn.close()
    connection = await nats.connect(nats_url)
    try:
        js = connection.jetstream()
        with suppress(nats.js.errors.NotFoundError):
            await js.delete_stream(STREAM)  # a previous run's
        await js.add_stream(name=STREAM, subjects=[f"{STREAM.lower()}.>"])
    finally:
        await connection.close()
