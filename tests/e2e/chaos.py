"""The chaos driver: concurrent purchases of every kind through the public API while a
seeded monkey SIGKILLs one component after another (each service, the gateway, NATS,
PostgreSQL), with nothing but the stack's own supervision to bring them back; then every
invariant of DESIGN.md is checked from outside (the API) and inside (each database, the
DLQ stream).

Clients behave as well-behaved clients do: a 503 (with Retry-After), a 502/504 or a
dropped connection is retried, with the same Idempotency-Key for what creates something.
Used by tests/e2e/test_chaos.py (short, in `make test`) and `make chaos` (long).
"""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import asyncpg
import httpx
import nats

from services.cli import reconcile
from services.common import healthcheck
from services.devstack.demo import demo_program
from services.devstack.embedded import port_accepts, run_coroutine_sync, sigkill_tree
from services.devstack.stack import GRPC_SERVICES, Stack
from tests.polling import eventually

log = logging.getLogger(__name__)

KINDS = ("free", "on_payment", "on_completion", "declined", "cancelled", "refunded")
GOOD_CARD = "4242424242424242"
DECLINED_CARD = "4000000000009995"
RETRYABLE = frozenset({502, 503, 504})
# How long one step may take while components keep dying (a bound, not an expectation).
STEP_WITHIN = 240.0
CAPACITY = 10_000


@dataclasses.dataclass
class Purchase:
    kind: str
    learner: dict[str, str]
    enrollment_id: str = ""
    credential_id: str = ""


@dataclasses.dataclass
class ChaosReport:
    purchases: int = 0
    kills: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)
    recovery_seconds: dict[str, float] = dataclasses.field(default_factory=dict)
    retried: collections.Counter[int | str] = dataclasses.field(default_factory=collections.Counter)
    seconds: float = 0.0

    def summary(self) -> str:
        worst = max(self.recovery_seconds.values(), default=0.0)
        return (
            f"{self.purchases} purchases in {self.seconds:.0f}s, "
            f"{sum(self.kills.values())} kills ({dict(sorted(self.kills.items()))}), "
            f"slowest recovery {worst:.1f}s, client retries {dict(self.retried)}"
        )


class Client:
    """The public API as a patient client sees it."""

    def __init__(self, base_url: str, report: ChaosReport) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=30, trust_env=False)
        self.report = report
        self._lock = threading.Lock()

    def close(self) -> None:
        self.http.close()

    def call(self, method: str, path: str, *, accept: tuple[int, ...], **kwargs: Any) -> Any:
        """The response once it is one of `accept`; retried while the stack answers
        503/502/504 or not at all. Anything else fails the run."""

        def attempt() -> httpx.Response | None:
            try:
                response = self.http.request(method, path, **kwargs)
            except httpx.TransportError as exc:
                self._count(type(exc).__name__)
                return None
            if response.status_code in RETRYABLE:
                self._count(response.status_code)
                if response.status_code != 503:
                    log.warning("%s %s: %s %s", method, path, response.status_code, response.text)
                return None
            if response.status_code not in accept:
                raise AssertionError(
                    f"{method} {path}: {response.status_code} {response.text[:500]}"
                )
            return response

        return eventually(attempt, within=STEP_WITHIN, what=f"{method} {path}")

    def _count(self, what: int | str) -> None:
        with self._lock:
            self.report.retried[what] += 1

    def token(self, **claims: str) -> dict[str, str]:
        made = self.call("POST", "/api/v1/dev/tokens", json=claims, accept=(200, 201))
        return {"authorization": f"Bearer {made.json()['token']}"}

    def enrollment(self, who: dict[str, str], enrollment_id: str) -> dict[str, Any]:
        found = self.call("GET", f"/api/v1/enrollments/{enrollment_id}", headers=who, accept=(200,))
        return dict(found.json())

    def wait_for(
        self, who: dict[str, str], enrollment_id: str, until: Callable[[dict[str, Any]], bool]
    ) -> dict[str, Any]:
        return eventually(
            lambda: self.enrollment(who, enrollment_id),
            until=until,
            within=STEP_WITHIN,
            what=f"enrollment {enrollment_id} to reach its state",
        )


class Market:
    """One provider, one program per kind of purchase, and the purchases themselves."""

    def __init__(self, client: Client) -> None:
        self.client = client
        run = uuid.uuid4().hex[:8]
        self.admin = client.token(role="admin", sub=f"chaos-admin-{run}")
        provider = client.call(
            "POST",
            "/api/v1/providers",
            json={"name": f"Chaos {run}"},
            headers=self.admin,
            accept=(200, 201),
        ).json()
        self.provider = client.token(
            role="provider", sub=f"chaos-prov-{run}", provider_id=provider["id"]
        )
        self.programs = {
            "free": self._program(price={"amount_minor": 0, "currency": "USD"}),
            "ON_PAYMENT": self._program(issuance="ON_PAYMENT"),
            "ON_COMPLETION": self._program(issuance="ON_COMPLETION"),
        }

    def _program(self, issuance: str = "ON_COMPLETION", **changes: Any) -> str:
        body = demo_program() | {"capacity": CAPACITY} | changes
        body["credential"] = body["credential"] | {"issuance": issuance}
        made = self.client.call(
            "POST", "/api/v1/programs", json=body, headers=self.provider, accept=(200, 201)
        ).json()
        self.client.call(
            "POST",
            f"/api/v1/programs/{made['id']}/publish",
            headers=self.provider,
            accept=(200,),
        )
        return str(made["id"])

    def purchase(self, kind: str) -> Purchase:
        client = self.client
        sub = f"chaos-{uuid.uuid4().hex[:12]}"
        bought = Purchase(kind, client.token(role="learner", sub=sub, email=f"{sub}@example.com"))
        program = {"free": "free", "on_completion": "ON_COMPLETION"}.get(kind, "ON_PAYMENT")
        created = client.call(
            "POST",
            "/api/v1/enrollments",
            json={"program_id": self.programs[program]},
            headers=bought.learner | {"Idempotency-Key": sub},
            accept=(200, 201),
        ).json()
        bought.enrollment_id = created["id"]
        if kind == "free":
            return bought
        if kind == "cancelled":
            client.call(
                "POST",
                f"/api/v1/enrollments/{bought.enrollment_id}/cancel",
                headers=bought.learner,
                accept=(200, 409),
            )
            return bought
        card = DECLINED_CARD if kind == "declined" else GOOD_CARD
        path = "/" + created["checkout_url"].split("/", 3)[3]
        # A retried payment after one that went through is refused or redirected: both fine.
        client.call("POST", path, data={"card_number": card}, accept=(200, 303, 402, 409, 410))
        if kind == "declined":
            return bought
        active = client.wait_for(
            bought.learner,
            bought.enrollment_id,
            lambda e: (
                e["status"] == "ACTIVE"
                and (program != "ON_PAYMENT" or bool(e.get("credential_id")))
            ),
        )
        if kind == "on_completion":
            client.call(
                "POST",
                f"/api/v1/enrollments/{bought.enrollment_id}/complete",
                json={},
                headers=self.provider,
                accept=(200, 409),
            )
        if kind == "refunded":
            client.call(
                "POST",
                f"/api/v1/enrollments/{bought.enrollment_id}/refund",
                json={"reason": "chaos"},
                headers=self.admin | {"Idempotency-Key": sub},
                accept=(200, 202),
            )
        bought.credential_id = str(active.get("credential_id") or "")
        return bought

    # -- the outside view, once the dust settled

    def check(self, bought: Purchase) -> None:
        client = self.client
        expected = {
            "free": "ACTIVE",
            "on_payment": "ACTIVE",
            "on_completion": "COMPLETED",
            "declined": "PENDING_PAYMENT",
            "cancelled": "CANCELLED",
            "refunded": "REFUNDED",
        }[bought.kind]
        final = client.wait_for(
            bought.learner,
            bought.enrollment_id,
            lambda e: (
                e["status"] == expected
                and (bought.kind not in ("on_payment", "on_completion") or bool(e["credential_id"]))
            ),
        )
        credential_id = final.get("credential_id") or bought.credential_id
        if bought.kind in ("declined", "cancelled", "free"):
            assert not credential_id, f"{bought}: a credential without a payment: {final}"
            return
        if bought.kind == "refunded":
            if credential_id:
                eventually(
                    lambda: self._credential(credential_id)["status"] == "REVOKED",
                    within=STEP_WITHIN,
                    what=f"credential {credential_id} of refunded {bought.enrollment_id} revoked",
                )
            return
        assert self._credential(credential_id)["status"] == "ISSUED", final

    def _credential(self, credential_id: str) -> dict[str, Any]:
        found = self.client.call("GET", f"/api/v1/credentials/{credential_id}", accept=(200,))
        return dict(found.json())


# --------------------------------------------------------------------------- the monkey


class Monkey:
    """SIGKILLs one component at a time in a seeded order (every component once per round),
    waits until the stack's supervision brought it back, pauses, and does it again."""

    def __init__(self, stack: Stack, seed: int, every: float, report: ChaosReport) -> None:
        self.stack = stack
        self.every = every
        self.report = report
        self._random = random.Random(seed)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="chaos-monkey", daemon=True)
        self.error: BaseException | None = None

    def components(self) -> list[str]:
        names = list(self.stack.instance_names())
        if self.stack.postgres is not None:
            names.append("postgresql")
        if self.stack.nats is not None:
            names.append("nats")
        return names

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(STEP_WITHIN)
        if self.error is not None:
            raise self.error

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                order = self.components()
                self._random.shuffle(order)
                for name in order:
                    if self._stop.wait(self.every):
                        return
                    self.kill(name)
        except BaseException as exc:  # reported by stop()
            self.error = exc

    def kill(self, name: str) -> None:
        pid = self._pid(name)
        if pid is None:
            return
        sigkill_tree(pid)
        self.report.kills[name.rsplit("-", 1)[0] if name[-1].isdigit() else name] += 1
        started = time.monotonic()
        eventually(
            lambda: self._pid(name) not in (None, pid) and self._healthy(name),
            within=STEP_WITHIN,
            what=f"{name} to be back under the stack's own supervision",
        )
        took = time.monotonic() - started
        self.report.recovery_seconds[name] = max(took, self.report.recovery_seconds.get(name, 0))

    def _pid(self, name: str) -> int | None:
        if name == "postgresql":
            assert self.stack.postgres is not None
            return self.stack.postgres.pid if self.stack.postgres.is_running() else None
        if name == "nats":
            assert self.stack.nats is not None
            return self.stack.nats.pid if self.stack.nats.is_running() else None
        return self.stack.pid(name)

    def _healthy(self, name: str) -> bool:
        if name == "postgresql":
            assert self.stack.postgres is not None
            return port_accepts(self.stack.postgres.port)
        if name == "nats":
            assert self.stack.nats is not None
            return port_accepts(self.stack.nats.port)
        if name.startswith("gateway"):
            try:
                url = f"http://{self.stack.addr(name)}/readyz"
                return httpx.get(url, timeout=2, trust_env=False).status_code == 200
            except httpx.HTTPError:
                return False
        return healthcheck.check(self.stack.addr(name)) is None


# --------------------------------------------------------------------------- the run


class RollingRestart:
    """A rolling restart, again and again: each service instance in turn gets SIGTERM (it
    drains), is started again and is ready before the next one goes. The gateway, a single
    process, is left alone: there is nothing to roll over to."""

    def __init__(self, stack: Stack, report: ChaosReport) -> None:
        self.stack = stack
        self.report = report
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rolling-restart", daemon=True)
        self.error: BaseException | None = None
        self.rounds = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(STEP_WITHIN)
        if self.error is not None:
            raise self.error

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                for name in self.stack.instance_names():
                    if self._stop.is_set():
                        return
                    if name == "gateway":
                        continue
                    started = time.monotonic()
                    self.stack.restart_service(name, timeout=STEP_WITHIN)
                    self.report.kills[f"restart {name}"] += 1
                    took = time.monotonic() - started
                    self.report.recovery_seconds[name] = max(
                        took, self.report.recovery_seconds.get(name, 0)
                    )
                self.rounds += 1
        except BaseException as exc:  # reported by stop()
            self.error = exc


def run_chaos(
    stack: Stack,
    *,
    purchases: int,
    seed: int,
    kill_every: float,
    workers: int = 4,
    rolling: bool = False,
) -> tuple[Market, list[Purchase], ChaosReport]:
    """Drive `purchases` purchases (kinds in a seeded mix) with `workers` clients while the
    monkey kills (or, `rolling`, while the services are restarted one by one); returns
    once every purchase went through its steps and the disruption stopped. The checks are
    check_invariants()."""
    report = ChaosReport()
    client = Client(stack.gateway_url, report)
    market = Market(client)
    restarts = RollingRestart(stack, report) if rolling else None
    monkey = restarts or Monkey(stack, seed, kill_every, report)
    kinds = random.Random(seed)
    lock = threading.Lock()
    done: list[Purchase] = []
    issued = 0

    def next_kind() -> str | None:
        """The next purchase's kind; None once there were enough (and, for a rolling
        restart, once every instance was restarted at least once under load)."""
        nonlocal issued
        with lock:
            if issued >= purchases and (restarts is None or restarts.rounds >= 1):
                return None
            issued += 1
            # Every kind once first, then a seeded mix.
            return KINDS[issued - 1] if issued <= len(KINDS) else kinds.choice(KINDS)

    def buyer() -> None:
        while (kind := next_kind()) is not None:
            bought = market.purchase(kind)
            with lock:
                done.append(bought)

    started = time.monotonic()
    monkey.start()
    try:
        with concurrent.futures.ThreadPoolExecutor(workers, "chaos-buyer") as pool:
            for future in [pool.submit(buyer) for _ in range(workers)]:
                future.result()
    finally:
        monkey.stop()
    report.seconds = time.monotonic() - started
    report.purchases = len(done)
    return market, done, report


def check_invariants(stack: Stack, market: Market, bought: list[Purchase]) -> None:
    """DESIGN.md's invariants, from outside and inside, once the monkey has stopped."""
    stack.wait_ready(STEP_WITHIN)
    for purchase in bought:
        market.check(purchase)
    dbs = {name: stack.database_urls[name] for name in GRPC_SERVICES}
    eventually(
        lambda: {name: _undrained(dsn) for name, dsn in dbs.items()},
        until=lambda counts: not any(counts.values()),
        within=STEP_WITHIN,
        what="every outbox drained (nothing unpublished, nothing parked)",
    )
    # A consumer killed while handling a message gets it again only after ack_wait (30 s):
    # an event nobody's purchase waits for (a cancellation's checkout closing) may still be
    # on its way when the outboxes are drained.
    eventually(
        lambda: _unhandled(dbs),
        until=lambda missing: not missing,
        within=STEP_WITHIN,
        what="every published event handled by each of its consumers",
    )
    _check_credentials(dbs, bought)
    _check_ledger(dbs["payments"])
    drifts = run_coroutine_sync(
        lambda: reconcile.find_drift(
            reconcile.Databases(dbs["payments"], dbs["enrollment"], dbs["credentials"]),
            settle_seconds=0,
        )
    )
    assert drifts == [], reconcile.table(drifts)
    assert _dead_letters(stack.nats_url) == 0, "a message was dead-lettered"


def _fetch(dsn: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    async def query() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(dsn)
        try:
            return list(await conn.fetch(sql, *args))
        finally:
            await conn.close()

    return run_coroutine_sync(query)


def _undrained(dsn: str) -> int:
    rows = _fetch(
        dsn, "SELECT count(*) AS n FROM outbox WHERE published_at IS NULL OR parked_at IS NOT NULL"
    )
    return int(rows[0]["n"])


def _unhandled(dbs: dict[str, str]) -> list[str]:
    """Every published event of a type a consumer handles must be handled by it exactly once
    (the inbox key makes "more than once" impossible; "never" is the loss to look for): what
    is not, so far."""
    published: dict[str, set[str]] = collections.defaultdict(set)
    for dsn in dbs.values():
        for row in _fetch(dsn, "SELECT type, id::text AS id FROM outbox"):
            published[row["type"]].add(row["id"])
    missing = []
    for name, dsn in dbs.items():
        handled: dict[str, set[str]] = collections.defaultdict(set)
        for row in _fetch(dsn, "SELECT event_type, event_id::text AS id FROM processed_events"):
            handled[row["event_type"]].add(row["id"])
        for event_type, ids in handled.items():
            if unhandled := published[event_type] - ids:
                missing.append(f"{name} has not handled {len(unhandled)} {event_type} event(s)")
    return missing


def _check_credentials(dbs: dict[str, str], bought: list[Purchase]) -> None:
    """Exactly one credential for each paid enrollment that earned one, none elsewhere."""
    rows = _fetch(
        dbs["credentials"],
        "SELECT enrollment_id::text AS id, count(*) AS n FROM credentials GROUP BY 1",
    )
    counts = {row["id"]: int(row["n"]) for row in rows}
    for purchase in bought:
        want = 1 if purchase.kind in ("on_payment", "on_completion", "refunded") else 0
        assert counts.get(purchase.enrollment_id, 0) == want, (
            f"{purchase.kind} {purchase.enrollment_id}: "
            f"{counts.get(purchase.enrollment_id, 0)} credentials"
        )


def _check_ledger(payments_dsn: str) -> None:
    """One charge line per paid payment, for its amount; a full refund reverses it exactly."""
    rows = _fetch(
        payments_dsn,
        """SELECT p.id, p.status, p.amount_minor,
                  count(l.id) FILTER (WHERE l.kind = 'charge') AS charges,
                  coalesce(sum(l.gross_amount_minor) FILTER (WHERE l.kind = 'charge'), 0)
                      AS charged,
                  coalesce(sum(l.gross_amount_minor), 0) AS balance
             FROM payments p LEFT JOIN payout_ledger l ON l.payment_id = p.id
            GROUP BY p.id""",
    )
    for row in rows:
        if row["status"] in ("SUCCEEDED", "REFUNDED"):
            assert row["charges"] == 1, dict(row)
            assert row["charged"] == row["amount_minor"], dict(row)
            want = 0 if row["status"] == "REFUNDED" else row["amount_minor"]
            assert row["balance"] == want, dict(row)
        else:
            assert row["charges"] == 0, dict(row)


def _dead_letters(nats_url: str) -> int:
    async def count() -> int:
        nc = await nats.connect(nats_url)
        try:
            info = await nc.jetstream().stream_info("DLQ")
            return int(info.state.messages)
        finally:
            await nc.close()

    return run_coroutine_sync(count)
