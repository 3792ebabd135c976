"""Service bootstrap shared by all four services.

One `ServiceRuntime` gives a service its logs, traces, database (migrated), NATS
connection and stream, outbox relay, consumers and gRPC server (health, reflection,
auth/validation interceptor), and drains all of it gracefully on SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import grpc
import uvloop
from grpc_health.v1 import health, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.errors import APIError
from opentelemetry.instrumentation.grpc import aio_server_interceptor, filters

from services.common import db, jetstream, startup
from services.common import settings as settings_module
from services.common.auth import AuthSettings, TokenVerifier, warn_if_dev_mode
from services.common.consumer import EventConsumer, Subscription
from services.common.grpc_client import ACCEPT_CALLER_PINGS
from services.common.health import LIVENESS, SERVING, DependencyHealth, nats_probe, postgres_probe
from services.common.interceptors import ServiceInterceptor
from services.common.logs import setup_logging
from services.common.memberships import CatalogMemberships, MembershipResolver
from services.common.relay import OutboxRelay
from services.common.retention import Pruner, RetentionSettings, common_jobs
from services.common.rpc import RpcPolicy, policies_of
from services.common.settings import CommonSettings, ConfigError, exit_on_config_error
from services.common.telemetry import records_spans, setup_tracing, shutdown_tracing
from services.common.wakeup import LocalWakes

log = logging.getLogger(__name__)

DRAIN_GRACE_SECONDS = 10.0
NATS_FLUSH_SECONDS = 2
# A busy process (every pooled connection taken) may answer a probe late: only this many
# late answers in a row (about 6 s) take it out of its callers' rotation.
PROBE_TIMEOUTS_BEFORE_DOWN = 3

AddServicer = Callable[[Any, grpc.aio.Server], None]

# A client connection is closed (GOAWAY, in-flight calls finish) after about five minutes:
# the caller then resolves the peer's name again and spreads its calls over the replicas
# that exist now, including those an autoscaler added since.
SERVER_OPTIONS = [
    ("grpc.max_connection_age_ms", 300_000),
    ("grpc.max_connection_age_grace_ms", 30_000),
    *ACCEPT_CALLER_PINGS,
]


@dataclass
class Servicer:
    add_to_server: AddServicer
    implementation: object
    full_name: str


@dataclass
class ServiceRuntime:
    name: str
    settings: CommonSettings
    pool: asyncpg.Pool
    nc: Client
    js: JetStreamContext
    verifier: TokenVerifier
    pruner: Pruner
    # This process's workers that the pool's commits wake (services/common/wakeup.py): the
    # outbox relay, and what a service's build() adds.
    wakes: LocalWakes
    # The outbox relay's and the webhook delivery worker's own small pool: their bookkeeping
    # commits without waiting for its WAL flush (db.create_relay_pool); nothing else uses it.
    relay_pool: asyncpg.Pool
    background: list[Coroutine[Any, Any, None]] = field(default_factory=list)
    # How this service checks that a caller acting for a provider is its member (set by
    # the service's build(); None: this service refuses to act for providers).
    memberships: MembershipResolver | None = None
    consumers: list[EventConsumer] = field(default_factory=list)

    def service_token(self) -> str:
        return self.verifier.service_token(self.name)

    def consume(self, subscriptions: list[Subscription]) -> EventConsumer:
        consumer = EventConsumer(
            self.name,
            self.pool,
            self.js,
            subscriptions,
            stream_replicas=self.settings.nats_stream_replicas,
        )
        self.consumers.append(consumer)
        self.background.append(consumer.run())
        return consumer

    def run_in_background(self, work: Coroutine[Any, Any, None]) -> None:
        self.background.append(work)


async def _start_runtime(name: str, default_port: int) -> ServiceRuntime:
    settings = CommonSettings.from_env(default_port)
    retention = RetentionSettings.from_env()
    auth = AuthSettings.from_env()
    setup_logging(name, settings.log_level)
    warn_if_dev_mode(auth, log)
    setup_tracing(name)
    # Dependencies may be down (starting, restarting, an outage): wait for each with
    # back-off, as long as it takes, instead of crash-looping (services.common.startup).
    wakes = LocalWakes()
    pool = await startup.wait_for(
        lambda: db.create_pool(settings.database_url, wakes=wakes), "PostgreSQL"
    )
    relay_pool = await startup.wait_for(
        lambda: db.create_relay_pool(settings.database_url), "PostgreSQL"
    )
    applied = await startup.wait_for(lambda: _migrate(pool, name), "PostgreSQL (migrations)")
    if applied:
        log.info("migrations applied: %s", ", ".join(applied))
    nc, js = await startup.wait_for(lambda: jetstream.connect(settings.nats_url, name), "NATS")
    replicas = settings.nats_stream_replicas

    async def ensure_streams() -> None:
        try:
            await jetstream.ensure_stream(
                js, name, max_age_seconds=retention.stream_max_age_seconds, replicas=replicas
            )
            await jetstream.ensure_dlq_stream(
                js, max_age_seconds=retention.dlq_max_age_seconds, replicas=replicas
            )
        except APIError as exc:
            # More copies than the server keeps (refused by NATS on creation, by
            # jetstream._ensure on update): a bad setting, so one line naming it and exit 2.
            if exc.err_code != jetstream.REPLICAS_NOT_SUPPORTED:
                raise
            raise ConfigError(
                f"setting NATS_STREAM_REPLICAS={replicas} asks more copies than NATS keeps: "
                f"{exc.description}"
            ) from exc

    await startup.wait_for(ensure_streams, "NATS (JetStream streams)")
    pruner = Pruner(pool, retention.prune_interval_seconds, common_jobs(retention))
    verifier = TokenVerifier(auth)
    runtime = ServiceRuntime(name, settings, pool, nc, js, verifier, pruner, wakes, relay_pool)
    catalog_addr = settings_module.optional("CATALOG_ADDR")
    if catalog_addr:
        # Staff acting for a provider: the catalog holds the memberships (the catalog
        # itself answers from its database, see services.catalog.memberships).
        runtime.memberships = CatalogMemberships(catalog_addr)
    if verifier.fetches_service_token:
        # The issuer may still be starting (compose): retry as for PostgreSQL and NATS.
        renew_in = await _retry(verifier.fetch_service_token, "the issuer's token endpoint")
        runtime.run_in_background(verifier.keep_service_token_fresh(renew_in))
    relay = OutboxRelay(relay_pool, nc, settings.database_url)
    # Its fast path publishes this process's own rows once committed (relay.FastPath).
    wakes.add(relay.worker, relay.fast)
    runtime.run_in_background(relay.run())
    # A service adds its own rules (runtime.pruner.add) while it is built, before this runs.
    runtime.run_in_background(pruner.run())
    return runtime


async def _migrate(pool: asyncpg.Pool, name: str) -> list[str]:
    async with pool.acquire() as conn:
        return await db.migrate(conn, "services.common", f"services.{name}")


async def _retry(connect: Callable[[], Awaitable[Any]], what: str, attempts: int = 30) -> Any:
    """Peers may still be starting (compose, k8s): retry briefly before failing loudly."""
    for attempt in range(1, attempts + 1):
        try:
            return await connect()
        except (OSError, asyncpg.PostgresError, Exception) as exc:
            if attempt == attempts:
                raise RuntimeError(f"cannot reach {what}: {exc}") from exc
            log.warning("waiting for %s (%s)", what, exc)
            await asyncio.sleep(1)
    raise AssertionError("unreachable")


def server_interceptors(
    verifier: TokenVerifier,
    policies: dict[str, RpcPolicy],
    memberships: MembershipResolver | None = None,
    *,
    traced: bool | None = None,
) -> list[grpc.aio.ServerInterceptor]:
    """Every service's interceptors, outermost first: OpenTelemetry's server span around
    ours (authenticate, authorise, validate, map errors), which ends every failure in
    context.abort() so that the span records the status code.

    When no span is recorded (`traced` None: telemetry.records_spans()), OpenTelemetry's
    interceptor would still do all its per-call work (a wrapped context, attributes, a
    span dropped at the end) for nothing: then ours only continues the caller's trace
    context (benchmarks/README.md, round 3)."""
    if not (records_spans() if traced is None else traced):
        return [ServiceInterceptor(verifier, policies, memberships, trace_context=True)]
    # Health checks get no span: they are noise in traces, and OpenTelemetry's wrapper breaks
    # Health/Watch (a coroutine that writes, not an async generator), which the callers'
    # client-side health checking streams (services.common.grpc_client).
    untraced_health = filters.negate(filters.health_check())
    return [
        aio_server_interceptor(filter_=untraced_health),
        ServiceInterceptor(verifier, policies, memberships),
    ]


async def serve(
    name: str,
    default_port: int,
    build: Callable[[ServiceRuntime], Awaitable[list[Servicer]]],
) -> None:
    """Run a service until SIGTERM/SIGINT, then drain: stop taking RPCs, finish in-flight
    ones, stop consumers and relay, close NATS and the pool."""
    listen_addr = CommonSettings.from_env(default_port).listen_addr
    async with startup.health_while_starting(listen_addr):
        runtime = await _start_runtime(name, default_port)
    try:
        servicers = await build(runtime)
    except ValueError as exc:  # reading a service's own settings (keys, URLs, ...)
        raise ConfigError(str(exc)) from exc
    policies: dict[str, Any] = {}
    for s in servicers:
        policies.update(policies_of(s.implementation, s.full_name))
    server = grpc.aio.server(
        interceptors=server_interceptors(runtime.verifier, policies, runtime.memberships),
        options=SERVER_OPTIONS,
    )
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    for s in servicers:
        s.add_to_server(s.implementation, server)
    reflection.enable_server_reflection(
        [s.full_name for s in servicers] + [health.SERVICE_NAME, reflection.SERVICE_NAME], server
    )
    port = server.add_insecure_port(runtime.settings.listen_addr)
    if port == 0:
        raise RuntimeError(f"cannot listen on {runtime.settings.listen_addr}")
    await server.start()
    # Alive (and started: migrations applied, streams there) from here on, whatever the
    # dependencies do; readiness ("") follows them below.
    await health_servicer.set(LIVENESS, SERVING)
    # SERVING only while PostgreSQL and NATS answer: checked now, then every few seconds.
    dependencies = DependencyHealth(
        health_servicer,
        ["", *(s.full_name for s in servicers)],
        {"postgresql": postgres_probe(runtime.pool), "nats": nats_probe(runtime.nc)},
        timeouts_before_down=PROBE_TIMEOUTS_BEFORE_DOWN,
    )
    await dependencies.check()
    runtime.run_in_background(dependencies.run())

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    tasks = [asyncio.create_task(work) for work in runtime.background]
    log.info("%s listening on %s", name, runtime.settings.listen_addr)
    waiter = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait([waiter, *tasks], return_when=asyncio.FIRST_COMPLETED)
    # A dead relay or consumer must not leave a half-working process: exit non-zero so
    # the supervisor (upskill dev, compose, k8s) restarts it.
    failed = [t for t in done if t is not waiter]
    for task in failed:
        log.error("background task died: %r", task.exception())
    log.info("%s draining", name)
    await health_servicer.enter_graceful_shutdown()
    # In-flight RPCs finish (new ones go to other replicas), then the messages in hand.
    await server.stop(DRAIN_GRACE_SECONDS)
    for consumer in runtime.consumers:
        consumer.stop_pulling()
    try:
        async with asyncio.timeout(DRAIN_GRACE_SECONDS):
            await asyncio.gather(*(consumer.idle() for consumer in runtime.consumers))
    except TimeoutError:
        log.warning(
            "messages still in hand after %.0fs: they will be redelivered", DRAIN_GRACE_SECONDS
        )
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for consumer in runtime.consumers:
        await consumer.close()
    # Publishes were awaited (JetStream acks) and acks are fire-and-forget: flushing them
    # is all a drain would add, and nats-py's drain can hang on idle pull subscriptions.
    with contextlib.suppress(Exception):
        await runtime.nc.flush(timeout=NATS_FLUSH_SECONDS)
    await runtime.nc.close()
    await runtime.relay_pool.close()
    await runtime.pool.close()
    shutdown_tracing()
    log.info("%s stopped", name)
    if failed:
        raise SystemExit(1)


def run_service(main: Coroutine[Any, Any, None]) -> None:
    """Run a service's main coroutine on uvloop (libuv's event loop, in C): the services
    spend a fifth to a quarter of their CPU in the event loop itself (its Python
    scheduling of callbacks, selector and socket transports around every DB round trip and
    RPC), which uvloop does natively. grpc.aio runs on any asyncio loop (its completion
    queue wakes the loop through a socket it watches with add_reader). EVENT_LOOP=asyncio
    runs the standard library's loop instead (to compare, or to rule uvloop out)."""
    loop = settings_module.choice("EVENT_LOOP", "uvloop", ("uvloop", "asyncio"))
    factory = uvloop.new_event_loop if loop == "uvloop" else asyncio.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(main)


def run(
    name: str, default_port: int, build: Callable[[ServiceRuntime], Awaitable[list[Servicer]]]
) -> None:
    """`python -m services.<name>`: serve until told to stop."""
    with exit_on_config_error(name):
        run_service(serve(name, default_port, build))
