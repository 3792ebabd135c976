"""`upskill reconcile`: does the money agree with the enrollments and the credentials?

Compares payments' books (succeeded and refunded payments, full refunds) with the
enrollments and the credentials, and reports each disagreement with its ids:

- paid_not_active: a succeeded payment whose enrollment is still waiting for it;
- paid_closed_not_refunded: a succeeded payment of a cancelled or expired enrollment that
  was neither taken nor returned;
- active_without_payment: an ACTIVE/COMPLETED paid enrollment without a succeeded payment;
- refund_not_applied: a fully refunded payment whose enrollment is not REFUNDED;
- refund_without_revocation: a REFUNDED enrollment whose credential is still ISSUED;
- credential_without_paid_enrollment: an ISSUED credential whose enrollment is not (or no
  longer) paid and live;
- for employers' seat packs, whose payment's order id is the pack's id (shown in the
  ENROLLMENT column): pack_paid_not_paid (a succeeded payment, the pack still waiting),
  pack_paid_closed_not_refunded (a succeeded payment of an expired or cancelled pack),
  pack_refund_not_applied (a fully refunded payment, the pack still PAID),
  pack_paid_without_payment (a PAID pack with a price and no succeeded payment),
  pack_seat_refund_not_booked (unassigned seats given back whose refund payments never
  recorded; re-sending POST .../refund-unassigned records it),
  pack_refund_seats_not_returned (payments returned more of the pack's payment than the
  seats it gave back are worth) and pack_overredeemed (more seats redeemed than it holds);
- with a Stripe key (Stripe mode), against Stripe's own records through its API:
  gateway_refund_not_booked (Stripe returned more of a payment, in refunds and lost
  disputes, than our books say) and booked_refund_not_at_gateway (the reverse).

It reads each service's database directly, read-only, in one snapshot per database: an
operator's audit must see the ground truth (rows the APIs do not show, such as payments of
closed enrollments), it must not need list RPCs that exist for nothing else, and thousands
of rows are one query, not hundreds of pages. `--repair` re-publishes the event that was
lost, through the owning service's outbox (a new event id, so it is not deduplicated
away; its consumers are idempotent on state: a second activation or revocation changes
nothing). Drift that no event can fix (money without a matching sale) is only reported.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import stripe
from upskill.enrollment.v1 import events_pb2 as enrollment_events

from services.common.outbox import enqueue
from services.common.protos import timestamp
from services.payments.domain import Money, PaymentRefundedEvent, PaymentSucceededEvent
from services.payments.messages import event_message

# Exit status when drift was found (1 is a failure to run at all).
EXIT_DRIFT = 3

REPUBLISH_PAYMENT_SUCCEEDED = "republish PaymentSucceeded"
REPUBLISH_PAYMENT_REFUNDED = "republish PaymentRefunded"
REPUBLISH_ENROLLMENT_REFUNDED = "republish EnrollmentRefunded"


@dataclass(frozen=True)
class Drift:
    kind: str
    enrollment_id: str
    payment_id: str = ""
    credential_id: str = ""
    detail: str = ""
    repair: str = ""  # empty: reported only


@dataclass(frozen=True)
class Databases:
    payments: str
    enrollment: str
    credentials: str


async def _rows(
    dsn: str, queries: dict[str, tuple[str, tuple[Any, ...]]]
) -> dict[str, list[asyncpg.Record]]:
    """Each query's rows, all from one read-only snapshot of the database at `dsn`."""
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            return {
                name: list(await conn.fetch(sql, *args)) for name, (sql, args) in queries.items()
            }
    finally:
        await conn.close()


async def find_drift(
    dbs: Databases, *, provider_id: str = "", settle_seconds: float = 60.0
) -> list[Drift]:
    """Every disagreement, ignoring rows changed in the last `settle_seconds` (a saga in
    flight is not drift yet); only `provider_id`'s when given."""
    both = (provider_id, float(settle_seconds))
    scope = "($1 = '' OR provider_id::text = $1)"
    paid = await _rows(
        dbs.payments,
        {
            "payments": (
                f"""SELECT id::text, enrollment_id::text, status, amount_minor, currency,
                                   learner_id, provider_id::text, gateway, gateway_payment_id,
                                   updated_at < now() - make_interval(secs => $2) AS settled
                              FROM payments
                             WHERE status IN ('SUCCEEDED', 'REFUNDED') AND {scope}""",
                both,
            ),
            "refunds": (
                """SELECT DISTINCT ON (r.payment_id) r.payment_id::text, r.id::text,
                                  r.gateway_refund_id, r.amount_minor, r.currency, r.reason
                             FROM refunds r JOIN payments p ON p.id = r.payment_id
                            WHERE r.status = 'SUCCEEDED' AND r.full_refund
                              AND ($1 = '' OR p.provider_id::text = $1)
                            ORDER BY r.payment_id, r.completed_at DESC""",
                (provider_id,),
            ),
            "booked": (
                """SELECT r.payment_id::text, coalesce(sum(r.amount_minor), 0) AS booked_minor,
                          bool_and(r.created_at < now() - make_interval(secs => $2)) AS settled
                     FROM refunds r JOIN payments p ON p.id = r.payment_id
                    WHERE r.status <> 'FAILED' AND ($1 = '' OR p.provider_id::text = $1)
                    GROUP BY r.payment_id""",
                both,
            ),
        },
    )
    enrolled = await _rows(
        dbs.enrollment,
        {
            "enrollments": (
                f"""SELECT id::text, status, coalesce(payment_id::text, '') AS payment_id,
                                      price_minor, learner_id, program_id::text,
                                      updated_at < now() - make_interval(secs => $2) AS settled
                                 FROM enrollments WHERE {scope}""",
                both,
            ),
            "packs": (
                """SELECT k.id::text, k.status, coalesce(k.payment_id::text, '') AS payment_id,
                          k.seats, k.seats_refunded, k.total_minor,
                          coalesce(i.redeemed, 0) AS redeemed,
                          coalesce(r.owed_minor, 0) AS owed_minor,
                          k.updated_at < now() - make_interval(secs => $2) AS settled
                     FROM seat_packs k
                     LEFT JOIN (SELECT seat_pack_id, count(*) AS redeemed FROM seat_invitations
                                 WHERE redeemed_at IS NOT NULL GROUP BY seat_pack_id) i
                            ON i.seat_pack_id = k.id
                     LEFT JOIN (SELECT seat_pack_id, sum(amount_minor) AS owed_minor
                                  FROM seat_pack_refunds GROUP BY seat_pack_id) r
                            ON r.seat_pack_id = k.id
                    WHERE ($1 = '' OR k.provider_id::text = $1)""",
                both,
            ),
        },
    )
    issued = await _rows(
        dbs.credentials,
        {
            "credentials": (
                f"""SELECT id::text, enrollment_id::text, status,
                                      issued_at < now() - make_interval(secs => $2) AS settled
                                 FROM credentials
                                WHERE enrollment_id IS NOT NULL AND {scope}""",
                both,
            )
        },
    )
    payments = {p["id"]: p for p in paid["payments"]}
    full_refunds = {r["payment_id"]: r for r in paid["refunds"]}
    enrollments = {e["id"]: e for e in enrolled["enrollments"]}
    credentials = {c["enrollment_id"]: c for c in issued["credentials"]}
    drifts: list[Drift] = []

    for p in payments.values():
        e = enrollments.get(p["enrollment_id"])
        if e is None or not (p["settled"] and e["settled"]):
            continue  # another provider's scope cannot hold it; or still moving
        own = e["payment_id"] in ("", p["id"])
        if p["status"] == "SUCCEEDED" and own and e["status"] == "PENDING_PAYMENT":
            drifts.append(
                Drift(
                    "paid_not_active",
                    e["id"],
                    p["id"],
                    detail="payment SUCCEEDED, enrollment PENDING_PAYMENT",
                    repair=REPUBLISH_PAYMENT_SUCCEEDED,
                )
            )
        elif p["status"] == "SUCCEEDED" and e["status"] in ("CANCELLED", "EXPIRED"):
            drifts.append(
                Drift(
                    "paid_closed_not_refunded",
                    e["id"],
                    p["id"],
                    detail=f"payment SUCCEEDED, enrollment {e['status']}",
                    repair=REPUBLISH_PAYMENT_SUCCEEDED,
                )
            )
        elif (
            p["status"] == "REFUNDED"
            and e["payment_id"] == p["id"]
            and e["status"] in ("PENDING_PAYMENT", "ACTIVE", "COMPLETED")
        ):
            drifts.append(
                Drift(
                    "refund_not_applied",
                    e["id"],
                    p["id"],
                    detail=f"payment REFUNDED, enrollment {e['status']}",
                    repair=REPUBLISH_PAYMENT_REFUNDED if p["id"] in full_refunds else "",
                )
            )

    # One report per enrollment: what a lost event left behind shows up only once, with
    # the repair that fixes the rest (a lost activation also leaves an issued credential of
    # a "pending" enrollment, say).
    reported = {d.enrollment_id for d in drifts}
    for e in enrollments.values():
        if not e["settled"] or e["id"] in reported:
            continue
        p = payments.get(e["payment_id"])
        if (
            e["status"] in ("ACTIVE", "COMPLETED")
            and e["price_minor"] > 0
            and (p is None or p["status"] != "SUCCEEDED")
        ):
            drifts.append(
                Drift(
                    "active_without_payment",
                    e["id"],
                    e["payment_id"],
                    detail=f"enrollment {e['status']}, payment {p['status'] if p else 'missing'}",
                )
            )
        c = credentials.get(e["id"])
        if e["status"] == "REFUNDED" and c is not None and c["status"] == "ISSUED":
            drifts.append(
                Drift(
                    "refund_without_revocation",
                    e["id"],
                    e["payment_id"],
                    c["id"],
                    detail="enrollment REFUNDED, credential ISSUED",
                    repair=REPUBLISH_ENROLLMENT_REFUNDED,
                )
            )

    for c in credentials.values():
        if c["status"] != "ISSUED" or not c["settled"]:
            continue
        e = enrollments.get(c["enrollment_id"])
        if c["enrollment_id"] in reported or (e is not None and e["status"] == "REFUNDED"):
            continue  # reported above, with its repair
        p = payments.get(e["payment_id"]) if e is not None else None
        live = e is not None and e["status"] in ("ACTIVE", "COMPLETED")
        paid_for = e is not None and (
            e["price_minor"] == 0 or (p is not None and p["status"] == "SUCCEEDED")
        )
        if not (live and paid_for):
            state = "missing" if e is None else e["status"]
            drifts.append(
                Drift(
                    "credential_without_paid_enrollment",
                    c["enrollment_id"],
                    e["payment_id"] if e else "",
                    c["id"],
                    detail=f"credential ISSUED, enrollment {state}",
                )
            )
    drifts += _pack_drift(
        payments,
        full_refunds,
        {k["id"]: k for k in enrolled["packs"]},
        {b["payment_id"]: b for b in paid["booked"]},
    )
    return drifts


def _pack_drift(
    payments: dict[str, asyncpg.Record],
    full_refunds: dict[str, asyncpg.Record],
    packs: dict[str, asyncpg.Record],
    booked: dict[str, asyncpg.Record],
) -> list[Drift]:
    """Seat packs against payments' books, as single purchases are above: a pack's payment
    names the pack's id as its order id, and what payments returned of it must be what the
    pack gave back in unassigned seats (seat_pack_refunds), no more and no less."""
    drifts: list[Drift] = []
    for p in payments.values():
        k = packs.get(p["enrollment_id"])
        if k is None or not (p["settled"] and k["settled"]):
            continue
        own = k["payment_id"] in ("", p["id"])
        if p["status"] == "SUCCEEDED" and own and k["status"] == "PENDING_PAYMENT":
            drifts.append(
                Drift(
                    "pack_paid_not_paid",
                    k["id"],
                    p["id"],
                    detail="payment SUCCEEDED, seat pack PENDING_PAYMENT",
                    repair=REPUBLISH_PAYMENT_SUCCEEDED,
                )
            )
        elif p["status"] == "SUCCEEDED" and k["status"] in ("CANCELLED", "EXPIRED"):
            drifts.append(
                Drift(
                    "pack_paid_closed_not_refunded",
                    k["id"],
                    p["id"],
                    detail=f"payment SUCCEEDED, seat pack {k['status']}",
                    repair=REPUBLISH_PAYMENT_SUCCEEDED,
                )
            )
        elif (
            p["status"] == "REFUNDED"
            and k["payment_id"] == p["id"]
            and k["status"] in ("PENDING_PAYMENT", "PAID")
        ):
            drifts.append(
                Drift(
                    "pack_refund_not_applied",
                    k["id"],
                    p["id"],
                    detail=f"payment REFUNDED, seat pack {k['status']}",
                    repair=REPUBLISH_PAYMENT_REFUNDED if p["id"] in full_refunds else "",
                )
            )
    reported = {d.enrollment_id for d in drifts}
    for k in packs.values():
        if not k["settled"] or k["id"] in reported:
            continue
        p = payments.get(k["payment_id"])
        if k["status"] == "PAID" and k["total_minor"] > 0:
            if p is None or p["status"] != "SUCCEEDED":
                drifts.append(
                    Drift(
                        "pack_paid_without_payment",
                        k["id"],
                        k["payment_id"],
                        detail=f"seat pack PAID, payment {p['status'] if p else 'missing'}",
                    )
                )
                continue
            b = booked.get(k["payment_id"])
            if b is not None and not b["settled"]:
                continue  # a refund just asked for: still on its way
            owed, returned = int(k["owed_minor"]), int(b["booked_minor"] if b else 0)
            if owed > returned:
                drifts.append(
                    Drift(
                        "pack_seat_refund_not_booked",
                        k["id"],
                        k["payment_id"],
                        detail=(
                            f"{k['seats_refunded']} unassigned seat(s) given back for {owed},"
                            f" payments booked {returned} (re-send POST .../refund-unassigned)"
                        ),
                    )
                )
            elif returned > owed:
                drifts.append(
                    Drift(
                        "pack_refund_seats_not_returned",
                        k["id"],
                        k["payment_id"],
                        detail=(
                            f"payments returned {returned} of the pack's payment, its"
                            f" {k['seats_refunded']} seat(s) given back are worth {owed}"
                        ),
                    )
                )
        if k["redeemed"] > k["seats"]:
            drifts.append(
                Drift(
                    "pack_overredeemed",
                    k["id"],
                    k["payment_id"],
                    detail=f"{k['redeemed']} seats redeemed of the {k['seats']} it holds",
                )
            )
    return drifts


async def stripe_drift(
    dbs: Databases,
    client: stripe.StripeClient,
    *,
    provider_id: str = "",
    settle_seconds: float = 60.0,
) -> list[Drift]:
    """What Stripe says came back of each Stripe payment (succeeded refunds and lost
    disputes) against what payments booked. Reported only: a missing booking is a webhook
    Stripe can resend from its dashboard, a surplus one needs a person."""
    rows = (
        await _rows(
            dbs.payments,
            {
                "payments": (
                    """SELECT p.id::text, p.enrollment_id::text, p.gateway_payment_id,
                              coalesce(sum(r.amount_minor) FILTER
                                  (WHERE r.status = 'SUCCEEDED'), 0) AS booked
                         FROM payments p LEFT JOIN refunds r ON r.payment_id = p.id
                        WHERE p.gateway = 'stripe' AND p.gateway_payment_id <> ''
                          AND p.status IN ('SUCCEEDED', 'REFUNDED')
                          AND ($1 = '' OR p.provider_id::text = $1)
                          AND p.updated_at < now() - make_interval(secs => $2)
                        GROUP BY p.id""",
                    (provider_id, float(settle_seconds)),
                )
            },
        )
    )["payments"]
    drifts: list[Drift] = []
    for row in rows:
        intent = row["gateway_payment_id"]
        # A payment has a handful of refunds and disputes at most; 100 is Stripe's page.
        refunds = await client.v1.refunds.list_async({"payment_intent": intent, "limit": 100})
        disputes = await client.v1.disputes.list_async({"payment_intent": intent, "limit": 100})
        at_stripe = sum(r.amount for r in refunds.data if r.status == "succeeded") + sum(
            d.amount for d in disputes.data if d.status == "lost"
        )
        booked = int(row["booked"])
        if at_stripe != booked:
            drifts.append(
                Drift(
                    "gateway_refund_not_booked"
                    if at_stripe > booked
                    else "booked_refund_not_at_gateway",
                    row["enrollment_id"],
                    row["id"],
                    detail=f"Stripe returned {at_stripe}, payments booked {booked} ({intent})",
                )
            )
    return drifts


async def repair(dbs: Databases, drifts: list[Drift]) -> list[Drift]:
    """Re-publish the lost event of each repairable drift; the ones repaired."""
    repaired: list[Drift] = []
    wanted = [d for d in drifts if d.repair]
    payment_side = [d for d in wanted if d.repair != REPUBLISH_ENROLLMENT_REFUNDED]
    enrollment_side = [d for d in wanted if d.repair == REPUBLISH_ENROLLMENT_REFUNDED]
    if payment_side:
        conn = await asyncpg.connect(dbs.payments, timeout=10)
        try:
            for d in payment_side:
                async with conn.transaction():
                    if await _republish_payment(conn, d):
                        repaired.append(d)
        finally:
            await conn.close()
    if enrollment_side:
        conn = await asyncpg.connect(dbs.enrollment, timeout=10)
        try:
            for d in enrollment_side:
                async with conn.transaction():
                    if await _republish_enrollment_refunded(conn, d):
                        repaired.append(d)
        finally:
            await conn.close()
    return repaired


async def _republish_payment(conn: asyncpg.Connection, d: Drift) -> bool:
    p = await conn.fetchrow(
        """SELECT id::text, enrollment_id::text, learner_id, provider_id::text, amount_minor,
                  currency, gateway, gateway_payment_id, status
             FROM payments WHERE id = $1::uuid""",
        d.payment_id,
    )
    if p is None:
        return False
    now = datetime.now(UTC)
    amount = Money(p["amount_minor"], p["currency"])
    if d.repair == REPUBLISH_PAYMENT_SUCCEEDED and p["status"] == "SUCCEEDED":
        event: PaymentSucceededEvent | PaymentRefundedEvent = PaymentSucceededEvent(
            payment_id=p["id"],
            enrollment_id=p["enrollment_id"],
            learner_id=p["learner_id"],
            amount=amount,
            gateway=p["gateway"],
            gateway_payment_id=p["gateway_payment_id"],
            occurred_at=now,
        )
    elif d.repair == REPUBLISH_PAYMENT_REFUNDED and p["status"] == "REFUNDED":
        r = await conn.fetchrow(
            """SELECT id::text, gateway_refund_id, amount_minor, currency, reason FROM refunds
                WHERE payment_id = $1::uuid AND status = 'SUCCEEDED' AND full_refund
                ORDER BY completed_at DESC LIMIT 1""",
            d.payment_id,
        )
        if r is None:
            return False
        event = PaymentRefundedEvent(
            payment_id=p["id"],
            enrollment_id=p["enrollment_id"],
            learner_id=p["learner_id"],
            provider_id=p["provider_id"],
            refund_id=r["id"],
            gateway_refund_id=r["gateway_refund_id"],
            amount=Money(r["amount_minor"], r["currency"]),
            reason=r["reason"],
            full_refund=True,
            gateway=p["gateway"],
            occurred_at=now,
        )
    else:
        return False  # changed since it was read: nothing to re-send
    await enqueue(conn, event_message(event), source="upskill.payments", subject=p["id"])
    return True


async def _republish_enrollment_refunded(conn: asyncpg.Connection, d: Drift) -> bool:
    e = await conn.fetchrow(
        """SELECT id::text, learner_id, program_id::text, coalesce(payment_id::text, '') AS payment_id
             FROM enrollments WHERE id = $1::uuid AND status = 'REFUNDED'""",
        d.enrollment_id,
    )
    if e is None:
        return False
    message = enrollment_events.EnrollmentRefunded(
        enrollment_id=e["id"],
        learner_id=e["learner_id"],
        program_id=e["program_id"],
        payment_id=e["payment_id"],
        reason="reconciled",
        occur_time=timestamp(datetime.now(UTC)),
    )
    await enqueue(conn, message, source="upskill.enrollment", subject=e["id"])
    return True


def table(drifts: list[Drift]) -> str:
    lines = [f"{'KIND':<36} {'ENROLLMENT':<36} {'PAYMENT':<36} {'CREDENTIAL':<36} DETAIL"]
    for d in drifts:
        lines.append(
            f"{d.kind:<36} {d.enrollment_id:<36} {d.payment_id or '-':<36} "
            f"{d.credential_id or '-':<36} {d.detail}"
            + (f" (repair: {d.repair})" if d.repair else "")
        )
    lines.append(f"{len(drifts)} drift(s)")
    return "\n".join(lines)


def as_json(d: Drift) -> dict[str, str]:
    return asdict(d)
