"""Every query on a hot path is served by an index: EXPLAIN confirms it.

Each case runs the code's own query (the repository function, the worker's method or its
SQL constant) on a connection that EXPLAINs every statement before running it, with
`enable_seqscan = off` so that, on the tiny tables of a test, a sequential scan is chosen
only when no index can serve the query. A new hot-path query without its index fails here.

Hot paths, by service:
- every service: outbox claim, mark published, record failures, next-due; inbox insert;
  retention prunes (outbox, inbox).
- catalog: program by id; the storefront listing (first page, page 2, by provider, search,
  skill); pathways (the storefront's, a provider's with drafts).
- enrollment: by id, by idempotency key, the live one of a learner for a program, seat
  count; listings by learner, provider, program (and page 2); employers: a person's
  employers, an employer's packs, a pack's invitations (and page 2), what an employer
  sees (the team view, one learner's view), a learner's sponsors, own credentials and
  shares.
- credentials: by id, by enrollment; listings by learner, provider, program; status-list
  reads.
- payments: by id, by checkout session; the expiry sweeps (unopened payments, local open
  sessions); webhook dedupe; webhook delivery claim and next-due; retention prunes.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from services.catalog import pathway_store
from services.catalog import repository as catalog
from services.common import db, relay
from services.common.auth import Principal, Role
from services.common.consumer import inbox_sql
from services.common.paging import Cursor, Page
from services.common.retention import Pruner, RetentionSettings, common_jobs
from services.common.sql import OwnerScope
from services.credentials import repository as credentials
from services.credentials.status_list import MIN_BITS
from services.enrollment import employers
from services.enrollment import repository as enrollments
from services.enrollment import unit_of_work as enrollment_uow
from services.enrollment.domain import Enrollment, Price
from services.payments import repository as payments
from services.payments.delivery import WebhookDeliveryWorker
from services.payments.domain import CheckoutOrder, Money, Payment
from services.payments.local_gateway import LocalGateway
from services.payments.retention import PaymentsRetention

pytestmark = pytest.mark.asyncio(loop_scope="session")

_STATEMENTS = ("SELECT", "UPDATE", "DELETE", "INSERT", "WITH")


@dataclass
class Plan:
    sql: str
    tree: dict[str, Any]

    def nodes(self) -> Iterator[dict[str, Any]]:
        stack = [self.tree]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(node.get("Plans", []))

    def indexes(self) -> set[str]:
        found: set[str] = set()
        for node in self.nodes():
            if "Index Name" in node:
                found.add(node["Index Name"])
            found.update(node.get("Conflict Arbiter Indexes", []))
        return found

    def relations(self) -> set[str]:
        return {n["Relation Name"] for n in self.nodes() if "Relation Name" in n}

    def seq_scans(self) -> list[str]:
        return [n.get("Relation Name", "?") for n in self.nodes() if n["Node Type"] == "Seq Scan"]


class _RolledBackError(Exception):
    """Ends explain_nested's transaction, so what the call wrote goes."""


class ExplainFailedError(BaseException):
    """Not an Exception: the calls below swallow those, and this must fail the test."""


class ExplainingConnection:
    """A connection that EXPLAINs each statement (with its real arguments) before it runs."""

    def __init__(self, conn: asyncpg.Connection, plans: list[Plan]) -> None:
        self._conn = conn
        self._plans = plans

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)

    async def _explain(self, sql: str, args: tuple[Any, ...]) -> None:
        if sql.lstrip().upper().startswith(_STATEMENTS):
            try:
                raw = await self._conn.fetchval(f"EXPLAIN (FORMAT JSON) {sql}", *args)
            except asyncpg.PostgresError as exc:  # a broken query, not "nothing found"
                raise ExplainFailedError(f"{exc!r} in:\n{sql}") from exc
            self._plans.append(Plan(sql, json.loads(raw)[0]["Plan"]))

    async def fetch(self, sql: str, *args: Any, **kw: Any) -> Any:
        await self._explain(sql, args)
        return await self._conn.fetch(sql, *args, **kw)

    async def fetchrow(self, sql: str, *args: Any, **kw: Any) -> Any:
        await self._explain(sql, args)
        return await self._conn.fetchrow(sql, *args, **kw)

    async def fetchval(self, sql: str, *args: Any, **kw: Any) -> Any:
        await self._explain(sql, args)
        return await self._conn.fetchval(sql, *args, **kw)

    async def execute(self, sql: str, *args: Any, **kw: Any) -> Any:
        await self._explain(sql, args)
        return await self._conn.execute(sql, *args, **kw)


@dataclass
class ExplainingPool:
    """Stands in for the pool of a worker, so its own queries are explained."""

    pool: asyncpg.Pool
    plans: list[Plan] = field(default_factory=list)

    @contextlib.asynccontextmanager
    async def acquire(self) -> AsyncIterator[Any]:
        async with self.pool.acquire() as conn:
            await conn.execute("SET enable_seqscan = off")
            try:
                yield ExplainingConnection(conn, self.plans)
            finally:
                await conn.execute("RESET enable_seqscan")

    async def explain(self, call: Callable[[Any], Awaitable[Any]]) -> list[Plan]:
        """The plans of every statement `call(conn)` runs (its outcome does not matter:
        most find nothing in these empty tables)."""
        self.plans.clear()
        async with self.acquire() as conn:
            with contextlib.suppress(Exception):
                await call(conn)
        return list(self.plans)

    async def explain_nested(
        self, call: Callable[[Any], Awaitable[Any]], *, generic: bool = False
    ) -> list[Plan]:
        """The plans of the statements that functions run for `call(conn)` (a plpgsql
        function's queries, which EXPLAIN of the calling statement does not show), as
        auto_explain reports them when it runs. `generic`: the plans made without the
        parameters' values, which a session's cached statements use after their first five
        runs (plan_cache_mode's auto)."""
        plans: list[Plan] = []
        sent: set[str] = set()

        def logged(query: Any) -> None:
            sent.add(query.query)

        def heard(_: Any, message: Any) -> None:
            if "plan:" in message.message:
                explained = json.loads(message.message.split("plan:", 1)[1])
                plans.append(Plan(explained["Query Text"], explained["Plan"]))

        async with self.pool.acquire() as conn:
            await conn.execute("LOAD 'auto_explain'")
            await conn.execute(
                """SET enable_seqscan = off; SET auto_explain.log_min_duration = 0;
                   SET auto_explain.log_nested_statements = on;
                   SET auto_explain.log_format = json; SET auto_explain.log_level = notice"""
            )
            if generic:
                await conn.execute("SET plan_cache_mode = force_generic_plan")
            conn.add_log_listener(heard)
            conn.add_query_logger(logged)
            try:
                async with conn.transaction():
                    await call(conn)
                    raise _RolledBackError
            except _RolledBackError:
                pass
            finally:
                conn.remove_query_logger(logged)
                conn.remove_log_listener(heard)
                await conn.execute("RESET ALL")
        # The statements the call sent are explain()'s to check; these are the nested ones.
        return [p for p in plans if p.sql not in sent]

    async def explain_worker(self, call: Callable[[], Awaitable[Any]]) -> list[Plan]:
        self.plans.clear()
        await call()
        return list(self.plans)


def assert_served(plans: list[Plan], *expected: str) -> None:
    """Every statement ran on indexes, and each expected one serves at least one of them.
    An expected entry "a|b" accepts either index."""
    assert plans, "the call ran no statement"
    for plan in plans:
        assert not plan.seq_scans(), f"sequential scan of {plan.seq_scans()} in:\n{plan.sql}"
    used = set().union(*(p.indexes() for p in plans))
    for choice in expected:
        assert used & set(choice.split("|")), f"{choice} not used (used: {sorted(used)})"


async def migrated(dsn: str, service: str) -> asyncpg.Pool:
    pool = await db.create_pool(dsn)
    async with pool.acquire() as conn:
        await db.migrate(conn, "services.common", f"services.{service}")
    return pool


def uid() -> str:
    return str(uuid.uuid4())


def _payment() -> Payment:
    """A payment to open (payments.open_payment)."""
    order = CheckoutOrder(
        enrollment_id=uid(),
        learner_id="alice",
        learner_email="alice@example.com",
        provider_id=uid(),
        amount=Money(4900, "USD"),
        description="Course",
        success_url="http://127.0.0.1/ok",
        cancel_url="http://127.0.0.1/cancel",
    )
    return Payment.open(order, gateway="local", ttl_seconds=60)


PAGE_2 = (datetime(2030, 1, 1, tzinfo=UTC), "00000000-0000-0000-0000-000000000000")
LEASE = datetime(2030, 1, 1, tzinfo=UTC)  # a relay claim's lease (claimed_until)


async def test_common_outbox_inbox_and_prune_queries_use_indexes(fresh_database: str) -> None:
    pool = await migrated(fresh_database, "payments")
    try:
        x = ExplainingPool(pool)

        async def run(sql: str, *args: Any) -> Callable[[Any], Awaitable[Any]]:
            return lambda conn: conn.fetch(sql, *args)

        assert_served(await x.explain(await run(relay.CLAIM_SQL, 100, 30.0)), "outbox_pending")
        assert_served(await x.explain(await run(relay.NEXT_DUE_SQL)), "outbox_pending")
        assert_served(await x.explain(await run(relay.MARK_PUBLISHED_SQL, [1, 2])), "outbox_pkey")
        assert_served(
            await x.explain(
                await run(relay.RECORD_FAILURES_SQL, [1], ["e"], 10, 1.0, 300.0, [LEASE])
            ),
            "outbox_pkey",
        )
        assert_served(await x.explain(await run(relay.RELEASE_SQL, [1], [LEASE])), "outbox_pkey")

        # The consumer sends this INSERT with its BEGIN, in one simple-protocol query.
        [inbox] = await x.explain(
            lambda conn: conn.execute(inbox_sql("planner", uid(), "upskill.t.v1.T"))
        )
        # ON CONFLICT without a target checks every unique index: there is exactly one.
        assert inbox.tree["Conflict Resolution"] == "NOTHING"
        async with pool.acquire() as conn:
            unique = await conn.fetch(
                """SELECT indexrelid::regclass::text AS name FROM pg_index
                    WHERE indrelid = 'processed_events'::regclass AND indisunique"""
            )
        assert [r["name"] for r in unique] == ["processed_events_pkey"]

        pruner = Pruner(x, 1, common_jobs(RetentionSettings()))
        plans = await x.explain_worker(pruner.prune_once)
        assert_served(plans[:1], "outbox_published", "outbox_pkey")
        assert_served(plans[1:], "processed_events_age", "processed_events_pkey")
    finally:
        await pool.close()


async def test_payments_queries_use_indexes(fresh_database: str) -> None:
    pool = await migrated(fresh_database, "payments")
    try:
        x = ExplainingPool(pool)
        assert_served(await x.explain(lambda c: payments.get(c, uid())), "payments_pkey")
        assert_served(
            await x.explain(lambda c: payments.find_by_session(c, "cs_test_1", for_update=True)),
            "payments_checkout_session_id_key",
        )
        # The expiry sweep, every few seconds (finding 14).
        assert_served(
            await x.explain(lambda c: payments.lock_unopened_past_expiry(c, 100)),
            "payments_unopened_expiry",
        )
        gateway = LocalGateway(x, "http://127.0.0.1")
        assert_served(await x.explain_worker(gateway.expire_due), "local_checkout_sessions_open")
        assert_served(
            await x.explain(lambda c: payments.record_webhook_event(c, "evt_1", "t", {})),
            "webhook_events_pkey",
        )
        # The claim of an event with the lock of the payment its metadata names.
        assert_served(
            await x.explain(lambda c: payments.claim_webhook_event(c, "evt_2", "t", {}, uid())),
            "webhook_events_pkey",
            "payments_pkey",
        )
        worker = WebhookDeliveryWorker(x, "", "http://127.0.0.1/", "whsec")
        assert_served(
            await x.explain_worker(lambda: worker.deliver_due(None)),  # type: ignore[arg-type]
            "local_webhook_deliveries_due",
        )
        assert_served(
            await x.explain_worker(worker._seconds_until_next_due),
            "local_webhook_deliveries_due",
        )
        # Closed enrollments and refunds (invariant 7): the closer's and refunder's sweeps
        # run every half second; the rest are per-event lookups.
        assert_served(
            await x.explain(lambda c: payments.find_by_enrollment(c, uid(), for_update=True)),
            "payments_enrollment_id_key",
        )
        assert_served(
            await x.explain(lambda c: payments.open_payment(c, _payment(), 100)),
            "payout_accounts_pkey",
            "closed_enrollments_pkey",
            "payments_enrollment_id_key",
        )
        assert_served(
            await x.explain(lambda c: payments.claim_due_closures(c, 50, 30.0)),
            "closed_enrollments_due",
        )
        assert_served(
            await x.explain(lambda c: payments.claim_due_refunds(c, 50, 30.0)), "refunds_due"
        )
        assert_served(
            await x.explain(lambda c: payments.get_refund(c, uid(), for_update=True)),
            "refunds_pkey",
        )
        everything = payments.RefundFilter()
        assert_served(
            await x.explain(
                lambda c: payments.list_refunds(
                    c, everything, Page(payments.REFUNDS, PAGE_2, 20, "")
                )
            ),
            "refunds_newest",
        )
        pruner = Pruner(x, 1, PaymentsRetention().jobs())
        nulled, deleted, delivered = await x.explain_worker(pruner.prune_once)
        assert_served([nulled], "webhook_events_payload_age", "webhook_events_pkey")
        assert_served([deleted], "webhook_events_blank_age", "payment_anomalies_event")
        assert_served(
            [delivered], "local_webhook_deliveries_delivered", "local_webhook_deliveries_pkey"
        )
    finally:
        await pool.close()


async def test_enrollment_queries_use_indexes(fresh_database: str) -> None:
    pool = await migrated(fresh_database, "enrollment")
    try:
        x = ExplainingPool(pool)
        learner, program, provider = "learner-1", uid(), uid()
        assert_served(await x.explain(lambda c: enrollments.get(c, uid())), "enrollments_pkey")

        def keyed_and_live(key: str) -> Callable[[Any], Awaitable[Any]]:
            return lambda c: enrollments.find_keyed_and_live(c, learner, key, program)

        for key in ("key-1", ""):
            assert_served(
                await x.explain(keyed_and_live(key)),
                "enrollments_one_live|enrollments_idempotency|enrollments_learner",
            )
        assert_served(
            await x.explain(lambda c: enrollments.find_live(c, learner, program)),
            "enrollments_one_live|enrollments_program_seats",
        )

        # The seat lock and check run in lock_and_count_seats (migrations 0310, 0600). A
        # program's first counted check counts its seats once (count_seats) from indexes,
        # in the plan for the values and in the generic plan every later call of a session
        # runs. (explain_nested rolls back, so each of these is a first check.) Without a
        # capacity it only forgets a kept number (0700), by the program's key: the insert's
        # trigger takes the program's row.
        def reserve(capacity: int | None) -> Callable[[Any], Awaitable[None]]:
            return lambda c: enrollments.reserve_seat(c, program, capacity)

        assert_served(await x.explain_nested(reserve(None)), "program_seats_pkey")
        assert_served(
            await x.explain_nested(reserve(10)),
            "program_seats_pkey",
            "enrollments_program_seats|enrollments_one_live",
        )
        generic = await x.explain_nested(reserve(10), generic=True)
        assert not [t for p in generic for t in p.seq_scans()], generic
        used = {i for p in generic for i in p.indexes()}
        assert {"program_seats_pkey", "seat_packs_program_live"} <= used, sorted(used)
        bought = Enrollment.open(
            learner_id=learner,
            learner_email="",
            program_id=program,
            provider_id=provider,
            price=Price(100, "USD"),
            snapshot=b"",
        )
        # Once the number is kept (a first check committed), the check and the purchase
        # (the seat check, the insert, its trigger's update of the number) read the
        # program's seat row alone, by its key: no enrollment and no pack, whatever the
        # program's size.
        async with pool.acquire() as conn, conn.transaction():
            await enrollments.reserve_seat(conn, program, 10)
        for generic_plan in (False, True):
            nested = await x.explain_nested(reserve(10), generic=generic_plan)
            assert_served(nested, "program_seats_pkey")
            assert {r for p in nested for r in p.relations()} == {"program_seats"}, nested
            nested = await x.explain_nested(
                lambda c: enrollment_uow.take_seat(c, bought, 10), generic=generic_plan
            )
            assert_served(nested, "program_seats_pkey")
            assert {r for p in nested for r in p.relations()} == {"program_seats"}, nested
        # The insert that calls it: no scan of its own.
        assert_served(await x.explain(lambda c: enrollment_uow.take_seat(c, bought, 10)))

        def listing(after: Cursor | None = None, **scope: Any) -> Callable[[Any], Awaitable[Any]]:
            owner = OwnerScope(
                **({"learner_id": None, "provider_id": None, "program_id": ""} | scope)
            )
            page = Page(enrollments.LISTING, after, 20, "")
            return lambda c: enrollments.list_for(c, owner, page)

        assert_served(await x.explain(listing(learner_id=learner)), "enrollments_learner")
        assert_served(
            await x.explain(listing(learner_id=learner, after=PAGE_2)), "enrollments_learner"
        )
        assert_served(await x.explain(listing(provider_id=provider)), "enrollments_provider")
        assert_served(await x.explain(listing(program_id=program)), "enrollments_program")
        assert_served(
            await x.explain(listing(provider_id=provider, program_id=program, after=PAGE_2)),
            "enrollments_program|enrollments_provider",
        )
        assert_served(
            await x.explain(listing(learner_id=learner, program_id=program)),
            "enrollments_learner|enrollments_program|enrollments_one_live",
        )
    finally:
        await pool.close()


async def test_employer_queries_use_indexes(fresh_database: str) -> None:
    pool = await migrated(fresh_database, "enrollment")
    try:
        x = ExplainingPool(pool)
        employer, pack, learner = uid(), uid(), "learner-1"
        me = Principal(subject=learner, role=Role.LEARNER, token="", email="l@example.com")
        scope = employers.PackScope(employer, pack)
        for after in (None, PAGE_2):
            mine = Page(employers.EMPLOYERS, after, 20, "")
            packs = Page(employers.SEAT_PACKS, after, 20, "")
            invitations = Page(employers.SEAT_INVITATIONS, after, 20, "")

            async def my_employers(c: Any, p: Page = mine) -> Any:
                return await employers.list_employers(c, employers.MemberScope("s"), p)

            async def its_packs(c: Any, p: Page = packs) -> Any:
                return await employers.list_packs(c, employers.EmployerScope(employer), p)

            async def its_invitations(c: Any, p: Page = invitations) -> Any:
                return await employers.list_invitations(c, scope, p)

            assert_served(await x.explain(my_employers), "employer_members_subject")
            assert_served(await x.explain(its_packs), "seat_packs_employer")
            assert_served(await x.explain(its_invitations), "seat_invitations_pack_listing")
        for one in (None, learner):

            async def seen(c: Any, o: str | None = one) -> Any:
                return await employers.seen_by(c, employer, o)

            assert_served(
                await x.explain(seen),
                "seat_packs_employer",
                "enrollments_seat_pack",
                "employer_credential_shares_pkey|employer_credential_shares_learner",
                "revoked_credentials_pkey",
            )
        assert_served(
            await x.explain(lambda c: employers.sponsors(c, employer, learner)),
            "enrollments_learner|enrollments_seat_pack",
        )
        assert_served(
            await x.explain(lambda c: employers.sponsors_of(c, learner)), "enrollments_learner"
        )
        assert_served(
            await x.explain(lambda c: employers.own_credentials(c, learner)),
            "enrollments_learner",
            "revoked_credentials_pkey",
        )
        assert_served(
            await x.explain(lambda c: employers.shared_enrollments(c, learner)),
            "employer_credential_shares_learner",
        )
        assert_served(
            await x.explain(lambda c: employers.unshare_credential(c, me, employer, uid())),
            "employer_credential_shares_pkey",
        )
    finally:
        await pool.close()


async def test_credentials_queries_use_indexes(fresh_database: str) -> None:
    pool = await migrated(fresh_database, "credentials")
    try:
        x = ExplainingPool(pool)
        assert_served(await x.explain(lambda c: credentials.get(c, uid())), "credentials_pkey")
        async with pool.acquire() as conn:
            await conn.execute(
                """INSERT INTO status_lists (id, size, capacity, provider_id, issuer_name)
                   VALUES ('revocation-1', 16, 8, gen_random_uuid(), 'p')"""
            )
            opened = await conn.fetchval(
                """INSERT INTO status_lists (id, size, capacity, provider_id, issuer_name)
                   VALUES ('revocation-2', $1, $1 / 2, gen_random_uuid(), 'p')
                   RETURNING provider_id::text""",
                MIN_BITS,
            )
        # Every issuance: its state, the allocation and its draws, the signer, at once.
        assert_served(
            await x.explain(
                lambda c: credentials.prepare_issuance(c, uid(), opened, ["k"], gate_lock=1)
            ),
            "credentials_enrollment_id_key",
            "withdrawn_enrollments_pkey",
            "status_lists_open",
            "credentials_status_list_id_status_index_key",
            "issuer_keys_pkey",
        )
        assert_served(
            await x.explain(lambda c: credentials.status_list(c, "revocation-1")),
            "status_lists_pkey",
            "credentials_status_list_id_status_index_key",
        )
        assert_served(
            await x.explain(lambda c: credentials.is_revoked(c, "revocation-1", 3)),
            "credentials_status_list_id_status_index_key",
        )
        # Every issuance draws a random status index in the provider's open list.
        assert_served(
            await x.explain(lambda c: credentials.allocate_status_index(c, uid(), "p")),
            "status_lists_open",
        )

        def listing(after: Cursor | None = None, **scope: Any) -> Callable[[Any], Awaitable[Any]]:
            owner = OwnerScope(
                **({"learner_id": None, "provider_id": None, "program_id": ""} | scope)
            )
            page = Page(credentials.LISTING, after, 20, "")
            return lambda c: credentials.list_for(c, owner, page)

        program, provider = uid(), uid()
        assert_served(await x.explain(listing(learner_id="l-1")), "credentials_learner")
        assert_served(
            await x.explain(listing(learner_id="l-1", after=PAGE_2)), "credentials_learner"
        )
        assert_served(await x.explain(listing(provider_id=provider)), "credentials_provider")
        # Filtered by program (finding 14): alone, and within a provider's scope.
        assert_served(await x.explain(listing(program_id=program)), "credentials_program")
        assert_served(
            await x.explain(listing(provider_id=provider, program_id=program, after=PAGE_2)),
            "credentials_program|credentials_provider",
        )
    finally:
        await pool.close()


async def test_catalog_queries_use_indexes(fresh_database: str) -> None:
    pool = await migrated(fresh_database, "catalog")
    try:
        async with pool.acquire() as conn:
            # Enough published programs that a selective filter beats walking the listing.
            provider = uid()
            await conn.execute("INSERT INTO providers (id, name) VALUES ($1, 'p')", provider)
            await conn.execute(
                """INSERT INTO programs (id, provider_id, title, skills, price_minor, currency,
                                         credential, status)
                   SELECT gen_random_uuid(), $1, 'program ' || n, ARRAY['skill' || (n % 500)],
                          n, 'EUR', $2, 'PUBLISHED'
                     FROM generate_series(1, 5000) AS n""",
                provider,
                json.dumps(
                    {"name": "c", "description": "d", "criteria": "k", "issuance": "ON_COMPLETION"}
                ),
            )
            await conn.execute("ANALYZE programs")
            # A lexicon of a real catalogue's size (tens of thousands of words).
            await conn.execute(
                """INSERT INTO search_lexicon (word)
                   SELECT substr(md5(n::text), 1, 4 + n % 8) FROM generate_series(1, 30000) n
                   ON CONFLICT DO NOTHING"""
            )
            await conn.execute("ANALYZE search_lexicon")
        x = ExplainingPool(pool)
        assert_served(
            await x.explain(lambda c: catalog.get_program(c, uid())),
            "programs_pkey",
            "providers_pkey",
        )

        def listing(**filters: Any) -> Callable[[Any], Awaitable[Any]]:
            page = Page(catalog.PUBLISHED, None, 20, "")
            return lambda c: catalog.list_programs(c, catalog.CatalogFilter(**filters), page)

        assert_served(await x.explain(listing()), "programs_listing")
        # Page 2 and later (finding 1): the keyset condition on the qualified columns.
        assert_served(
            await x.explain(
                lambda c: catalog.list_programs(
                    c, catalog.CatalogFilter(), Page(catalog.PUBLISHED, PAGE_2, 20, "")
                )
            ),
            "programs_listing",
        )
        assert_served(
            await x.explain(listing(provider_id=provider)), "programs_listing|programs_by_provider"
        )
        assert_served(await x.explain(listing(query="unheardof")), "programs_search")
        # A word with a typo: corrected on the lexicon's trigram index, then full text.
        assert_served(
            await x.explain(
                lambda c: catalog.list_programs(
                    c,
                    catalog.CatalogFilter(query="Kubernets"),
                    Page(catalog.TYPO_TOLERANT, None, 20, ""),
                    typos=True,
                )
            ),
            "search_lexicon_trgm",
            "programs_search",
        )
        # A word every program has: the newest-first walk finds the page at once.
        assert_served(await x.explain(listing(query="program")), "programs_listing")
        # The studio: one provider's programs, drafts included, page 2.
        assert_served(
            await x.explain(
                lambda c: catalog.list_programs(
                    c,
                    catalog.CatalogFilter(provider_id=provider, include_unpublished=True),
                    Page(catalog.PROVIDER_PROGRAMS, PAGE_2, 20, ""),
                )
            ),
            "programs_by_provider",
        )
        assert_served(await x.explain(listing(skill="skill7")), "programs_skills")
        # Pathways: the storefront's (page 2), and the studio's, drafts included (page 2).
        assert_served(
            await x.explain(
                lambda c: pathway_store.list_published(
                    c, "", Page(pathway_store.PUBLISHED, PAGE_2, 20, "")
                )
            ),
            "pathways_listing",
        )
        assert_served(
            await x.explain(
                lambda c: pathway_store.list_published(
                    c,
                    provider,
                    Page(pathway_store.PROVIDER_PATHWAYS, PAGE_2, 20, ""),
                    include_unpublished=True,
                )
            ),
            "pathways_provider",
        )
        # The index-friendly form still finds exactly the programs teaching the skill.
        async with pool.acquire() as conn:
            found = await catalog.list_programs(
                conn, catalog.CatalogFilter(skill="skill7"), Page(catalog.PUBLISHED, None, 21, "")
            )
        assert sorted(p.spec.skills[0] for p in found) == ["skill7"] * 10
    finally:
        await pool.close()
