"""Opening a checkout with the local provider is one statement (issue 12): the payment is
inserted with its session attached and the session with it. The session holds what the
provider's create_session writes for the same payment, and a retried CreateCheckout gets
the same checkout back."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from asyncpg.connection import LoggedQuery

from services.payments import repository
from services.payments.checkout import CheckoutOpener, session_request
from services.payments.domain import CheckoutOrder, Money
from services.payments.local_gateway import LocalGateway
from tests.databases import migrated_pool

pytestmark = pytest.mark.asyncio(loop_scope="session")

BASE = "http://127.0.0.1:8080"

SESSION_SQL = """SELECT payment_id, enrollment_id, description, amount_minor, currency,
        customer_email, success_url, cancel_url, status, payment_status, expires_at,
        destination_account, application_fee_minor
   FROM local_checkout_sessions WHERE id = $1"""


@pytest.fixture
async def pool(fresh_database: str) -> AsyncIterator[asyncpg.Pool]:
    async with migrated_pool(fresh_database, "services.payments", max_size=10) as pool:
        yield pool


class _One:
    """A pool of one connection."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    def acquire(self) -> Any:
        conn = self.conn

        class _Held:
            async def __aenter__(self) -> asyncpg.Connection:
                return conn

            async def __aexit__(self, *exc: object) -> None:
                return None

        return _Held()


def order() -> CheckoutOrder:
    return CheckoutOrder(
        enrollment_id=str(uuid.uuid4()),
        learner_id="alice",
        learner_email="alice@example.com",
        provider_id=str(uuid.uuid4()),
        amount=Money(4900, "USD"),
        description="Course",
        success_url=f"{BASE}/ok",
        cancel_url=f"{BASE}/cancel",
    )


@pytest.mark.parametrize("payout_account", [False, True])
async def test_opening_is_one_statement_and_the_session_is_create_sessions(
    pool: asyncpg.Pool, payout_account: bool
) -> None:
    the_order = order()
    if payout_account:
        async with pool.acquire() as conn:
            await repository.add_payout_account(conn, the_order.provider_id, "acct_1", "local")
    ran: list[str] = []

    def log(query: LoggedQuery) -> None:
        ran.append(query.query)

    async with pool.acquire() as conn:
        one = _One(conn)
        opener = CheckoutOpener(
            one, LocalGateway(one, BASE), ttl_seconds=1800, public_base_url=BASE, fee_bps=1000
        )
        conn.add_query_logger(log)
        payment = await opener.open(the_order)
        await asyncio.sleep(0)  # asyncpg calls its query loggers with call_soon
        conn.remove_query_logger(log)
        assert len(ran) == 1
        assert payment.checkout_session_id.startswith("cs_test_")
        assert payment.checkout_url == f"{BASE}/checkout/{payment.checkout_session_id}"
        assert payment.destination_account == ("acct_1" if payout_account else "")
        stored = await repository.get(conn, payment.id)
        assert (stored.checkout_session_id, stored.checkout_url) == (
            payment.checkout_session_id,
            payment.checkout_url,
        )
        session = dict(await conn.fetchrow(SESSION_SQL, payment.checkout_session_id))

        # What the provider's create_session writes for the same payment (rolled back).
        transaction = conn.transaction()
        await transaction.start()
        await conn.execute(
            "DELETE FROM local_checkout_sessions WHERE id = $1", payment.checkout_session_id
        )
        created = await LocalGateway(one, BASE).create_session(session_request(payment))
        old = dict(await conn.fetchrow(SESSION_SQL, created.id))
        await transaction.rollback()
    assert session == old
    assert session["currency"] == "USD"


async def test_a_retried_open_returns_the_same_checkout(pool: asyncpg.Pool) -> None:
    opener = CheckoutOpener(pool, LocalGateway(pool, BASE), ttl_seconds=1800, public_base_url=BASE)
    the_order = order()
    first = await opener.open(the_order)
    again = await opener.open(the_order)
    assert (again.id, again.checkout_session_id, again.checkout_url) == (
        first.id,
        first.checkout_session_id,
        first.checkout_url,
    )
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM local_checkout_sessions") == 1
        assert await conn.fetchval("SELECT count(*) FROM payments") == 1
