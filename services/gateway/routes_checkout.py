"""The local payment provider's hosted checkout page (Stripe Checkout's stand-in).

The learner's browser carries no bearer token here (as on Stripe's own page): whoever
holds the session id may pay it, and the gateway calls payments as itself.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from upskill.enrollment.v1 import enrollment_service_pb2
from upskill.payments.v1 import payments_pb2, payments_service_pb2

from services.common.urls import local_path_or
from services.gateway.clients import Clients, invoke
from services.gateway.dependencies import GuardedViewer, get_authenticator, get_clients
from services.gateway.problems import ProblemError, not_found
from services.gateway.rendering import render
from services.gateway.security import Authenticator
from services.gateway.settings import GatewaySettings

router = APIRouter(include_in_schema=False)
# The purchase's pay step: the clients and the authenticator come from the request rather
# than as dependencies (FastAPI solves each dependency of every request on its own), and
# the viewer is GuardedViewer: the app's request_guards and the viewer in one dependency
# (services.gateway.app.GUARDED_ROUTERS).

_SESSION_ID = re.compile(r"^cs_[A-Za-z0-9_]{1,200}$")
_NO_STORE = {"Cache-Control": "no-store"}


async def _session(
    clients: Clients, authenticator: Authenticator, session_id: str
) -> payments_service_pb2.GetCheckoutSessionResponse:
    """The session and the test cards its provider charges (payments owns that list)."""
    if not _SESSION_ID.match(session_id):
        raise not_found("no such checkout session")
    reply: payments_service_pb2.GetCheckoutSessionResponse = await invoke(
        clients.payments.GetCheckoutSession,
        payments_service_pb2.GetCheckoutSessionRequest(session_id=session_id),
        token=authenticator.service_token(),
    )
    return reply


def _grouped(number: str) -> str:
    """4242424242424242 -> 4242 4242 4242 4242, as printed on a card."""
    return " ".join(number[i : i + 4] for i in range(0, len(number), 4))


def _return_url(request: Request, url: str) -> str:
    """A stored success/cancel URL, only when it is on our public origin: payments refuses
    others, and this page still never sends a learner off-site (say, a URL stored before
    that rule existed). '' when there is none to show."""
    settings: GatewaySettings = request.app.state.settings
    return local_path_or(url, settings.public_base_url, "")


def _page(
    request: Request,
    session: payments_pb2.CheckoutSession,
    cards: Sequence[payments_service_pb2.TestCard],
    *,
    message: str = "",
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "checkout.html",
        {
            "session": session,
            # A seat pack: the page shows the employer, the seats and the price per seat.
            "seat_pack": session.seat_pack if session.HasField("seat_pack") else None,
            "message": message,
            "test_cards": [(_grouped(card.number), card.outcome) for card in cards],
            "success_url": _return_url(request, session.success_url),
            "cancel_url": _return_url(request, session.cancel_url),
        },
        status_code=status_code,
        headers=_NO_STORE,
    )


@router.get("/checkout/{session_id}", response_class=HTMLResponse)
async def checkout_page(
    session_id: str,
    request: Request,
    viewer: GuardedViewer,  # only for the page header: paying needs no session
) -> HTMLResponse:
    clients, authenticator = get_clients(request), get_authenticator(request)
    found = await _session(clients, authenticator, session_id)
    return _page(request, found.session, found.test_cards)


@router.post("/checkout/{session_id}", response_class=HTMLResponse)
async def pay(
    session_id: str,
    request: Request,
    viewer: GuardedViewer,  # only for the page header: paying needs no session
    card_number: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """One RPC when the payment goes through: the session is read (for the page) only when
    the page is shown again, with the reason it was not paid."""
    clients, authenticator = get_clients(request), get_authenticator(request)

    async def page_again(message: str, status_code: int) -> HTMLResponse:
        found = await _session(clients, authenticator, session_id)
        return _page(
            request, found.session, found.test_cards, message=message, status_code=status_code
        )

    if not _SESSION_ID.match(session_id):
        raise not_found("no such checkout session")
    card = re.sub(r"[\s-]", "", card_number)
    if not card:
        return await page_again("Enter a card number.", 400)
    try:
        reply = await invoke(
            clients.payments.PayCheckoutSession,
            payments_service_pb2.PayCheckoutSessionRequest(session_id=session_id, card_number=card),
            token=authenticator.service_token(),
        )
    except ProblemError as problem:
        if problem.status in (400, 409, 422):
            # A malformed card number, or a session that is no longer open.
            message = "; ".join(e.message for e in problem.errors) or problem.detail
            return await page_again(message, problem.status)
        raise
    if reply.decline_code:
        message = reply.message or "Your card was declined."
        if not reply.HasField("session"):
            return await page_again(message, 402)
        found = await _session(clients, authenticator, session_id)
        return _page(request, reply.session, found.test_cards, message=message, status_code=402)
    target = _return_url(request, reply.session.success_url) or f"/checkout/{session_id}"
    return RedirectResponse(target, status_code=303)


@router.post("/checkout/{session_id}/cancel")
async def cancel_checkout(
    session_id: str,
    request: Request,
    viewer: GuardedViewer,
) -> Response:
    """ "Cancel and go back": the learner's enrollment is cancelled (which closes this
    checkout), then back to where the checkout was started from. Cancelling takes the
    learner's own session: the session id alone may pay, never cancel."""
    clients, authenticator = get_clients(request), get_authenticator(request)
    session = (await _session(clients, authenticator, session_id)).session
    if viewer is None:
        raise ProblemError(401, "Sign in to cancel this enrollment.", slug="unauthenticated")
    payment = await invoke(
        clients.payments.GetPayment,
        payments_service_pb2.GetPaymentRequest(payment_id=session.payment_id),
        token=viewer.token,
    )
    await invoke(
        clients.enrollment.CancelEnrollment,
        enrollment_service_pb2.CancelEnrollmentRequest(enrollment_id=payment.payment.enrollment_id),
        token=viewer.token,
    )
    target = _return_url(request, session.cancel_url) or "/learning"
    return RedirectResponse(target, status_code=303)
