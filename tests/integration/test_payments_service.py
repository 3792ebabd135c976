"""The payments service as it runs: a real `python -m services.payments` process on real
PostgreSQL and NATS JetStream, driven over gRPC.

Local mode plays the whole loop: the local provider signs a Stripe-shaped webhook and
POSTs it to a stand-in for the HTTP gateway, which forwards it to HandleProviderWebhook,
as the real gateway does. Stripe mode opens sessions through real stripe-python against
the fake Stripe in tests/fakes. Forged events are signed with the fake's signer, which
shares no code with the service.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import asyncpg
import grpc
import nats
import pytest
from google.protobuf.message import DecodeError
from grpc_health.v1 import health_pb2, health_pb2_grpc
from nats.js.api import ConsumerConfig, DeliverPolicy
from upskill.enrollment.v1 import enrollment_pb2
from upskill.enrollment.v1 import events_pb2 as enrollment_events
from upskill.payments.v1 import events_pb2, payments_pb2, payments_service_pb2_grpc
from upskill.payments.v1 import payments_service_pb2 as pb
from upskill.type.v1 import money_pb2

from services.common import events
from services.common.auth import Role, mint_dev_token
from tests.fakes.stripe_server import FakeStripe, sign
from tests.polling import eventually_async as eventually

pytestmark = pytest.mark.asyncio(loop_scope="session")

REPO = Path(__file__).resolve().parents[2]
AUTH_SECRET = "integration-secret-integration-secret"
WEBHOOK_SECRET = "whsec_integration_0123456789"
PUBLIC_BASE_URL = "http://127.0.0.1:18080"
SUCCEEDED = events_pb2.PaymentSucceeded.DESCRIPTOR.full_name
FAILED = events_pb2.PaymentFailed.DESCRIPTOR.full_name
PASSING_CARD = "4242424242424242"


def token(role: Role, subject: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {mint_dev_token(AUTH_SECRET, role=role, subject=subject)}"),)


SERVICE = token(Role.SERVICE, "service:enrollment")
ADMIN = token(Role.ADMIN, "admin")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ----------------------------------------------------------------------- the gateway's part


@dataclass
class Delivery:
    event_id: str
    event_type: str
    payload: bytes
    signature: str
    status: int


@dataclass
class WebhookForwarder:
    """Stands in for the HTTP gateway's POST /webhooks/stripe: raw body and Stripe-Signature
    go to HandleProviderWebhook; OK is 200, a rejected signature 400, anything else 500.

    A delivery is recorded once HandleProviderWebhook has answered, so after the receiver's
    commit: a test that sees the webhook's effect (a payment SUCCEEDED) may not yet see its
    delivery here. Wait for the delivery itself (poll `recorded`) before asserting on it."""

    fail_next: int = 0
    deliveries: list[Delivery] = field(default_factory=list)
    target: str = ""
    # Set: the next POST (only that one) hangs until `release` is set, like a gateway stuck
    # on one request; `holding` says that it has arrived.
    hold_next: bool = False
    holding: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    _server: ThreadingHTTPServer | None = None
    # The server's threads count fail_next down and append to deliveries concurrently.
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/webhooks/stripe"

    def start(self) -> None:
        forwarder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = forwarder.forward(body, self.headers.get("Stripe-Signature", ""))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def recorded(self) -> list[Delivery]:
        """The deliveries recorded so far, in the order their answers were known."""
        with self._lock:
            return list(self.deliveries)

    def stop(self) -> None:
        self.release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def forward(self, body: bytes, signature: str) -> int:
        event = json.loads(body)
        if self.hold_next:
            self.hold_next = False
            self.holding.set()
            self.release.wait(timeout=60)
        with self._lock:
            down = self.fail_next > 0
            if down:
                self.fail_next -= 1
        if down:
            status = 503  # the gateway is briefly down: the sender must retry
        else:
            with grpc.insecure_channel(self.target) as channel:
                stub = payments_service_pb2_grpc.PaymentsServiceStub(channel)
                try:
                    stub.HandleProviderWebhook(
                        pb.HandleProviderWebhookRequest(payload=body, signature=signature),
                        metadata=token(Role.SERVICE, "service:gateway"),
                        timeout=10,
                    )
                    status = 200
                except grpc.RpcError as exc:
                    status = 400 if exc.code() is grpc.StatusCode.INVALID_ARGUMENT else 500
        with self._lock:
            self.deliveries.append(Delivery(event["id"], event["type"], body, signature, status))
        return status


# ----------------------------------------------------------------------- the service


@dataclass
class Payments:
    addr: str
    proc: asyncio.subprocess.Process
    stub: payments_service_pb2_grpc.PaymentsServiceStub
    db: asyncpg.Connection
    nats_url: str

    async def checkout(
        self, enrollment_id: str = "", amount: int = 4900, learner: str = "alice", **kw: Any
    ) -> payments_pb2.Payment:
        response = await self.stub.CreateCheckout(
            checkout_request(enrollment_id or str(uuid.uuid4()), amount, learner, **kw),
            metadata=SERVICE,
            timeout=20,
        )
        return response.payment

    async def payment(self, payment_id: str) -> payments_pb2.Payment:
        response = await self.stub.GetPayment(
            pb.GetPaymentRequest(payment_id=payment_id), metadata=ADMIN, timeout=5
        )
        return response.payment

    async def webhook(
        self, payload: str | bytes, signature: str
    ) -> pb.HandleProviderWebhookResponse:
        body = payload.encode() if isinstance(payload, str) else payload
        return await self.stub.HandleProviderWebhook(
            pb.HandleProviderWebhookRequest(payload=body, signature=signature),
            metadata=SERVICE,
            timeout=10,
        )

    async def outbox(self, event_type: str, payment_id: str) -> list[Any]:
        rows = await self.db.fetch(
            "SELECT payload, published_at FROM outbox WHERE type = $1 ORDER BY seq", event_type
        )
        cls = events_pb2.PaymentSucceeded if event_type == SUCCEEDED else events_pb2.PaymentFailed
        found = [(cls.FromString(r["payload"]), r["published_at"]) for r in rows]
        return [(m, published) for m, published in found if m.payment_id == payment_id]

    async def published(self, message_type: Any, payment_id: str) -> list[Any]:
        """Every message on the PAYMENTS stream of this type about this payment."""
        nc = await nats.connect(self.nats_url)
        try:
            js = nc.jetstream()
            sub = await js.subscribe(
                events.subject_for(message_type),
                stream="PAYMENTS",
                ordered_consumer=True,
                config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL),
            )
            found = []
            while True:
                try:
                    msg = await sub.next_msg(timeout=1.0)
                except nats.errors.TimeoutError:
                    break
                try:
                    decoded = message_type.FromString(msg.data)
                except DecodeError:
                    continue  # another test's deliberately corrupt message on a shared server
                if decoded.payment_id == payment_id:
                    found.append(decoded)
            await sub.unsubscribe()
            return found
        finally:
            await nc.close()


def checkout_request(
    enrollment_id: str, amount: int = 4900, learner: str = "alice", currency: str = "USD"
) -> pb.CreateCheckoutRequest:
    return pb.CreateCheckoutRequest(
        enrollment_id=enrollment_id,
        learner_id=learner,
        learner_email=f"{learner}@example.com",
        provider_id="9b2f7c1e-1111-4a4a-9c9c-000000000001",
        amount=money_pb2.Money(amount_minor=amount, currency=currency),
        description="Intro to Data Engineering",
        success_url="http://127.0.0.1:18080/done",
        cancel_url="http://127.0.0.1:18080/cancelled",
    )


@contextlib.asynccontextmanager
async def payments_service(
    database_url: str, nats_url: str, tmp_path: Path, **env: str
) -> AsyncIterator[Payments]:
    """Start the service as a child process; stop it with SIGTERM (a graceful drain)."""
    addr = f"127.0.0.1:{free_port()}"
    log_path = tmp_path / f"payments-{addr.rsplit(':', 1)[1]}.log"
    child_env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "NATS_URL": nats_url,
        "LISTEN_ADDR": addr,
        "AUTH_MODE": "dev",
        "AUTH_JWT_SECRET": AUTH_SECRET,
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
        "LOG_LEVEL": "INFO",
        **env,
    }
    with log_path.open("wb") as log:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "services.payments",
            env=child_env,
            cwd=REPO,
            stdout=log,
            stderr=log,
        )
    channel = grpc.aio.insecure_channel(addr)
    db = await asyncpg.connect(database_url)
    try:
        await _wait_serving(channel, proc, log_path)
        yield Payments(
            addr, proc, payments_service_pb2_grpc.PaymentsServiceStub(channel), db, nats_url
        )
    finally:
        await channel.close()
        await db.close()
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 20)
            except TimeoutError:
                proc.kill()
                await proc.wait()


@contextlib.asynccontextmanager
async def stripe_mode_payments(
    database_url: str, nats_url: str, tmp_path: Path
) -> AsyncIterator[tuple[Payments, FakeStripe]]:
    """The service in Stripe mode: real stripe-python against a fresh fake Stripe."""
    with FakeStripe(webhook_secret=WEBHOOK_SECRET) as fake:
        async with payments_service(
            database_url,
            nats_url,
            tmp_path,
            PAYMENTS_PROVIDER="stripe",
            STRIPE_API_KEY=fake.api_key,
            STRIPE_API_BASE=fake.api_base,
        ) as service:
            yield service, fake


async def _wait_serving(channel: grpc.aio.Channel, proc: Any, log_path: Path) -> None:
    health = health_pb2_grpc.HealthStub(channel)

    async def serving() -> bool:
        if proc.returncode is not None:
            raise AssertionError(f"payments exited {proc.returncode}:\n{_read(log_path)}")
        reply = await health.Check(health_pb2.HealthCheckRequest(), timeout=1)
        return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)

    try:
        await eventually(serving, within=60, interval=0.1, ignoring=(grpc.aio.AioRpcError,))
    except AssertionError as exc:
        raise AssertionError(f"{exc}\npayments did not start:\n{_read(log_path)}") from None


def _read(path: Path) -> str:
    return path.read_text()


@pytest.fixture
async def forwarder() -> AsyncIterator[WebhookForwarder]:
    fwd = WebhookForwarder()
    fwd.start()
    yield fwd
    fwd.stop()


@pytest.fixture
async def local_payments(
    fresh_database: str, nats_url: str, forwarder: WebhookForwarder, tmp_path: Path
) -> AsyncIterator[Payments]:
    async with payments_service(
        fresh_database, nats_url, tmp_path, LOCAL_WEBHOOK_URL=forwarder.url
    ) as service:
        forwarder.target = service.addr
        yield service


def completed_event(
    payment: payments_pb2.Payment, *, timestamp: int | None = None, **session: Any
) -> tuple[str, str]:
    """A checkout.session.completed event for `payment`, as Stripe would send it, and its
    Stripe-Signature; keyword arguments override fields of the session object."""
    obj = {
        "id": payment.checkout_session_id,
        "object": "checkout.session",
        "amount_total": payment.amount.amount_minor,
        "currency": payment.amount.currency.lower(),
        "client_reference_id": payment.enrollment_id,
        "metadata": {"payment_id": payment.id, "enrollment_id": payment.enrollment_id},
        "payment_intent": "pi_forged0001",
        "payment_status": "paid",
        "status": "complete",
        **session,
    }
    return signed_event("checkout.session.completed", obj, timestamp=timestamp)


def signed_event(
    event_type: str, obj: dict[str, Any], *, timestamp: int | None = None, secret: str = ""
) -> tuple[str, str]:
    payload = json.dumps(
        {
            "id": f"evt_{uuid.uuid4().hex}",
            "object": "event",
            "api_version": "2026-10-28.endive",
            "created": int(time.time()),
            "type": event_type,
            "data": {"object": obj},
        }
    )
    return payload, sign(payload, secret or WEBHOOK_SECRET, timestamp)


async def status_of(service: Payments, payment_id: str) -> int:
    return (await service.payment(payment_id)).status


# ----------------------------------------------------------------------- local provider


async def test_local_checkout_pays_through_a_signed_webhook_exactly_once(
    local_payments: Payments, forwarder: WebhookForwarder
) -> None:
    service = local_payments
    enrollment_id = str(uuid.uuid4())
    payment = await service.checkout(enrollment_id)
    assert payment.status == payments_pb2.PAYMENT_STATUS_PENDING
    assert payment.gateway == "local"
    assert payment.checkout_session_id.startswith("cs_test_")
    assert payment.checkout_url == f"{PUBLIC_BASE_URL}/checkout/{payment.checkout_session_id}"

    # CreateCheckout is idempotent on the enrollment: same payment, same session.
    again = await service.checkout(enrollment_id)
    assert (again.id, again.checkout_session_id) == (payment.id, payment.checkout_session_id)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await service.checkout(enrollment_id, amount=100)
    assert refused.value.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert await service.db.fetchval("SELECT count(*) FROM local_checkout_sessions") == 1

    alice, mallory = token(Role.LEARNER, "alice"), token(Role.LEARNER, "mallory")
    with pytest.raises(grpc.aio.AioRpcError) as denied:
        await service.stub.CreateCheckout(checkout_request(str(uuid.uuid4())), metadata=alice)
    assert denied.value.code() is grpc.StatusCode.PERMISSION_DENIED

    session_id = payment.checkout_session_id
    page = await service.stub.GetCheckoutSession(
        pb.GetCheckoutSessionRequest(session_id=session_id), metadata=alice
    )
    assert page.session.status == "open"
    assert page.session.payment_id == payment.id
    assert page.session.amount.amount_minor == 4900
    assert page.session.amount.currency == "USD"
    # The hosted page lists the cards this provider charges: payments owns that list.
    assert [(c.number, c.outcome) for c in page.test_cards] == [
        ("4242424242424242", "succeeds"),
        ("4000000000000002", "is declined"),
        ("4000000000009995", "is declined for insufficient funds"),
    ]
    with pytest.raises(grpc.aio.AioRpcError) as hidden:
        await service.stub.GetCheckoutSession(
            pb.GetCheckoutSessionRequest(session_id=session_id), metadata=mallory
        )
    assert hidden.value.code() is grpc.StatusCode.NOT_FOUND

    # Declines leave the session open for another card, as Stripe Checkout does.
    for card, code in (
        ("4000000000000002", "generic_decline"),
        ("4000000000009995", "insufficient_funds"),
    ):
        declined = await service.stub.PayCheckoutSession(
            pb.PayCheckoutSessionRequest(session_id=session_id, card_number=card), metadata=alice
        )
        assert declined.decline_code == code
        assert declined.session.status == "open"
    paid = await service.stub.PayCheckoutSession(
        pb.PayCheckoutSessionRequest(session_id=session_id, card_number=PASSING_CARD),
        metadata=alice,
    )
    assert paid.decline_code == ""
    assert paid.session.status == "complete"

    async def succeeded() -> bool:
        return await status_of(service, payment.id) == payments_pb2.PAYMENT_STATUS_SUCCEEDED

    await eventually(succeeded)
    with pytest.raises(grpc.aio.AioRpcError) as twice:
        await service.stub.PayCheckoutSession(
            pb.PayCheckoutSessionRequest(session_id=session_id, card_number=PASSING_CARD),
            metadata=alice,
        )
    assert twice.value.code() is grpc.StatusCode.FAILED_PRECONDITION

    [delivery] = await eventually(forwarder.recorded)
    assert (delivery.event_type, delivery.status) == ("checkout.session.completed", 200)
    succeeded_payment = await service.payment(payment.id)
    assert succeeded_payment.gateway_payment_id.startswith("pi_")

    # The owner may read it, another learner may not even learn that it exists.
    own = await service.stub.GetPayment(pb.GetPaymentRequest(payment_id=payment.id), metadata=alice)
    assert own.payment.id == payment.id
    with pytest.raises(grpc.aio.AioRpcError) as other:
        await service.stub.GetPayment(pb.GetPaymentRequest(payment_id=payment.id), metadata=mallory)
    assert other.value.code() is grpc.StatusCode.NOT_FOUND

    ledger = await service.db.fetchrow(
        "SELECT * FROM payout_ledger WHERE payment_id = $1", payment.id
    )
    assert (
        ledger["gross_amount_minor"],
        ledger["platform_fee_minor"],
        ledger["provider_net_minor"],
    ) == (
        4900,
        490,
        4410,
    )

    # Stripe re-sends: the same event again (freshly signed) is a no-op.
    again_sent = await service.webhook(
        delivery.payload, sign(delivery.payload.decode(), WEBHOOK_SECRET)
    )
    assert again_sent.duplicate
    assert again_sent.event_id == delivery.event_id
    # A late, out-of-order expiry for the same session never undoes the success.
    late, signature = signed_event(
        "checkout.session.expired",
        {**json.loads(delivery.payload)["data"]["object"], "status": "expired"},
    )
    assert not (await service.webhook(late, signature)).duplicate
    assert await status_of(service, payment.id) == payments_pb2.PAYMENT_STATUS_SUCCEEDED

    async def relayed() -> bool:
        rows = await service.outbox(SUCCEEDED, payment.id)
        return bool(rows) and all(published for _, published in rows)

    await eventually(relayed)
    [(event, _)] = await service.outbox(SUCCEEDED, payment.id)
    assert event.enrollment_id == enrollment_id
    assert event.learner_id == "alice"
    assert (event.amount.amount_minor, event.amount.currency) == (4900, "USD")
    assert event.gateway == "local"
    assert event.gateway_payment_id == succeeded_payment.gateway_payment_id
    assert await service.outbox(FAILED, payment.id) == []
    assert len(await service.published(events_pb2.PaymentSucceeded, payment.id)) == 1
    assert await service.published(events_pb2.PaymentFailed, payment.id) == []


async def test_a_webhook_is_not_held_back_by_a_slow_delivery_before_it(
    local_payments: Payments, forwarder: WebhookForwarder
) -> None:
    """Webhooks are POSTed as they are queued: one the gateway is stuck on does not hold
    back the next (it used to wait for the slowest POST of the batch before it)."""
    service = local_payments
    first = await service.checkout(str(uuid.uuid4()))
    second = await service.checkout(str(uuid.uuid4()))
    gateway = token(Role.SERVICE, "service:gateway")
    forwarder.hold_next = True
    await service.stub.PayCheckoutSession(
        pb.PayCheckoutSessionRequest(
            session_id=first.checkout_session_id, card_number=PASSING_CARD
        ),
        metadata=gateway,
    )
    await eventually(forwarder.holding.is_set, what="the first POST")
    await service.stub.PayCheckoutSession(
        pb.PayCheckoutSessionRequest(
            session_id=second.checkout_session_id, card_number=PASSING_CARD
        ),
        metadata=gateway,
    )

    async def second_succeeded() -> bool:
        return await status_of(service, second.id) == payments_pb2.PAYMENT_STATUS_SUCCEEDED

    await eventually(second_succeeded)
    # ... while the first POST is still under way: no attempt of it has ended yet.
    first_attempts = await service.db.fetchval(
        """SELECT d.attempts FROM local_webhook_deliveries d
            WHERE d.payload::jsonb -> 'data' -> 'object' ->> 'id' = $1""",
        first.checkout_session_id,
    )
    assert first_attempts == 0
    assert await status_of(service, first.id) == payments_pb2.PAYMENT_STATUS_PENDING
    forwarder.release.set()

    async def first_succeeded() -> bool:
        return await status_of(service, first.id) == payments_pb2.PAYMENT_STATUS_SUCCEEDED

    await eventually(first_succeeded)
    both = await eventually(forwarder.recorded, until=lambda found: len(found) == 2)
    assert sorted(d.status for d in both) == [200, 200]


async def test_paying_by_link_reads_the_session_once_and_refuses_an_unknown_one(
    local_payments: Payments,
) -> None:
    """The gateway pays by link (its own token): an unknown session is NOT_FOUND, a known
    one is paid, and a second payment is refused."""
    service = local_payments
    gateway = token(Role.SERVICE, "service:gateway")
    with pytest.raises(grpc.aio.AioRpcError) as unknown:
        await service.stub.PayCheckoutSession(
            pb.PayCheckoutSessionRequest(session_id="cs_test_nosuch", card_number=PASSING_CARD),
            metadata=gateway,
        )
    assert unknown.value.code() is grpc.StatusCode.NOT_FOUND
    payment = await service.checkout(str(uuid.uuid4()))
    request = pb.PayCheckoutSessionRequest(
        session_id=payment.checkout_session_id, card_number=PASSING_CARD
    )
    paid = await service.stub.PayCheckoutSession(request, metadata=gateway)
    assert (paid.decline_code, paid.session.status) == ("", "complete")
    with pytest.raises(grpc.aio.AioRpcError) as twice:
        await service.stub.PayCheckoutSession(request, metadata=gateway)
    assert twice.value.code() is grpc.StatusCode.FAILED_PRECONDITION


async def test_a_webhook_that_fails_verification_changes_nothing(local_payments: Payments) -> None:
    service = local_payments
    payment = await service.checkout()
    payload, good_signature = completed_event(payment)
    stale_payload, stale_signature = completed_event(payment, timestamp=int(time.time()) - 600)
    tampered = payload.replace('"amount_total": 4900', '"amount_total": 1')
    assert tampered != payload
    forged_payload, forged_signature = signed_event(
        "checkout.session.completed", json.loads(payload)["data"]["object"], secret="whsec_wrong"
    )
    for body, signature in (
        (forged_payload, forged_signature),  # signed with someone else's secret
        (tampered, good_signature),  # body changed after signing
        (stale_payload, stale_signature),  # a replay from ten minutes ago
        (payload, "t=1,v0=deadbeef"),  # no v1 signature at all
    ):
        with pytest.raises(grpc.aio.AioRpcError) as rejected:
            await service.webhook(body, signature)
        assert rejected.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert "signature" in (rejected.value.details() or "")

    assert await service.db.fetchval("SELECT count(*) FROM webhook_events") == 0
    assert await service.db.fetchval("SELECT count(*) FROM outbox") == 0
    assert await status_of(service, payment.id) == payments_pb2.PAYMENT_STATUS_PENDING

    # The untampered original, in time and correctly signed, is accepted.
    accepted = await service.webhook(payload, good_signature)
    assert (accepted.event_type, accepted.duplicate) == ("checkout.session.completed", False)
    assert await status_of(service, payment.id) == payments_pb2.PAYMENT_STATUS_SUCCEEDED


async def test_a_paid_checkout_that_does_not_match_never_succeeds(local_payments: Payments) -> None:
    service = local_payments
    payment = await service.checkout()
    other = await service.checkout()
    for forged in (
        {"amount_total": 100},
        {"currency": "eur"},
        {"client_reference_id": other.enrollment_id},
        {"id": other.checkout_session_id},
    ):
        payload, signature = completed_event(payment, **forged)
        response = await service.webhook(payload, signature)  # acknowledged, so Stripe stops
        assert not response.duplicate
    assert await status_of(service, payment.id) == payments_pb2.PAYMENT_STATUS_PENDING
    assert (
        await service.db.fetchval(
            "SELECT count(*) FROM payment_anomalies WHERE payment_id = $1 AND kind = 'mismatch'",
            payment.id,
        )
        == 4
    )
    assert await service.db.fetchval("SELECT count(*) FROM outbox") == 0
    assert await service.db.fetchval("SELECT count(*) FROM payout_ledger") == 0

    # Event types we do not act on are acknowledged and ignored.
    payload, signature = signed_event("customer.created", {"id": "cus_1", "object": "customer"})
    ignored = await service.webhook(payload, signature)
    assert ignored.event_type == "customer.created"
    assert (
        await service.db.fetchval(
            "SELECT outcome FROM webhook_events WHERE event_id = $1", ignored.event_id
        )
        == "ignored: event type not handled"
    )


async def test_an_expired_checkout_fails_the_payment_and_is_redelivered_until_acknowledged(
    fresh_database: str, nats_url: str, forwarder: WebhookForwarder, tmp_path: Path
) -> None:
    forwarder.fail_next = 1  # the first delivery finds the gateway down
    async with payments_service(
        fresh_database,
        nats_url,
        tmp_path,
        LOCAL_WEBHOOK_URL=forwarder.url,
        CHECKOUT_TTL_SECONDS="1",
    ) as service:
        forwarder.target = service.addr
        payment = await service.checkout()

        async def expired() -> bool:
            return await status_of(service, payment.id) == payments_pb2.PAYMENT_STATUS_EXPIRED

        await eventually(expired)
        deliveries = await eventually(forwarder.recorded, until=lambda found: len(found) >= 2)
        assert [(d.event_type, d.status) for d in deliveries] == [
            ("checkout.session.expired", 503),
            ("checkout.session.expired", 200),
        ]
        assert deliveries[0].event_id == deliveries[1].event_id
        assert (await service.payment(payment.id)).failure_reason == "checkout_expired"

        with pytest.raises(grpc.aio.AioRpcError) as closed:
            await service.stub.PayCheckoutSession(
                pb.PayCheckoutSessionRequest(
                    session_id=payment.checkout_session_id, card_number=PASSING_CARD
                ),
                metadata=SERVICE,
            )
        assert closed.value.code() is grpc.StatusCode.FAILED_PRECONDITION

        async def relayed() -> bool:
            rows = await service.outbox(FAILED, payment.id)
            return bool(rows) and all(published for _, published in rows)

        await eventually(relayed)
        [failed] = await service.published(events_pb2.PaymentFailed, payment.id)
        assert (failed.enrollment_id, failed.reason) == (payment.enrollment_id, "checkout_expired")
        assert await service.outbox(SUCCEEDED, payment.id) == []


async def test_a_paid_checkout_survives_a_crash_before_its_webhook_is_delivered(
    fresh_database: str, nats_url: str, forwarder: WebhookForwarder, tmp_path: Path
) -> None:
    forwarder.fail_next = 1_000  # the gateway is down while the learner pays
    async with payments_service(
        fresh_database, nats_url, tmp_path, LOCAL_WEBHOOK_URL=forwarder.url
    ) as first:
        forwarder.target = first.addr
        payment = await first.checkout()
        await first.stub.PayCheckoutSession(
            pb.PayCheckoutSessionRequest(
                session_id=payment.checkout_session_id, card_number=PASSING_CARD
            ),
            metadata=SERVICE,
        )

        async def attempted() -> bool:
            return bool(forwarder.deliveries)

        await eventually(attempted)
        first.proc.kill()  # kill -9: no drain, nothing flushed
        await first.proc.wait()
        assert (
            await first.db.fetchval("SELECT status FROM payments WHERE id = $1", payment.id)
            == "PENDING"
        )

    forwarder.fail_next = 0
    async with payments_service(
        fresh_database, nats_url, tmp_path, LOCAL_WEBHOOK_URL=forwarder.url
    ) as second:
        forwarder.target = second.addr

        async def succeeded() -> bool:
            return await status_of(second, payment.id) == payments_pb2.PAYMENT_STATUS_SUCCEEDED

        # The dead worker's claim on the delivery must lapse first (its lease, ~15 s).
        await eventually(succeeded, within=45)
        # The forwarder records the 200 only after the receiver has committed, so SUCCEEDED
        # can be read before it is in the list; the last recorded is then the dead process's
        # 503, or a 500 (the new process's first POST, made before `target` named it, went
        # to the dead one). Wait for the 200 itself.
        deliveries = await eventually(
            forwarder.recorded, until=lambda found: 200 in {d.status for d in found}
        )
        assert {d.event_type for d in deliveries} == {"checkout.session.completed"}
        # And it is the last: a row answered 2xx is marked delivered and not claimed again.
        assert deliveries[-1].status == 200
        assert len(await second.outbox(SUCCEEDED, payment.id)) == 1


# ----------------------------------------------------------------------- Stripe mode


async def test_stripe_mode_opens_checkouts_through_stripe_python(
    fresh_database: str, nats_url: str, tmp_path: Path
) -> None:
    async with stripe_mode_payments(fresh_database, nats_url, tmp_path) as (service, fake):
        enrollment_id = str(uuid.uuid4())
        payment = await service.checkout(enrollment_id)
        assert payment.gateway == "stripe"
        session = fake.sessions[payment.checkout_session_id]
        assert payment.checkout_url == session["url"]
        [create] = [r for r in fake.requests if r.method == "POST"]
        assert create.headers["idempotency-key"] == enrollment_id
        assert create.params["mode"] == "payment"
        assert create.params["client_reference_id"] == enrollment_id
        assert create.params["metadata"] == {
            "payment_id": payment.id,
            "enrollment_id": enrollment_id,
        }
        price = create.params["line_items"][0]["price_data"]
        assert (price["currency"], price["unit_amount"]) == ("usd", "4900")
        assert price["product_data"]["name"] == "Intro to Data Engineering"
        assert int(create.params["expires_at"]) >= time.time() + 30 * 60

        again = await service.checkout(enrollment_id)
        assert again.checkout_session_id == payment.checkout_session_id
        assert len(fake.sessions) == 1

        event = fake.complete_session(payment.checkout_session_id)
        response = await service.webhook(event.payload, event.signature)
        assert (response.event_id, response.duplicate) == (event.id, False)
        paid = await service.payment(payment.id)
        assert paid.status == payments_pb2.PAYMENT_STATUS_SUCCEEDED
        assert paid.gateway_payment_id == event.data_object["payment_intent"]
        assert (await service.webhook(event.payload, event.signature)).duplicate

        unpaid = await service.checkout()
        expired = fake.expire_session(unpaid.checkout_session_id)
        await service.webhook(expired.payload, expired.signature)
        assert await status_of(service, unpaid.id) == payments_pb2.PAYMENT_STATUS_EXPIRED

        # Stripe is down: the caller gets UNAVAILABLE and its retry opens the checkout.
        fake.failing = True
        later = str(uuid.uuid4())
        with pytest.raises(grpc.aio.AioRpcError) as down:
            await service.checkout(later)
        assert down.value.code() is grpc.StatusCode.UNAVAILABLE
        fake.failing = False
        recovered = await service.checkout(later)
        assert recovered.checkout_session_id in fake.sessions

        with pytest.raises(grpc.aio.AioRpcError) as hosted:
            await service.stub.GetCheckoutSession(
                pb.GetCheckoutSessionRequest(session_id=payment.checkout_session_id),
                metadata=SERVICE,
            )
        assert hosted.value.code() is grpc.StatusCode.FAILED_PRECONDITION

        async def relayed() -> bool:
            rows = await service.db.fetch("SELECT published_at FROM outbox")
            return len(rows) == 2 and all(r["published_at"] for r in rows)

        await eventually(relayed)
        [succeeded] = await service.published(events_pb2.PaymentSucceeded, payment.id)
        assert (succeeded.gateway, succeeded.enrollment_id) == ("stripe", enrollment_id)
        [failed] = await service.published(events_pb2.PaymentFailed, unpaid.id)
        assert failed.reason == "checkout_expired"


async def test_checkout_return_urls_off_the_public_origin_are_invalid(
    local_payments: Payments,
) -> None:
    """Finding 8: the hosted checkout redirects to these, so only our own origin will do."""
    from google.rpc import error_details_pb2
    from grpc_status import rpc_status

    request = checkout_request(str(uuid.uuid4()))
    request.success_url = "https://evil.example/"
    request.cancel_url = "https://127.0.0.1:18080@evil.example/"
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await local_payments.stub.CreateCheckout(request, metadata=SERVICE, timeout=20)

    assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    status = rpc_status.from_call(refused.value)
    assert status is not None
    bad_request = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(bad_request)
    assert [v.field for v in bad_request.field_violations] == ["success_url", "cancel_url"]
    assert await local_payments.db.fetchval("SELECT count(*) FROM payments") == 0


async def test_a_webhook_signed_in_the_future_is_refused(local_payments: Payments) -> None:
    """Finding 11: a timestamp beyond the tolerance ahead is refused, as one behind is."""
    payment = await local_payments.checkout()
    payload, signature = completed_event(payment, timestamp=int(time.time()) + 10 * 365 * 86400)

    with pytest.raises(grpc.aio.AioRpcError) as rejected:
        await local_payments.webhook(payload, signature)

    assert rejected.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "tolerance" in (rejected.value.details() or "")
    assert await status_of(local_payments, payment.id) == payments_pb2.PAYMENT_STATUS_PENDING


# ----------------------------------------------------------------------- closed enrollments

REFUNDED = payments_pb2.PAYMENT_STATUS_REFUNDED


async def publish_enrollment_event(service: Payments, message: Any, copies: int = 1) -> None:
    """Publish `message` as the enrollment service's relay would; each copy is a new event
    id (a re-sent event the stream cannot dedupe), plus one same-id duplicate."""
    nc = await nats.connect(service.nats_url)
    try:
        js = nc.jetstream()
        for _ in range(copies):
            envelope = events.new_envelope(message, source="upskill.enrollment")
            for _ in range(2):
                await js.publish(
                    events.subject_for(message),
                    message.SerializeToString(),
                    headers=envelope.headers(),
                )
    finally:
        await nc.close()


async def handled(service: Payments, message_type: Any, count: int) -> bool:
    found = await service.db.fetchval(
        "SELECT count(*) FROM processed_events WHERE consumer = 'payments' AND event_type = $1",
        message_type.DESCRIPTOR.full_name,
    )
    return int(found) >= count


def rejection(payment: payments_pb2.Payment) -> enrollment_events.EnrollmentPaymentRejected:
    return enrollment_events.EnrollmentPaymentRejected(
        enrollment_id=payment.enrollment_id,
        payment_id=payment.id,
        learner_id=payment.learner_id,
        reason="enrollment_cancelled",
        enrollment_status=enrollment_pb2.ENROLLMENT_STATUS_CANCELLED,
    )


async def refunds_of(service: Payments, enrollment_id: str) -> list[payments_pb2.Refund]:
    reply = await service.stub.ListRefunds(
        pb.ListRefundsRequest(enrollment_id=enrollment_id), metadata=ADMIN, timeout=5
    )
    return list(reply.refunds)


async def ledger_of(service: Payments, payment_id: str) -> list[tuple[str, int, int, int]]:
    rows = await service.db.fetch(
        """SELECT kind, gross_amount_minor, platform_fee_minor, provider_net_minor
             FROM payout_ledger WHERE payment_id = $1 ORDER BY id""",
        payment_id,
    )
    return [tuple(r) for r in rows]


async def test_a_rejected_payment_is_refunded_once_booked_published_and_listed(
    local_payments: Payments, forwarder: WebhookForwarder
) -> None:
    service = local_payments
    payment = await service.checkout(str(uuid.uuid4()))
    await service.stub.PayCheckoutSession(
        pb.PayCheckoutSessionRequest(
            session_id=payment.checkout_session_id, card_number=PASSING_CARD
        ),
        metadata=SERVICE,
    )

    async def status_is(wanted: int) -> bool:
        return await status_of(service, payment.id) == wanted

    await eventually(lambda: status_is(payments_pb2.PAYMENT_STATUS_SUCCEEDED))
    # The enrollment closed before the money arrived and rejects it, and the rejection is
    # delivered again under a second event id: one refund, all the same.
    await publish_enrollment_event(service, rejection(payment), copies=2)
    await eventually(lambda: status_is(REFUNDED))
    await eventually(lambda: handled(service, enrollment_events.EnrollmentPaymentRejected, 2))

    [refund] = await refunds_of(service, payment.enrollment_id)
    assert refund.status == payments_pb2.REFUND_STATUS_SUCCEEDED
    assert refund.gateway_refund_id.startswith("re_")
    assert (refund.amount.amount_minor, refund.amount.currency) == (4900, "USD")
    assert (refund.reason, refund.full_refund, refund.payment_id) == (
        "enrollment_cancelled",
        True,
        payment.id,
    )
    assert await service.db.fetchval("SELECT count(*) FROM local_refunds") == 1
    charge, reversal = await ledger_of(service, payment.id)
    assert charge[0] == "charge"
    assert reversal[0] == "refund"
    assert [a + b for a, b in zip(charge[1:], reversal[1:], strict=True)] == [0, 0, 0]

    async def refund_published() -> bool:
        return bool(await service.published(events_pb2.PaymentRefunded, payment.id))

    await eventually(refund_published)
    [published] = await service.published(events_pb2.PaymentRefunded, payment.id)
    assert (published.refund_id, published.gateway_refund_id) == (
        refund.id,
        refund.gateway_refund_id,
    )
    assert (published.enrollment_id, published.full_refund, published.reason) == (
        payment.enrollment_id,
        True,
        "enrollment_cancelled",
    )
    assert published.amount.amount_minor == 4900

    # The local provider tells the gateway what Stripe would: a signed charge.refunded.
    async def charge_refunded_delivered() -> bool:
        return any(
            d.event_type == "charge.refunded" and d.status == 200 for d in forwarder.deliveries
        )

    await eventually(charge_refunded_delivered)

    # Only operators list refunds.
    with pytest.raises(grpc.aio.AioRpcError) as denied:
        await service.stub.ListRefunds(
            pb.ListRefundsRequest(), metadata=token(Role.LEARNER, "alice")
        )
    assert denied.value.code() is grpc.StatusCode.PERMISSION_DENIED


async def test_a_cancelled_enrollments_local_checkout_is_closed_and_refuses_payment(
    local_payments: Payments,
) -> None:
    service = local_payments
    payment = await service.checkout(str(uuid.uuid4()))
    await publish_enrollment_event(
        service, enrollment_events.EnrollmentCancelled(enrollment_id=payment.enrollment_id)
    )

    async def closed() -> bool:
        return await status_of(service, payment.id) == payments_pb2.PAYMENT_STATUS_EXPIRED

    await eventually(closed)
    assert (await service.payment(payment.id)).failure_reason == "enrollment_cancelled"
    page = await service.stub.GetCheckoutSession(
        pb.GetCheckoutSessionRequest(session_id=payment.checkout_session_id), metadata=SERVICE
    )
    assert page.session.status == "expired"
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await service.stub.PayCheckoutSession(
            pb.PayCheckoutSessionRequest(
                session_id=payment.checkout_session_id, card_number=PASSING_CARD
            ),
            metadata=SERVICE,
        )
    assert refused.value.code() is grpc.StatusCode.FAILED_PRECONDITION
    # ...and no new checkout opens for it, nor for one cancelled before its checkout.
    early = str(uuid.uuid4())
    await publish_enrollment_event(
        service, enrollment_events.EnrollmentCancelled(enrollment_id=early)
    )
    await eventually(lambda: handled(service, enrollment_events.EnrollmentCancelled, 2))
    for enrollment_id in (payment.enrollment_id, early):
        with pytest.raises(grpc.aio.AioRpcError) as closed_for_good:
            await service.checkout(enrollment_id)
        assert closed_for_good.value.code() is grpc.StatusCode.FAILED_PRECONDITION

    async def failure_published() -> bool:
        return bool(await service.published(events_pb2.PaymentFailed, payment.id))

    await eventually(failure_published)


async def test_stripe_mode_expires_a_cancelled_checkout_and_refunds_through_the_api(
    fresh_database: str, nats_url: str, tmp_path: Path
) -> None:
    async with stripe_mode_payments(fresh_database, nats_url, tmp_path) as (service, fake):
        # Cancelled before paying: the session is expired through Stripe's API.
        unpaid = await service.checkout(str(uuid.uuid4()))
        await publish_enrollment_event(
            service, enrollment_events.EnrollmentCancelled(enrollment_id=unpaid.enrollment_id)
        )

        async def expired() -> bool:
            status = await status_of(service, unpaid.id)
            return status == payments_pb2.PAYMENT_STATUS_EXPIRED

        await eventually(expired)
        assert fake.sessions[unpaid.checkout_session_id]["status"] == "expired"
        expire_path = f"/v1/checkout/sessions/{unpaid.checkout_session_id}/expire"
        assert [r.method for r in fake.requests if r.path == expire_path] == ["POST"]

        # Paid at Stripe before the cancellation reached it: the session cannot be
        # expired, the payment succeeds, the enrollment rejects it, Stripe refunds it.
        paid = await service.checkout(str(uuid.uuid4()))
        event = fake.complete_session(paid.checkout_session_id)
        await service.webhook(event.payload, event.signature)
        await publish_enrollment_event(
            service, enrollment_events.EnrollmentCancelled(enrollment_id=paid.enrollment_id)
        )
        await publish_enrollment_event(service, rejection(paid), copies=2)

        async def refunded() -> bool:
            return await status_of(service, paid.id) == REFUNDED

        await eventually(refunded)
        await eventually(lambda: handled(service, enrollment_events.EnrollmentPaymentRejected, 2))
        [refund] = await refunds_of(service, paid.enrollment_id)
        [made] = fake.refunds.values()
        assert refund.gateway_refund_id == made["id"]
        assert made["payment_intent"] == event.data_object["payment_intent"]
        assert (made["amount"], made["status"]) == (4900, "succeeded")
        assert made["metadata"]["refund_id"] == refund.id
        refund_calls = [r for r in fake.requests if r.path == "/v1/refunds"]
        assert refund_calls, "the refund went through stripe-python to the fake"
        assert {r.headers["idempotency-key"] for r in refund_calls} == {f"refund-{refund.id}"}
        assert fake.sessions[paid.checkout_session_id]["status"] == "complete"
        assert [kind for kind, *_ in await ledger_of(service, paid.id)] == ["charge", "refund"]
