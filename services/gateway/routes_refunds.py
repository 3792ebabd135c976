"""/api/v1/refunds and /api/v1/disputes: money returned to learners, and chargebacks, for
operators. Refunds come from every source: automatic returns of payments an enrollment
could no longer take, refunds asked through the API, refunds made in the gateway's
dashboard, and lost disputes.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from upskill.payments.v1 import payments_service_pb2

from services.gateway import mapping
from services.gateway.clients import invoke
from services.gateway.dependencies import Caller, ClientsDep
from services.gateway.problems import problem_responses
from services.gateway.schemas import DisputeList, RefundList, Text

router = APIRouter(prefix="/api/v1", tags=["refunds"])


@router.get(
    "/refunds",
    response_model=RefundList,
    responses=problem_responses(400, 401, 403, 422, 502, 503),
    summary="List refunds, newest first (admin)",
    description=(
        "Every refund with its reason and status; FAILED ones are money an operator must"
        " return by hand."
    ),
)
async def list_refunds(
    caller: Caller,
    clients: ClientsDep,
    enrollment_id: Annotated[
        str,
        Query(
            pattern=r"^$|^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
            description="Only this enrollment's refunds",
        ),
    ] = "",
    page_size: Annotated[int, Query(ge=0, le=100, description="0: the server's default")] = 0,
    page_token: Annotated[Text, Query(max_length=200)] = "",
) -> RefundList:
    reply = await invoke(
        clients.payments.ListRefunds,
        payments_service_pb2.ListRefundsRequest(
            enrollment_id=enrollment_id, page_size=page_size, page_token=page_token
        ),
        token=caller.token,
    )
    return RefundList(
        refunds=[mapping.refund_to_json(r) for r in reply.refunds],
        next_page_token=reply.next_page_token or None,
    )


@router.get(
    "/disputes",
    response_model=DisputeList,
    responses=problem_responses(400, 401, 403, 422, 502, 503),
    summary="List disputes (chargebacks), newest first (admin)",
    description="Every dispute the gateway reported, as last reported; a lost one was booked"
    " as a refund (the enrollment is REFUNDED and its credential revoked).",
)
async def list_disputes(
    caller: Caller,
    clients: ClientsDep,
    page_size: Annotated[int, Query(ge=0, le=100, description="0: the server's default")] = 0,
    page_token: Annotated[Text, Query(max_length=200)] = "",
) -> DisputeList:
    reply = await invoke(
        clients.payments.ListDisputes,
        payments_service_pb2.ListDisputesRequest(page_size=page_size, page_token=page_token),
        token=caller.token,
    )
    return DisputeList(
        disputes=[mapping.dispute_to_json(d) for d in reply.disputes],
        next_page_token=reply.next_page_token or None,
    )
