"""Payments persistence: payments, the payouts ledger, the webhook inbox and anomalies.

A payment's events are staged with its state by services/payments/unit_of_work.py.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import asyncpg

from services.common.errors import NotFoundError
from services.common.outbox import Then
from services.common.paging import Listing, Page
from services.common.sql import Statement, Where, fetch_page, is_uuid
from services.payments.domain import (
    Dispute,
    LedgerEntry,
    Money,
    Payment,
    PaymentStatus,
    Refund,
    RefundStatus,
    SeatPackOrder,
    fee_returned,
)

_ROW_COLUMNS = """id, enrollment_id, learner_id, learner_email, provider_id, amount_minor,
    currency, description, status, gateway, checkout_session_id, checkout_url, success_url,
    cancel_url, gateway_payment_id, failure_reason, expires_at, created_at, updated_at,
    program_id, destination_account, application_fee_minor, seat_pack"""
_COLUMNS = f"""{_ROW_COLUMNS},
    (SELECT coalesce(sum(r.amount_minor), 0) FROM refunds r
      WHERE r.payment_id = payments.id AND r.status = 'SUCCEEDED') AS refunded_minor"""
# A payment locked and read in one statement (_one): the CTE locks the row (after a wait,
# its latest committed version), and only then does the outer query sum its refunds,
# through a VOLATILE function (migration 0200) whose fresh snapshot sees what the previous
# lock holder committed; a sub-select here would read the snapshot taken before the wait.
_LOCKED_SQL = f"""WITH locked AS MATERIALIZED (
        SELECT {_ROW_COLUMNS} FROM payments WHERE {{column}} = $1 FOR UPDATE)
    SELECT {_ROW_COLUMNS}, payment_refunded_minor(id) AS refunded_minor FROM locked"""


def _payment(row: Any) -> Payment:
    return Payment(
        id=str(row["id"]),
        enrollment_id=str(row["enrollment_id"]),
        learner_id=row["learner_id"],
        learner_email=row["learner_email"],
        provider_id=str(row["provider_id"]),
        amount=Money(row["amount_minor"], row["currency"]),
        description=row["description"],
        gateway=row["gateway"],
        status=PaymentStatus(row["status"]),
        checkout_session_id=row["checkout_session_id"] or "",
        checkout_url=row["checkout_url"],
        success_url=row["success_url"],
        cancel_url=row["cancel_url"],
        gateway_payment_id=row["gateway_payment_id"],
        failure_reason=row["failure_reason"],
        expires_at=row["expires_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        program_id=str(row["program_id"] or ""),
        destination_account=row["destination_account"],
        application_fee_minor=row["application_fee_minor"],
        refunded_minor=int(row["refunded_minor"]),
        seat_pack=_seat_pack(row["seat_pack"]),
    )


def _seat_pack(value: str | None) -> SeatPackOrder | None:
    if value is None:
        return None
    pack = json.loads(value)
    return SeatPackOrder(
        employer_id=pack["employer_id"],
        employer_name=pack["employer_name"],
        seats=pack["seats"],
        price_per_seat_minor=pack["price_per_seat_minor"],
    )


def _seat_pack_json(pack: SeatPackOrder | None) -> str | None:
    return None if pack is None else json.dumps(asdict(pack))


async def _one(
    conn: asyncpg.Connection, column: str, value: str, for_update: bool
) -> Payment | None:
    """The payment whose `column` is `value`. Locked: what it shows (refunded_minor above
    all) is what the transaction that held the lock committed, not the snapshot taken
    before waiting for it (see _LOCKED_SQL)."""
    if for_update:
        row = await conn.fetchrow(_LOCKED_SQL.format(column=column), value)
    else:
        row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM payments WHERE {column} = $1", value)
    return _payment(row) if row else None


async def open_payment(
    conn: asyncpg.Connection, payment: Payment, destination_fee_minor: int, session_sql: str = ""
) -> Payment | None:
    """Insert `payment` unless its enrollment is closed, in one round trip (a second one
    for a retry that finds the payment made before). `session_sql`, a data-modifying
    statement reading the CTE `added` (the payment as inserted), runs in the same one: the
    local provider's session of a payment inserted with it attached (checkout.py).

    - None when the enrollment is closed (a closed one takes no payment);
    - else `payment` as inserted: a destination charge to its provider's payout account,
      with `destination_fee_minor` as application fee, when the provider has one (`payment`
      itself names no account);
    - or the payment its enrollment already has: ON CONFLICT (not check-then-insert), so
      two concurrent retries end with one row.
    """
    row = await conn.fetchrow(
        f"""WITH facts AS (
                SELECT coalesce((SELECT account_id FROM payout_accounts
                                  WHERE provider_id = $5::uuid), '') AS account_id,
                       EXISTS (SELECT 1 FROM closed_enrollments
                                WHERE enrollment_id = $2::uuid) AS closed),
                 added AS (
                     INSERT INTO payments (id, enrollment_id, learner_id, learner_email,
                         provider_id, amount_minor, currency, description, status, gateway,
                         success_url, cancel_url, expires_at, created_at, updated_at,
                         program_id, destination_account, application_fee_minor, seat_pack,
                         checkout_session_id, checkout_url)
                     SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14,
                            NULLIF($15, '')::uuid, f.account_id,
                            CASE WHEN f.account_id = '' THEN 0 ELSE $17::bigint END, $16,
                            NULLIF($18, ''), $19
                       FROM facts f WHERE NOT f.closed
                     ON CONFLICT (enrollment_id) DO NOTHING
                     RETURNING {_COLUMNS}){f", session AS ({session_sql})" if session_sql else ""}
            SELECT f.closed, added.* FROM facts f LEFT JOIN added ON true""",
        payment.id,
        payment.enrollment_id,
        payment.learner_id,
        payment.learner_email,
        payment.provider_id,
        payment.amount.amount_minor,
        payment.amount.currency,
        payment.description,
        payment.status.value,
        payment.gateway,
        payment.success_url,
        payment.cancel_url,
        payment.expires_at,
        payment.created_at,
        payment.program_id,
        _seat_pack_json(payment.seat_pack),
        destination_fee_minor,
        payment.checkout_session_id,
        payment.checkout_url,
    )
    if row["closed"]:
        return None
    if row["id"] is None:
        row = await conn.fetchrow(
            f"SELECT {_COLUMNS} FROM payments WHERE enrollment_id = $1", payment.enrollment_id
        )
    assert row is not None
    return _payment(row)


async def attach_session(
    conn: asyncpg.Connection, payment_id: str, gateway: str, session_id: str, url: str
) -> Payment:
    """Record the gateway's checkout session on the payment: first writer wins, and only
    while the payment is still PENDING (one the expiry sweep closed meanwhile keeps no URL
    that a learner could still pay)."""
    row = await conn.fetchrow(
        f"""UPDATE payments
               SET checkout_session_id = $3, checkout_url = $4, gateway = $2, updated_at = now()
             WHERE id = $1 AND checkout_session_id IS NULL AND status = 'PENDING'
            RETURNING {_COLUMNS}""",
        payment_id,
        gateway,
        session_id,
        url,
    )
    if row is None:  # a concurrent retry attached the same session first, or it closed
        return await get(conn, payment_id)
    return _payment(row)


async def get(conn: asyncpg.Connection, payment_id: str, *, for_update: bool = False) -> Payment:
    found = await find(conn, payment_id, for_update=for_update)
    if found is None:
        raise NotFoundError(f"payment {payment_id} not found")
    return found


async def find(
    conn: asyncpg.Connection, payment_id: str, *, for_update: bool = False
) -> Payment | None:
    if not is_uuid(payment_id):
        return None
    return await _one(conn, "id", payment_id, for_update)


async def find_by_session(
    conn: asyncpg.Connection, session_id: str, *, for_update: bool = False
) -> Payment | None:
    return await _one(conn, "checkout_session_id", session_id, for_update)


async def lock_unopened_past_expiry(conn: asyncpg.Connection, limit: int) -> list[Payment]:
    """PENDING payments whose checkout was never opened and whose time is up, locked."""
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM payments
             WHERE status = 'PENDING' AND checkout_session_id IS NULL AND expires_at <= now()
             ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED""",
        limit,
    )
    return [_payment(row) for row in rows]


def save(payment: Payment, *, claimed: bool = False) -> Statement:
    """The UPDATE that writes the payment's new state (a row back: it did). The unit of work
    (services/payments/unit_of_work.py) runs it with the outbox rows of the payment's
    events, as one statement: a payment that still holds events here was saved past it,
    and they would be lost. `claimed`: only if the CTE `claim` (claimed_charge) has a row."""
    if payment.events:
        raise RuntimeError("save a payment that raised events through unit_of_work.commit")
    only = " AND EXISTS (SELECT FROM claim)" if claimed else ""
    return Statement(
        f"""UPDATE payments
              SET status = $2, checkout_session_id = NULLIF($3, ''), gateway_payment_id = $4,
                  failure_reason = $5, updated_at = $6
            WHERE id = $1{only}
           RETURNING true""",
        (
            payment.id,
            payment.status.value,
            payment.checkout_session_id,
            payment.gateway_payment_id,
            payment.failure_reason,
            payment.updated_at,
        ),
    )


# A charge in the ledger ($1 = payment id), and the events about a payment that were
# deferred until it succeeded (payment id $1), oldest first.
_ADD_CHARGE_SQL = """INSERT INTO payout_ledger (payment_id, provider_id, kind, currency,
        gross_amount_minor, platform_fee_minor, provider_net_minor, fee_bps)
    VALUES ($1, $2, 'charge', $3, $4, $5, $6, $7)"""
_DEFERRED_SQL = """SELECT payload FROM webhook_events
     WHERE payment_id = $1 AND outcome LIKE 'deferred%' AND payload IS NOT NULL
     ORDER BY received_at, event_id"""


def _charge_args(entry: LedgerEntry) -> tuple[Any, ...]:
    return (
        entry.payment_id,
        entry.provider_id,
        entry.currency,
        entry.gross_minor,
        entry.fee_minor,
        entry.net_minor,
        entry.fee_bps,
    )


async def add_ledger_entry(conn: asyncpg.Connection, entry: LedgerEntry) -> None:
    await conn.execute(_ADD_CHARGE_SQL, *_charge_args(entry))


# A success's charge in the ledger, written only when the save wrote (`saved` has its row);
# its parameters are _charge_args(entry), $1-$7.
_BOOKED_CTE = """booked AS (
                 INSERT INTO payout_ledger (payment_id, provider_id, kind, currency,
                     gross_amount_minor, platform_fee_minor, provider_net_minor, fee_bps)
                 SELECT $1::uuid, $2::uuid, 'charge', $3::text, $4::bigint, $5::bigint,
                        $6::bigint, $7::integer
                  WHERE EXISTS (SELECT 1 FROM saved))"""


def charge_booking(entry: LedgerEntry, outcome: WebhookOutcome) -> Then:
    """What a payment's success writes and then reads, as the rest of its save statement
    (unit_of_work.commit_charge): its charge in the ledger and the outcome of the event that
    succeeded it, written only when the save wrote (`saved` has its row), and the events
    deferred until it succeeded, read as the transaction had them before the statement (so
    the outcome written here is not among them)."""
    return Then(
        ctes=_BOOKED_CTE
        + """,
             recorded AS (
                 UPDATE webhook_events SET outcome = $9, payment_id = $1::uuid
                  WHERE event_id = $8 AND EXISTS (SELECT 1 FROM saved))""",
        select=_DEFERRED_SQL,
        args=(*_charge_args(entry), outcome.event_id, outcome.outcome),
    )


@dataclass(frozen=True)
class WebhookClaim:
    """A gateway event to claim with the save it causes (claimed_charge), and its outcome."""

    event_id: str
    event_type: str
    payload: dict[str, Any]
    outcome: str


def claimed_charge(entry: LedgerEntry, claim: WebhookClaim, session_id: str, gateway: str) -> Then:
    """What a checkout's success writes with its save, when nothing was read under a lock
    before (WebhookHandler._succeed_at_once), as one statement run on its own: lock the
    payment, only if it is still what the success was decided on (PENDING, with checkout
    session `session_id` ('' for none yet) and `gateway`: what succeed() reads that may
    change); then, if no event waits for its success (payment_has_deferred: a fresh
    snapshot, after the lock), claim the event with its final outcome; the save (save(...,
    claimed=True)), its outbox rows and its ledger charge only if the claim inserted.

    So it writes all of that or nothing: nothing when the payment changed, when events are
    deferred (those are applied in the locked transaction), or when the event is a
    duplicate (the event id's primary key decides; a concurrent claim is waited for)."""
    return Then(
        first="""ready AS MATERIALIZED (
                 SELECT id FROM payments
                  WHERE id = $1::uuid AND status = 'PENDING'
                    AND coalesce(checkout_session_id, '') = $8 AND gateway = $9
                  FOR UPDATE),
             claim AS (
                 INSERT INTO webhook_events (event_id, event_type, outcome, payload, payment_id)
                 SELECT $10, $11, $12, $13::jsonb, r.id FROM ready r
                  WHERE NOT payment_has_deferred(r.id)
                 ON CONFLICT (event_id) DO NOTHING
                 RETURNING true)""",
        ctes=_BOOKED_CTE,
        select="SELECT true AS booked",
        args=(
            *_charge_args(entry),
            session_id,
            gateway,
            claim.event_id,
            claim.event_type,
            claim.outcome,
            json.dumps(claim.payload),
        ),
    )


async def peek_webhook_event(
    conn: asyncpg.Connection, event_id: str, payment_id: str
) -> tuple[bool, Payment | None]:
    """Whether event `event_id` was claimed before (committed), and the payment with id
    `payment_id` (None: none), unlocked, in one round trip: what a success is decided on
    before claimed_charge writes it, under its own checks."""
    row = await conn.fetchrow(
        f"""SELECT EXISTS (SELECT FROM webhook_events WHERE event_id = $1) AS seen, p.*
              FROM (SELECT 1) one
              LEFT JOIN (SELECT {_COLUMNS} FROM payments WHERE id = $2::uuid) p ON true""",
        event_id,
        payment_id if is_uuid(payment_id) else None,
    )
    return bool(row["seen"]), (_payment(row) if row["id"] is not None else None)


def deferred_payloads(rows: list[asyncpg.Record]) -> list[dict[str, Any]]:
    return [json.loads(r["payload"]) for r in rows]


_CLAIM_SQL = """INSERT INTO webhook_events (event_id, event_type, outcome, payload)
    VALUES ($1, $2, 'received', $3::jsonb)
    ON CONFLICT (event_id) DO NOTHING
    RETURNING true"""


async def record_webhook_event(
    conn: asyncpg.Connection, event_id: str, event_type: str, payload: dict[str, Any]
) -> bool:
    """Claim a gateway event id for this transaction; False when it was handled before.

    The primary key decides, so two concurrent deliveries of one event apply it once: the
    second insert waits for the first transaction and then finds the row.
    """
    inserted = await conn.fetchval(
        _CLAIM_SQL,
        event_id,
        event_type,
        json.dumps(payload),
    )
    return bool(inserted)


@dataclass(frozen=True)
class WebhookOutcome:
    """What became of a claimed event (the payment is the one that charge_booking books)."""

    event_id: str
    outcome: str


async def set_webhook_outcome(
    conn: asyncpg.Connection, event_id: str, outcome: str, payment_id: str | None
) -> None:
    await conn.execute(
        "UPDATE webhook_events SET outcome = $2, payment_id = $3 WHERE event_id = $1",
        event_id,
        outcome,
        payment_id,
    )


async def claim_webhook_event(
    conn: asyncpg.Connection,
    event_id: str,
    event_type: str,
    payload: dict[str, Any],
    payment_id: str,
) -> tuple[bool, Payment | None]:
    """record_webhook_event, and when it claims the event, find(payment_id, for_update=True)
    in the same round trip: (False, None) for a duplicate, else (True, the payment locked,
    or None when there is no such payment).

    The lock reads the claim's result, so the claim is always taken first (the order of
    record_webhook_event then find, and a duplicate locks nothing); the refunds are summed
    after the lock, with a fresh snapshot (see _LOCKED_SQL)."""
    row = await conn.fetchrow(
        f"""WITH claim AS ({_CLAIM_SQL}),
                 locked AS MATERIALIZED (
                     SELECT {_ROW_COLUMNS} FROM payments
                      WHERE id = $4::uuid AND EXISTS (SELECT FROM claim) FOR UPDATE)
            SELECT c.claimed, locked.*,
                   payment_refunded_minor(locked.id) AS refunded_minor
              FROM (SELECT EXISTS (SELECT FROM claim) AS claimed) c LEFT JOIN locked ON true""",
        event_id,
        event_type,
        json.dumps(payload),
        payment_id if is_uuid(payment_id) else None,
    )
    if not row["claimed"]:
        return False, None
    return True, (_payment(row) if row["id"] is not None else None)


async def add_anomaly(
    conn: asyncpg.Connection, *, payment_id: str | None, event_id: str, kind: str, detail: str
) -> None:
    await conn.execute(
        """INSERT INTO payment_anomalies (payment_id, event_id, kind, detail)
           VALUES ($1, $2, $3, $4)""",
        payment_id,
        event_id,
        kind,
        detail,
    )


async def find_by_enrollment(
    conn: asyncpg.Connection, enrollment_id: str, *, for_update: bool = False
) -> Payment | None:
    return await _one(conn, "enrollment_id", enrollment_id, for_update)


# ------------------------------------------------------------------ closed enrollments


@dataclass(frozen=True)
class Closure:
    enrollment_id: str
    reason: str
    attempts: int


async def record_closed_enrollment(
    conn: asyncpg.Connection, enrollment_id: str, reason: str
) -> bool:
    """Remember that the enrollment closed; False when it was known already."""
    inserted = await conn.fetchval(
        """INSERT INTO closed_enrollments (enrollment_id, reason) VALUES ($1, $2)
           ON CONFLICT (enrollment_id) DO NOTHING RETURNING true""",
        enrollment_id,
        reason,
    )
    return bool(inserted)


async def claim_due_closures(
    conn: asyncpg.Connection, limit: int, lease_seconds: float
) -> list[Closure]:
    """Closed enrollments whose checkout may still be open, leased to this worker (no
    transaction is held while the gateway is called; a dead worker's lease runs out)."""
    rows = await conn.fetch(
        """UPDATE closed_enrollments
              SET attempts = attempts + 1,
                  next_attempt_at = now() + make_interval(secs => $2)
            WHERE enrollment_id IN (
                SELECT enrollment_id FROM closed_enrollments
                 WHERE settled_at IS NULL AND next_attempt_at <= now()
                 ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED)
           RETURNING enrollment_id, reason, attempts""",
        limit,
        lease_seconds,
    )
    return [Closure(str(r["enrollment_id"]), r["reason"], r["attempts"]) for r in rows]


async def settle_closure(conn: asyncpg.Connection, enrollment_id: str) -> None:
    await conn.execute(
        "UPDATE closed_enrollments SET settled_at = now(), last_error = '' WHERE enrollment_id = $1",
        enrollment_id,
    )


async def retry_closure(
    conn: asyncpg.Connection, enrollment_id: str, error: str, delay_seconds: float
) -> None:
    await conn.execute(
        """UPDATE closed_enrollments
              SET last_error = $2, next_attempt_at = now() + make_interval(secs => $3)
            WHERE enrollment_id = $1""",
        enrollment_id,
        error[:2000],
        delay_seconds,
    )


# ------------------------------------------------------------------ refunds

_REFUND_COLUMNS = """r.id, r.payment_id, r.idempotency_key, r.amount_minor, r.currency, r.reason,
    r.full_refund, r.status, r.gateway, r.gateway_refund_id, r.attempts, r.last_error,
    r.created_at, r.completed_at, r.note, p.enrollment_id, p.learner_id, p.provider_id"""


def _refund(row: Any) -> Refund:
    return Refund(
        id=str(row["id"]),
        payment_id=str(row["payment_id"]),
        idempotency_key=row["idempotency_key"],
        amount=Money(row["amount_minor"], row["currency"]),
        reason=row["reason"],
        full_refund=row["full_refund"],
        gateway=row["gateway"],
        status=RefundStatus(row["status"]),
        gateway_refund_id=row["gateway_refund_id"],
        attempts=row["attempts"],
        last_error=row["last_error"],
        created_at=row["created_at"],
        completed_at=row["completed_at"],
        enrollment_id=str(row["enrollment_id"]),
        learner_id=row["learner_id"],
        provider_id=str(row["provider_id"]),
        note=row["note"],
    )


async def add_refund(conn: asyncpg.Connection, refund: Refund) -> bool:
    """Record a refund to make; False when one with its idempotency key exists already."""
    inserted = await conn.fetchval(
        """INSERT INTO refunds (id, payment_id, idempotency_key, amount_minor, currency, reason,
               full_refund, status, gateway, created_at, note, gateway_refund_id, completed_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
           ON CONFLICT (idempotency_key) DO NOTHING RETURNING true""",
        refund.id,
        refund.payment_id,
        refund.idempotency_key,
        refund.amount.amount_minor,
        refund.amount.currency,
        refund.reason,
        refund.full_refund,
        refund.status.value,
        refund.gateway,
        refund.created_at,
        refund.note,
        refund.gateway_refund_id,
        refund.completed_at,
    )
    return bool(inserted)


async def find_refund_by_key(conn: asyncpg.Connection, idempotency_key: str) -> Refund | None:
    row = await conn.fetchrow(
        f"""SELECT {_REFUND_COLUMNS} FROM refunds r JOIN payments p ON p.id = r.payment_id
             WHERE r.idempotency_key = $1""",
        idempotency_key,
    )
    return _refund(row) if row else None


async def refunds_of(conn: asyncpg.Connection, payment_id: str) -> list[Refund]:
    """Every refund of a payment, oldest first."""
    rows = await conn.fetch(
        f"""SELECT {_REFUND_COLUMNS} FROM refunds r JOIN payments p ON p.id = r.payment_id
             WHERE r.payment_id = $1 ORDER BY r.created_at, r.id""",
        payment_id,
    )
    return [_refund(r) for r in rows]


async def claim_due_refunds(
    conn: asyncpg.Connection, limit: int, lease_seconds: float
) -> list[Refund]:
    """PENDING refunds that are due, leased to this worker (see claim_due_closures)."""
    rows = await conn.fetch(
        f"""WITH claimed AS (
                UPDATE refunds
                   SET attempts = attempts + 1,
                       next_attempt_at = now() + make_interval(secs => $2)
                 WHERE id IN (
                     SELECT id FROM refunds
                      WHERE status = 'PENDING' AND next_attempt_at <= now()
                      ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED)
                RETURNING *)
            SELECT {_REFUND_COLUMNS} FROM claimed r JOIN payments p ON p.id = r.payment_id""",
        limit,
        lease_seconds,
    )
    return [_refund(r) for r in rows]


async def get_refund(
    conn: asyncpg.Connection, refund_id: str, *, for_update: bool = False
) -> Refund:
    lock = " FOR UPDATE OF r" if for_update else ""
    row = await conn.fetchrow(
        f"""SELECT {_REFUND_COLUMNS} FROM refunds r JOIN payments p ON p.id = r.payment_id
             WHERE r.id = $1{lock}""",
        refund_id,
    )
    if row is None:
        raise NotFoundError(f"refund {refund_id} not found")
    return _refund(row)


async def save_refund(conn: asyncpg.Connection, refund: Refund) -> None:
    await conn.execute(
        """UPDATE refunds SET status = $2, gateway_refund_id = $3, last_error = $4,
               completed_at = $5, full_refund = $6
           WHERE id = $1""",
        refund.id,
        refund.status.value,
        refund.gateway_refund_id,
        refund.last_error[:2000],
        refund.completed_at,
        refund.full_refund,
    )


async def retry_refund(
    conn: asyncpg.Connection, refund_id: str, error: str, delay_seconds: float
) -> None:
    await conn.execute(
        """UPDATE refunds SET last_error = $2, next_attempt_at = now() + make_interval(secs => $3)
            WHERE id = $1 AND status = 'PENDING'""",
        refund_id,
        error[:2000],
        delay_seconds,
    )


async def add_refund_ledger_line(
    conn: asyncpg.Connection, refund: Refund, kind: str = "refund"
) -> None:
    """Book a refund (or a lost dispute) as a line that reverses its share of the payment's
    charge line: the platform gives back its fee in proportion (fee_returned), so refunds
    that add up to the whole charge reverse it exactly."""
    charge = await conn.fetchrow(
        """SELECT provider_id, currency, gross_amount_minor, platform_fee_minor, fee_bps
             FROM payout_ledger WHERE payment_id = $1 AND kind = 'charge'""",
        refund.payment_id,
    )
    if charge is None:
        raise ValueError(f"payment {refund.payment_id} has no charge line to reverse")
    before = await conn.fetchval(
        """SELECT coalesce(-sum(gross_amount_minor), 0) FROM payout_ledger
            WHERE payment_id = $1 AND kind <> 'charge'""",
        refund.payment_id,
    )
    amount = refund.amount.amount_minor
    fee = fee_returned(charge["gross_amount_minor"], charge["platform_fee_minor"], before, amount)
    await conn.execute(
        """INSERT INTO payout_ledger (payment_id, provider_id, kind, currency, gross_amount_minor,
               platform_fee_minor, provider_net_minor, fee_bps, refund_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)""",
        refund.payment_id,
        charge["provider_id"],
        kind,
        charge["currency"],
        -amount,
        -fee,
        -(amount - fee),
        charge["fee_bps"],
        refund.id,
    )


REFUNDS = Listing("refunds", table="r")


@dataclass(frozen=True)
class RefundFilter:
    """The filters of the operators' refund listing (also what its page tokens bind to)."""

    enrollment_id: str = ""


async def list_refunds(conn: asyncpg.Connection, filters: RefundFilter, page: Page) -> list[Refund]:
    """Newest first, one page of the shared keyset listing."""
    where = Where()
    if filters.enrollment_id:
        where.add("p.enrollment_id = {}::uuid", filters.enrollment_id)
    rows = await fetch_page(
        conn,
        f"SELECT {_REFUND_COLUMNS} FROM refunds r JOIN payments p ON p.id = r.payment_id",
        where,
        page,
    )
    return [_refund(r) for r in rows]


# ------------------------------------------------------------------ refunds from every source


async def find_by_payment_intent(
    conn: asyncpg.Connection, payment_intent: str, *, for_update: bool = False
) -> Payment | None:
    if not payment_intent:
        return None
    return await _one(conn, "gateway_payment_id", payment_intent, for_update)


async def find_refund_by_gateway_id(
    conn: asyncpg.Connection, gateway_refund_id: str
) -> Refund | None:
    if not gateway_refund_id:
        return None
    row = await conn.fetchrow(
        f"""SELECT {_REFUND_COLUMNS} FROM refunds r JOIN payments p ON p.id = r.payment_id
             WHERE r.gateway_refund_id = $1""",
        gateway_refund_id,
    )
    return _refund(row) if row else None


async def deferred_webhooks(conn: asyncpg.Connection, payment_id: str) -> list[dict[str, Any]]:
    """Events about a payment that came before it succeeded (a refund delivered before the
    payment), oldest first, to apply once it has. (A checkout lives at most a day, far less
    than webhook payloads are kept, so a deferred event still has its body.)"""
    return deferred_payloads(await conn.fetch(_DEFERRED_SQL, payment_id))


# ------------------------------------------------------------------ disputes

_DISPUTE_COLUMNS = """d.id, d.gateway_dispute_id, d.payment_id, d.amount_minor, d.currency, d.reason, d.status,
    d.created_at, d.updated_at, p.enrollment_id, p.provider_id"""


def _dispute(row: Any) -> Dispute:
    return Dispute(
        id=str(row["id"]),
        gateway_dispute_id=row["gateway_dispute_id"],
        payment_id=str(row["payment_id"]),
        amount=Money(row["amount_minor"], row["currency"]),
        reason=row["reason"],
        status=row["status"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        enrollment_id=str(row["enrollment_id"]),
        provider_id=str(row["provider_id"]),
    )


async def upsert_dispute(conn: asyncpg.Connection, dispute: Dispute) -> None:
    await conn.execute(
        """INSERT INTO disputes (id, gateway_dispute_id, payment_id, amount_minor, currency,
               reason, status)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (gateway_dispute_id) DO UPDATE
              SET status = EXCLUDED.status, reason = EXCLUDED.reason,
                  amount_minor = EXCLUDED.amount_minor, updated_at = now()""",
        dispute.id,
        dispute.gateway_dispute_id,
        dispute.payment_id,
        dispute.amount.amount_minor,
        dispute.amount.currency,
        dispute.reason,
        dispute.status,
    )


DISPUTES = Listing("disputes", table="d")


async def list_disputes(conn: asyncpg.Connection, page: Page) -> list[Dispute]:
    rows = await fetch_page(
        conn,
        f"SELECT {_DISPUTE_COLUMNS} FROM disputes d JOIN payments p ON p.id = d.payment_id",
        Where(),
        page,
    )
    return [_dispute(r) for r in rows]


# ------------------------------------------------------------------ provider earnings


@dataclass(frozen=True)
class EarningsRow:
    currency: str
    # The program ("" for payments made before programs were recorded), unless all_programs.
    program_id: str
    all_programs: bool  # a per-currency total
    gross_minor: int
    fee_minor: int
    refunds_minor: int
    disputes_minor: int
    net_minor: int
    available_minor: int
    charges: int


@dataclass(frozen=True)
class LedgerLine:
    id: int
    payment_id: str
    enrollment_id: str
    program_id: str
    kind: str
    currency: str
    gross_minor: int
    fee_minor: int
    net_minor: int
    fee_bps: int
    refund_id: str
    created_at: datetime
    available: bool


# A line is available once its payment's charge is older than the hold (the refund window):
# a refund of an old charge then lowers what is available, not what is pending.
_LEDGER_FROM = """FROM payout_ledger l
    JOIN payments p ON p.id = l.payment_id
    JOIN payout_ledger c ON c.payment_id = l.payment_id AND c.kind = 'charge'
   WHERE l.provider_id = $1
     AND ($2::timestamptz IS NULL OR l.created_at >= $2)
     AND ($3::timestamptz IS NULL OR l.created_at < $3)"""
_AVAILABLE = "c.created_at <= now() - make_interval(secs => $4)"


async def provider_earnings(
    conn: asyncpg.Connection,
    provider_id: str,
    start: datetime | None,
    end: datetime | None,
    hold_seconds: float,
) -> list[EarningsRow]:
    """Totals per currency, and per (program, currency), of the provider's ledger lines
    booked in [start, end)."""
    rows = await conn.fetch(
        f"""SELECT l.currency, p.program_id, GROUPING(p.program_id) AS all_programs,
                   sum(l.gross_amount_minor) FILTER (WHERE l.kind = 'charge') AS gross,
                   sum(l.platform_fee_minor) AS fee,
                   -sum(l.gross_amount_minor) FILTER (WHERE l.kind = 'refund') AS refunds,
                   -sum(l.gross_amount_minor) FILTER (WHERE l.kind = 'dispute') AS disputes,
                   sum(l.provider_net_minor) AS net,
                   sum(l.provider_net_minor) FILTER (WHERE {_AVAILABLE}) AS available,
                   count(*) FILTER (WHERE l.kind = 'charge') AS charges
              {_LEDGER_FROM}
             GROUP BY GROUPING SETS ((l.currency), (l.currency, p.program_id))
             ORDER BY all_programs DESC, l.currency, p.program_id NULLS FIRST""",
        provider_id,
        start,
        end,
        hold_seconds,
    )
    return [
        EarningsRow(
            currency=r["currency"],
            program_id="" if r["all_programs"] else str(r["program_id"] or ""),
            all_programs=bool(r["all_programs"]),
            gross_minor=int(r["gross"] or 0),
            fee_minor=int(r["fee"] or 0),
            refunds_minor=int(r["refunds"] or 0),
            disputes_minor=int(r["disputes"] or 0),
            net_minor=int(r["net"] or 0),
            available_minor=int(r["available"] or 0),
            charges=int(r["charges"]),
        )
        for r in rows
    ]


async def ledger_lines(
    conn: asyncpg.Connection,
    provider_id: str,
    start: datetime | None,
    end: datetime | None,
    hold_seconds: float,
    after_id: int,
    limit: int,
) -> list[LedgerLine]:
    """The provider's lines booked in [start, end), in booking order, after line `after_id`."""
    rows = await conn.fetch(
        f"""SELECT l.id, l.payment_id, p.enrollment_id, p.program_id, l.kind, l.currency,
                   l.gross_amount_minor, l.platform_fee_minor, l.provider_net_minor, l.fee_bps,
                   l.refund_id, l.created_at, {_AVAILABLE} AS available
              {_LEDGER_FROM} AND l.id > $5
             ORDER BY l.id LIMIT $6""",
        provider_id,
        start,
        end,
        hold_seconds,
        after_id,
        limit,
    )
    return [
        LedgerLine(
            id=r["id"],
            payment_id=str(r["payment_id"]),
            enrollment_id=str(r["enrollment_id"]),
            program_id=str(r["program_id"] or ""),
            kind=r["kind"],
            currency=r["currency"],
            gross_minor=r["gross_amount_minor"],
            fee_minor=r["platform_fee_minor"],
            net_minor=r["provider_net_minor"],
            fee_bps=r["fee_bps"],
            refund_id=str(r["refund_id"] or ""),
            created_at=r["created_at"],
            available=bool(r["available"]),
        )
        for r in rows
    ]


# ------------------------------------------------------------------ payout accounts


async def payout_account(conn: asyncpg.Connection, provider_id: str) -> str:
    """The provider's connected account id, or "" without one."""
    found = await conn.fetchval(
        "SELECT account_id FROM payout_accounts WHERE provider_id = $1", provider_id
    )
    return str(found or "")


async def add_payout_account(
    conn: asyncpg.Connection, provider_id: str, account_id: str, gateway: str
) -> str:
    """Record the provider's account; the one recorded first wins (its id is returned)."""
    await conn.execute(
        """INSERT INTO payout_accounts (provider_id, account_id, gateway) VALUES ($1, $2, $3)
           ON CONFLICT (provider_id) DO NOTHING""",
        provider_id,
        account_id,
        gateway,
    )
    return await payout_account(conn, provider_id)
