"""/api/v1/providers/{id}/earnings and /payout-account: what a provider earned, from
payments' payouts ledger, and the Stripe Connect account its share is paid to.

The totals and the CSV statement read the same ledger lines, so they always agree.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from google.protobuf import timestamp_pb2
from upskill.payments.v1 import payments_service_pb2

from services.gateway import mapping
from services.gateway.clients import invoke
from services.gateway.dependencies import Caller, ClientsDep, resource_id, uuid_path
from services.gateway.problems import FieldError, ProblemError, problem_responses
from services.gateway.schemas import Earnings, Instant, PayoutAccountLink

router = APIRouter(prefix="/api/v1/providers", tags=["earnings"])

ProviderId = Annotated[str, uuid_path("provider")]
From = Annotated[
    Instant | None,
    Query(alias="from", description="Lines booked at or after this instant (RFC 3339)"),
]
To = Annotated[Instant | None, Query(description="Lines booked before this instant (RFC 3339)")]
_ERRORS = problem_responses(401, 403, 404, 422, 502, 503)

CSV_COLUMNS = (
    "line_id",
    "booked_at",
    "kind",
    "payment_id",
    "enrollment_id",
    "program_id",
    "refund_id",
    "currency",
    "gross_minor",
    "platform_fee_minor",
    "provider_net_minor",
    "fee_bps",
    "available",
)
_STATEMENT_PAGE = 500


def _utc(value: datetime | None, name: str) -> datetime | None:
    """An instant; one without a zone is read as UTC."""
    if value is None:
        return None
    try:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+05:00 is before year 1 in UTC
        raise ProblemError(
            422,
            f"{name} is out of range",
            slug="invalid-input",
            errors=[FieldError(field=name, message="must be within years 1 to 9999 in UTC")],
        ) from None


def _period(start: datetime | None, end: datetime | None) -> dict[str, timestamp_pb2.Timestamp]:
    start, end = _utc(start, "from"), _utc(end, "to")
    if start is not None and end is not None and end < start:
        raise ProblemError(
            422,
            "the period ends before it starts",
            slug="invalid-input",
            errors=[FieldError(field="to", message="must not be before from")],
        )
    fields = {}
    for name, value in (("start_time", start), ("end_time", end)):
        if value is not None:
            stamp = timestamp_pb2.Timestamp()
            stamp.FromDatetime(value)
            fields[name] = stamp
    return fields


@router.get(
    "/{provider_id}/earnings",
    response_model=Earnings,
    responses=_ERRORS,
    summary="A provider's earnings in a period (its own staff, admin)",
    description=(
        "Totals per currency and per program of the ledger lines booked in [from, to):"
        " gross, platform fee, refunds, disputes, net; net is available once the charge is"
        " older than the refund window, pending before. Amounts in minor units."
    ),
)
async def earnings(
    provider_id: ProviderId,
    caller: Caller,
    clients: ClientsDep,
    start: From = None,
    to: To = None,
) -> Earnings:
    provider = resource_id(provider_id, "provider")
    reply = await invoke(
        clients.payments.GetProviderEarnings,
        payments_service_pb2.GetProviderEarningsRequest(provider_id=provider, **_period(start, to)),
        token=caller.token,
    )
    return Earnings.model_validate(
        {
            "provider_id": provider,
            "from": _utc(start, "from"),
            "to": _utc(to, "to"),
            "totals": [mapping.earnings_to_json(t) for t in reply.totals],
            "programs": [mapping.earnings_to_json(t) for t in reply.programs],
        }
    )


@router.get(
    "/{provider_id}/earnings.csv",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "OK"},
        **_ERRORS,
    },
    summary="A provider's statement: every ledger line in a period, as CSV",
)
async def statement(
    provider_id: ProviderId,
    caller: Caller,
    clients: ClientsDep,
    start: From = None,
    to: To = None,
) -> StreamingResponse:
    provider = resource_id(provider_id, "provider")
    period = _period(start, to)

    def request(token: str) -> payments_service_pb2.ListLedgerLinesRequest:
        return payments_service_pb2.ListLedgerLinesRequest(
            provider_id=provider, page_size=_STATEMENT_PAGE, page_token=token, **period
        )

    # The first page is read before answering, so a refusal is a proper problem response.
    first = await invoke(clients.payments.ListLedgerLines, request(""), token=caller.token)

    async def rows() -> AsyncIterator[str]:
        reply = first
        yield _csv_line(CSV_COLUMNS)
        while True:
            for line in reply.lines:
                yield _csv_line(
                    (
                        str(line.id),
                        line.create_time.ToDatetime(tzinfo=UTC).isoformat(),
                        line.kind,
                        line.payment_id,
                        line.enrollment_id,
                        line.program_id,
                        line.refund_id,
                        line.currency,
                        str(line.gross_minor),
                        str(line.platform_fee_minor),
                        str(line.provider_net_minor),
                        str(line.fee_bps),
                        "true" if line.available else "false",
                    )
                )
            if not reply.next_page_token:
                return
            reply = await invoke(
                clients.payments.ListLedgerLines,
                request(reply.next_page_token),
                token=caller.token,
            )

    return StreamingResponse(
        rows(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="earnings-{provider}.csv"'},
    )


def _csv_line(values: tuple[str, ...]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(values)
    return out.getvalue()


@router.post(
    "/{provider_id}/payout-account",
    response_model=PayoutAccountLink,
    responses=problem_responses(401, 403, 404, 409, 502, 503),
    summary="The provider's payout (Connect) account and a link to onboard it",
    description=(
        "Made on the first call (one account per provider); every call returns a fresh"
        " onboarding link. Once it exists, the provider's checkouts are destination charges:"
        " the platform keeps its fee (PLATFORM_FEE_BPS) and the rest goes to the account."
    ),
)
async def payout_account(
    provider_id: ProviderId, caller: Caller, clients: ClientsDep
) -> PayoutAccountLink:
    reply = await invoke(
        clients.payments.CreatePayoutAccountLink,
        payments_service_pb2.CreatePayoutAccountLinkRequest(
            provider_id=resource_id(provider_id, "provider")
        ),
        token=caller.token,
    )
    return PayoutAccountLink(account_id=reply.account_id, url=reply.url)
