"""Stripe webhook ingress: the raw body and its signature go to payments untouched.

Status codes steer Stripe's retries: 2xx stops them; 400 says "this will never verify"
(bad signature or payload); 5xx says "try again later" (payments unreachable or failing).
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from upskill.payments.v1 import payments_service_pb2

from services.gateway.clients import invoke
from services.gateway.dependencies import GUARDS, get_authenticator, get_clients
from services.gateway.problems import ProblemError, invalid_input, problem_responses
from services.gateway.schemas import WebhookAck

router = APIRouter(tags=["webhooks"])

MAX_PAYLOAD_BYTES = 1024 * 1024  # HandleProviderWebhookRequest.payload's limit
# The body cap (MAX_WEBHOOK_BYTES, services.gateway.limits) applies before this route runs.
STRIPE_WEBHOOK_PATH = "/webhooks/stripe"
_SIGNATURE_REJECTED = ("INVALID_ARGUMENT", "UNAUTHENTICATED")
# The acknowledgement's JSON, made once: the route returns it ready-made rather than a
# WebhookAck for FastAPI to validate and serialize per event (the same bytes and headers:
# tests/unit/test_gateway_responses.py); response_model keeps the OpenAPI document as it was.
ACK_JSON = WebhookAck().model_dump_json(by_alias=True).encode()


def webhook_ack() -> Response:
    return Response(ACK_JSON, media_type="application/json")


@router.post(
    STRIPE_WEBHOOK_PATH,
    dependencies=GUARDS,  # a guarded router's (services.gateway.app.GUARDED_ROUTERS)
    response_model=WebhookAck,
    responses=problem_responses(400, 413, 502, 503),
    summary="Stripe webhook events (raw body + Stripe-Signature)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}}},
        },
        "parameters": [
            {
                "name": "Stripe-Signature",
                "in": "header",
                "required": True,
                "schema": {"type": "string"},
            }
        ],
    },
)
async def stripe_webhook(
    request: Request,
) -> Response:
    signature = request.headers.get("stripe-signature", "").strip()
    if not signature:
        raise invalid_input("missing Stripe-Signature header")
    payload = await request.body()
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise ProblemError(413, "webhook payload is too large", slug="payload-too-large")
    if len(payload) < 2:
        raise invalid_input("webhook payload is empty")
    try:
        await invoke(
            get_clients(request).payments.HandleProviderWebhook,
            payments_service_pb2.HandleProviderWebhookRequest(payload=payload, signature=signature),
            token=get_authenticator(request).service_token(),
        )
    except ProblemError as problem:
        if problem.grpc_code in _SIGNATURE_REJECTED:
            # Payments says the event does not verify: never retry it. An UNAUTHENTICATED
            # here is about Stripe's signature, not a caller's token, so no 401.
            raise invalid_input(problem.detail) from None
        raise
    return webhook_ack()
