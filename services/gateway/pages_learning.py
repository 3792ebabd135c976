"""The learner's own pages: "My learning" (enrollments, credentials, profile), a receipt per
payment, the enrollment's live status for the page that waits on a payment, and the actions
a learner takes from there (cancel an unpaid enrollment, ask for a refund).

Every action goes through the same services and rules as the JSON API: the pages only call
them with the signed-in learner's token and show what they answer.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from upskill.catalog.v1 import catalog_service_pb2
from upskill.credentials.v1 import credentials_service_pb2
from upskill.enrollment.v1 import employers_service_pb2, enrollment_pb2, enrollment_service_pb2
from upskill.payments.v1 import payments_pb2, payments_service_pb2

from services.common.auth import Principal
from services.gateway import mapping, pages_profile
from services.gateway.clients import Clients, invoke
from services.gateway.dependencies import ClientsDep, Viewer, resource_id
from services.gateway.learning_pathways import my_pathways
from services.gateway.problems import ProblemError
from services.gateway.rendering import render

router = APIRouter(include_in_schema=False)

LEARNING_PAGE_SIZE = 10
_NO_STORE = {"Cache-Control": "no-store"}
# Which enrollments the learner can cancel (the enrollment service still decides).
_CANCELLABLE = {"PENDING_PAYMENT"}
# Enrollments whose payment went through: these have a receipt to show.
PAID_STATUSES = ("ACTIVE", "COMPLETED", "REFUNDED")


def _signed_in(viewer: Principal | None, what: str) -> Principal:
    if viewer is None:
        raise ProblemError(401, f"Sign in to see {what}.", slug="unauthenticated")
    return viewer


@router.get("/learning", response_class=HTMLResponse)
async def learning_page(
    request: Request,
    viewer: Viewer,
    clients: ClientsDep,
    page_token: Annotated[str, Query(max_length=200)] = "",
    credentials_page_token: Annotated[str, Query(max_length=200)] = "",
    message: Annotated[str, Query(max_length=50)] = "",
) -> HTMLResponse:
    learner = _signed_in(viewer, "your learning")
    enrollments = await invoke(
        clients.enrollment.ListEnrollments,
        enrollment_service_pb2.ListEnrollmentsRequest(
            page_size=LEARNING_PAGE_SIZE, page_token=page_token
        ),
        token=learner.token,
    )
    credentials = await invoke(
        clients.credentials.ListCredentials,
        credentials_service_pb2.ListCredentialsRequest(
            page_size=LEARNING_PAGE_SIZE, page_token=credentials_page_token
        ),
        token=learner.token,
    )
    profile = await _profile(clients, learner)
    pathways, more_pathways = await my_pathways(clients, learner)
    public_profile = await pages_profile.curation(clients, learner) if profile else None
    return render(
        request,
        "learning.html",
        {
            "profile": profile,
            "pathways": pathways,
            "more_pathways": more_pathways,
            "public_profile": public_profile,
            "paid_statuses": PAID_STATUSES,
            "enrollments": [_with_actions(e) for e in enrollments.enrollments],
            "credentials": [mapping.credential_to_json(c) for c in credentials.credentials],
            "next_url": _page_url(page_token=enrollments.next_page_token)
            if enrollments.next_page_token
            else "",
            "next_credentials_url": _page_url(credentials_page_token=credentials.next_page_token)
            if credentials.next_page_token
            else "",
            "first_url": "/learning" if page_token or credentials_page_token else "",
            "notice": _NOTICES.get(message, ""),
            "base_url": request.app.state.settings.public_base_url.rstrip("/"),
        },
        headers=_NO_STORE,
    )


async def _profile(clients: Clients, learner: Principal) -> Any:
    try:
        reply = await invoke(
            clients.credentials.GetLearnerProfile,
            credentials_service_pb2.GetLearnerProfileRequest(),
            token=learner.token,
        )
    except ProblemError:
        return None  # not a learner (staff, admin): no profile to show
    return reply.profile


@router.post("/learning/profile")
async def save_profile(
    viewer: Viewer,
    clients: ClientsDep,
    display_name: Annotated[str, Form(max_length=400)] = "",
    show_name: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """The name the learner's credential pages show, and their consent to showing it."""
    learner = _signed_in(viewer, "your learning")
    await invoke(
        clients.credentials.UpdateLearnerProfile,
        credentials_service_pb2.UpdateLearnerProfileRequest(
            display_name=display_name, show_name=show_name == "on"
        ),
        token=learner.token,
    )
    return RedirectResponse("/learning?message=profile-saved#profile", status_code=303)


_NOTICES = {
    "profile-saved": "Profile saved: your credential pages show it now.",
    "public-profile-saved": "Public profile updated.",
    "cancelled": "The enrollment is cancelled.",
    "refund-requested": "Refund requested: the enrollment turns Refunded once the money is back.",
}


def _page_url(**params: str) -> str:
    return "/learning?" + urlencode(params)


def _with_actions(message: enrollment_pb2.Enrollment) -> dict[str, Any]:
    """An enrollment row with what its learner can do next: the services decide (a refund is
    offered only while the enrollment service says the learner may still ask for one)."""
    enrollment = mapping.enrollment_to_json(message)
    row = enrollment.model_dump(mode="json")
    row["can_pay"] = enrollment.status == "PENDING_PAYMENT" and bool(enrollment.checkout_url)
    row["can_cancel"] = enrollment.status in _CANCELLABLE
    row["refund_until"] = (
        mapping.timestamp(message.learner_refund_until)
        if message.HasField("learner_refund_until")
        else None
    )
    return row


@router.post("/learning/enrollments/{enrollment_id}/cancel")
async def cancel_enrollment(
    enrollment_id: str, request: Request, viewer: Viewer, clients: ClientsDep
) -> Response:
    learner = _signed_in(viewer, "your learning")
    await invoke(
        clients.enrollment.CancelEnrollment,
        enrollment_service_pb2.CancelEnrollmentRequest(
            enrollment_id=resource_id(enrollment_id, "enrollment")
        ),
        token=learner.token,
    )
    return RedirectResponse("/learning?message=cancelled", status_code=303)


@router.post("/learning/enrollments/{enrollment_id}/refund")
async def refund_enrollment(
    enrollment_id: str,
    request: Request,
    viewer: Viewer,
    clients: ClientsDep,
) -> Response:
    learner = _signed_in(viewer, "your learning")
    # A full refund: asking twice returns the same refund, so the form needs no key.
    await invoke(
        clients.enrollment.RefundEnrollment,
        enrollment_service_pb2.RefundEnrollmentRequest(
            enrollment_id=resource_id(enrollment_id, "enrollment"),
            note="asked by the learner",
        ),
        token=learner.token,
    )
    return RedirectResponse("/learning?message=refund-requested", status_code=303)


@router.get("/enrollments/{enrollment_id}", response_class=HTMLResponse)
async def enrollment_page(
    enrollment_id: str,
    request: Request,
    viewer: Viewer,
    clients: ClientsDep,
    paid: Annotated[str, Query(max_length=1)] = "",
) -> HTMLResponse:
    """One enrollment. Back from a checkout (`paid=1`), a PENDING_PAYMENT enrollment says
    the payment is being confirmed, and a small script (static/enrollment.js) asks
    `/enrollments/{id}/status` until it turns, so the page updates without a reload."""
    learner = _signed_in(viewer, "your enrollment")
    reply = await invoke(
        clients.enrollment.GetEnrollment,
        enrollment_service_pb2.GetEnrollmentRequest(
            enrollment_id=resource_id(enrollment_id, "enrollment")
        ),
        token=learner.token,
    )
    enrollment = mapping.enrollment_to_json(reply.enrollment)
    return render(
        request,
        "enrollment.html",
        {
            "enrollment": enrollment,
            "e": enrollment,  # for the status badge
            "paid_statuses": PAID_STATUSES,
            "confirming": paid == "1" and enrollment.status == "PENDING_PAYMENT",
        },
        headers=_NO_STORE,
    )


@router.get("/enrollments/{enrollment_id}/status")
async def enrollment_status(
    enrollment_id: str, viewer: Viewer, clients: ClientsDep
) -> JSONResponse:
    """What the enrollment page polls while a payment is confirmed: a few fields, never
    cached, readable only by whoever may read the enrollment."""
    learner = _signed_in(viewer, "your enrollment")
    reply = await invoke(
        clients.enrollment.GetEnrollment,
        enrollment_service_pb2.GetEnrollmentRequest(
            enrollment_id=resource_id(enrollment_id, "enrollment")
        ),
        token=learner.token,
    )
    enrollment = mapping.enrollment_to_json(reply.enrollment)
    return JSONResponse(
        {
            "status": enrollment.status,
            "credential_id": enrollment.credential_id,
        },
        headers=_NO_STORE,
    )


@router.get("/learning/receipts/{payment_id}", response_class=HTMLResponse)
async def receipt_page(
    payment_id: str, request: Request, viewer: Viewer, clients: ClientsDep
) -> HTMLResponse:
    learner = _signed_in(viewer, "your receipt")
    reply = await invoke(
        clients.payments.GetPayment,
        payments_service_pb2.GetPaymentRequest(payment_id=resource_id(payment_id, "payment")),
        token=learner.token,
    )
    payment = reply.payment
    if payment.HasField("seat_pack"):
        # An employer's seat pack: the receipt names the employer and the seats.
        order = payment.seat_pack
        pack = await invoke(
            clients.employers.GetSeatPack,
            employers_service_pb2.GetSeatPackRequest(
                employer_id=order.employer_id, seat_pack_id=payment.enrollment_id
            ),
            token=learner.token,
        )
        context: dict[str, Any] = {
            "seat_pack": {
                "id": payment.enrollment_id,
                "employer_id": order.employer_id,
                "employer_name": order.employer_name,
                "seats": order.seats,
                "price_per_seat": mapping.money_to_json(order.price_per_seat),
                "seats_refunded": pack.seat_pack.seats_refunded,
                "program_title": pack.seat_pack.program.title,
                "provider_id": payment.provider_id,
            }
        }
    else:
        enrollment = await invoke(
            clients.enrollment.GetEnrollment,
            enrollment_service_pb2.GetEnrollmentRequest(enrollment_id=payment.enrollment_id),
            token=learner.token,
        )
        context = {"enrollment": mapping.enrollment_to_json(enrollment.enrollment)}
    return render(
        request,
        "receipt.html",
        context
        | {
            "payment": {
                "id": payment.id,
                "amount": mapping.money_to_json(payment.amount),
                "status": mapping.enum_name(
                    payments_pb2.PaymentStatus, payment.status, "PAYMENT_STATUS_"
                ),
                "paid_at": mapping.timestamp(payment.update_time, payment.HasField("update_time")),
                "created_at": mapping.timestamp(
                    payment.create_time, payment.HasField("create_time")
                ),
                "gateway_payment_id": payment.gateway_payment_id,
            },
            "provider_name": await _provider_name(clients, learner, payment.provider_id),
        },
        headers=_NO_STORE,
    )


async def _provider_name(clients: Clients, viewer: Principal, provider_id: str) -> str:
    try:
        reply = await invoke(
            clients.catalog.GetProvider,
            catalog_service_pb2.GetProviderRequest(provider_id=provider_id),
            token=viewer.token,
        )
    except ProblemError:
        return ""  # a receipt still stands without the provider's current name
    return str(reply.provider.name)


_LIVE = {"PENDING_PAYMENT", "ACTIVE", "COMPLETED"}


async def already_enrolled(clients: Clients, viewer: Principal, program_id: str) -> str:
    """The learner's live enrollment in a program (what "already enrolled" refers to), or ''."""
    try:
        reply = await invoke(
            clients.enrollment.ListEnrollments,
            enrollment_service_pb2.ListEnrollmentsRequest(
                program_id=resource_id(program_id, "program"), page_size=100
            ),
            token=viewer.token,
        )
    except ProblemError:
        return ""
    for enrollment in reply.enrollments:
        if mapping.enrollment_to_json(enrollment).status in _LIVE:
            return str(enrollment.id)
    return ""
