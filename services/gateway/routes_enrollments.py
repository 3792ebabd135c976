"""/api/v1/enrollments: the purchase saga's HTTP face.

Who may refund when is not decided here: the enrollment service does
(services/enrollment/seats.py `decide_refund`); this route forwards the ask.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Header, Query, Request, Response, status
from upskill.enrollment.v1 import enrollment_pb2, enrollment_service_pb2

from services.gateway import mapping
from services.gateway.clients import invoke
from services.gateway.dependencies import GuardedCaller, get_clients, resource_id, uuid_path
from services.gateway.problems import problem_responses
from services.gateway.schemas import (
    Enrollment,
    EnrollmentComplete,
    EnrollmentCreate,
    EnrollmentList,
    EnrollmentStatus,
    Refund,
    RefundRequest,
    Text,
    UuidText,
)

router = APIRouter(prefix="/api/v1/enrollments", tags=["enrollments"])
# The buyer's polls and the purchase come here: the routes take the clients from the request
# (get_clients) rather than as a dependency (ClientsDep), as FastAPI solves each dependency
# of every request on its own, a few percent of the gateway's CPU apiece.

_READ_ERRORS = problem_responses(401, 403, 404, 422, 502, 503)
_WRITE_ERRORS = problem_responses(400, 401, 403, 404, 409, 413, 422, 502, 503)
EnrollmentId = Annotated[str, uuid_path("enrollment")]


def enrollment_response(enrollment: Enrollment, status_code: int = 200) -> Response:
    """The response FastAPI makes of a returned Enrollment under `response_model=Enrollment`
    (the same bytes and headers: tests/unit/test_gateway_responses.py), made directly: the
    purchase's routes (enroll, and the buyer's polls) return it, and FastAPI, given a
    Response, skips validating the model it has just been built as once more before
    serializing it. The route keeps its response_model, so the OpenAPI document is the
    same."""
    return Response(
        enrollment.model_dump_json(by_alias=True),
        status_code=status_code,
        media_type="application/json",
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=Enrollment,
    responses=_WRITE_ERRORS,
    summary="Enroll in a published program (learner)",
    description=(
        "201 with the enrollment: PENDING_PAYMENT with a checkout_url to pay at, or ACTIVE"
        " for a free program. A sold-out program is 409. Retrying with the same"
        " Idempotency-Key returns the first enrollment instead of a second one."
    ),
)
async def create_enrollment(
    body: EnrollmentCreate,
    caller: GuardedCaller,
    request: Request,
    idempotency_key: Annotated[
        Text | None, Header(alias="Idempotency-Key", min_length=1, max_length=200)
    ] = None,
) -> Response:
    reply = await invoke(
        get_clients(request).enrollment.CreateEnrollment,
        enrollment_service_pb2.CreateEnrollmentRequest(
            program_id=body.program_id, idempotency_key=idempotency_key or ""
        ),
        token=caller.token,
        renames=mapping.CREATE_ENROLLMENT_FIELDS,
    )
    response = enrollment_response(
        mapping.enrollment_to_json(reply.enrollment), status.HTTP_201_CREATED
    )
    response.headers["Location"] = f"/api/v1/enrollments/{reply.enrollment.id}"
    return response


@router.get(
    "",
    response_model=EnrollmentList,
    responses=_READ_ERRORS,
    summary="List the enrollments the caller may see",
)
async def list_enrollments(
    caller: GuardedCaller,
    request: Request,
    program_id: Annotated[UuidText | None, Query(max_length=64)] = None,
    state: Annotated[
        EnrollmentStatus | None, Query(alias="status", description="Only enrollments in it")
    ] = None,
    page_size: Annotated[int, Query(ge=0, le=100, description="0: the server's default")] = 0,
    page_token: Annotated[Text, Query(max_length=200)] = "",
) -> EnrollmentList:
    ask = enrollment_service_pb2.ListEnrollmentsRequest(
        program_id=program_id or "", page_size=page_size, page_token=page_token
    )
    if state is not None:
        ask.status = enrollment_pb2.EnrollmentStatus.Value(f"ENROLLMENT_STATUS_{state}")
    reply = await invoke(get_clients(request).enrollment.ListEnrollments, ask, token=caller.token)
    return EnrollmentList(
        enrollments=[mapping.enrollment_to_json(e) for e in reply.enrollments],
        next_page_token=reply.next_page_token or None,
    )


@router.get(
    "/{enrollment_id}",
    response_model=Enrollment,
    responses=_READ_ERRORS,
    summary="Get an enrollment (its learner, the program's provider, admin)",
)
async def get_enrollment(
    enrollment_id: EnrollmentId, caller: GuardedCaller, request: Request
) -> Response:
    reply = await invoke(
        get_clients(request).enrollment.GetEnrollment,
        enrollment_service_pb2.GetEnrollmentRequest(
            enrollment_id=resource_id(enrollment_id, "enrollment")
        ),
        token=caller.token,
    )
    return enrollment_response(mapping.enrollment_to_json(reply.enrollment))


@router.post(
    "/{enrollment_id}/complete",
    response_model=Enrollment,
    responses=_WRITE_ERRORS,
    summary="Mark an ACTIVE enrollment COMPLETED (owning provider)",
)
async def complete_enrollment(
    enrollment_id: EnrollmentId,
    caller: GuardedCaller,
    request: Request,
    body: Annotated[EnrollmentComplete | None, Body()] = None,
) -> Enrollment:
    body = body or EnrollmentComplete()
    reply = await invoke(
        get_clients(request).enrollment.CompleteEnrollment,
        enrollment_service_pb2.CompleteEnrollmentRequest(
            enrollment_id=resource_id(enrollment_id, "enrollment"),
            grade=body.grade or "",
            evidence_url=body.evidence_url or "",
        ),
        token=caller.token,
    )
    return mapping.enrollment_to_json(reply.enrollment)


@router.post(
    "/{enrollment_id}/cancel",
    response_model=Enrollment,
    responses=_WRITE_ERRORS,
    summary="Cancel a PENDING_PAYMENT enrollment (its learner)",
)
async def cancel_enrollment(
    enrollment_id: EnrollmentId, caller: GuardedCaller, request: Request
) -> Enrollment:
    reply = await invoke(
        get_clients(request).enrollment.CancelEnrollment,
        enrollment_service_pb2.CancelEnrollmentRequest(
            enrollment_id=resource_id(enrollment_id, "enrollment")
        ),
        token=caller.token,
    )
    return mapping.enrollment_to_json(reply.enrollment)


@router.post(
    "/{enrollment_id}/refund",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Refund,
    responses=_WRITE_ERRORS,
    summary="Refund an enrollment's payment (admin; owning provider; learner within the window)",
    description=(
        "202 with the refund, usually PENDING: it completes asynchronously, and then the"
        " enrollment becomes REFUNDED and its credential is revoked (reason `refunded`)."
        " Admins may refund at any time, the program's provider its own programs, the learner"
        " within REFUND_WINDOW_DAYS of enrolling and before completion (403 otherwise)."
        " Asking again for a full refund returns the same refund; a partial refund"
        " (`amount_minor`) needs an Idempotency-Key and is one refund per key. A free or"
        " unpaid enrollment has nothing to refund (409)."
    ),
)
async def refund_enrollment(
    enrollment_id: EnrollmentId,
    caller: GuardedCaller,
    request: Request,
    body: Annotated[RefundRequest | None, Body()] = None,
    idempotency_key: Annotated[
        Text | None, Header(alias="Idempotency-Key", min_length=1, max_length=200)
    ] = None,
) -> Refund:
    body = body or RefundRequest()
    reply = await invoke(
        get_clients(request).enrollment.RefundEnrollment,
        enrollment_service_pb2.RefundEnrollmentRequest(
            enrollment_id=resource_id(enrollment_id, "enrollment"),
            note=body.reason or "",
            amount_minor=body.amount_minor or 0,
            idempotency_key=idempotency_key or "",
        ),
        token=caller.token,
        renames={"note": "reason", "idempotency_key": "Idempotency-Key"},
    )
    return mapping.refund_to_json(reply.refund)
