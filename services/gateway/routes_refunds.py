"""/api/v1/refunds: money returned to learners, for operators.

Today every refund is automatic: a payment that arrived for an enrollment that could no
longer take it (cancelled or expired first) goes back in full.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from upskill.payments.v1 import payments_service_pb2

from services.gateway import mapping
from services.gateway.clients import invoke
from services.gateway.dependencies import Caller, ClientsDep
from services.gateway.problems import problem_responses
from services.gateway.schemas import RefundList

router = APIRouter(prefix="/api/v1/refunds", tags=["refunds"])


@router.get(
    "",
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
    page_token: Annotated[str, Query(max_length=200)] = "",
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
