"""A stateful fake of Stripe's Checkout Sessions and Refunds APIs (and of the disputes a
cardholder's bank opens), on a real HTTP port on 127.0.0.1.

Real, unmodified stripe-python talks to it (point `base_addresses={"api": fake.api_base}`
or STRIPE_API_BASE at it). It speaks Stripe's wire format: form-encoded nested parameters
in, Stripe-shaped JSON out, Stripe-style errors (400 with `error.type`, `error.param`),
API-key authentication and Idempotency-Key replay. Test helpers then play the customer:
`complete_session` and `expire_session` return the webhook event Stripe would send,
signed with Stripe's scheme, and can POST it to a webhook URL; `dispute` opens or decides a
chargeback; `events` lists every event sent. Refunds, charges and disputes take
their shape from Stripe's own API fixtures (../shared/standards/stripe/fixtures3.json, read
here, not copied), with the values of this fake's state.

It is written independently of services.payments on purpose: it stands for Stripe, so a
mistake in the service's own Stripe code cannot hide behind a shared helper.

    with FakeStripe(webhook_secret="whsec_x") as fake:
        client = stripe.StripeClient(fake.api_key, base_addresses={"api": fake.api_base})
        session = client.v1.checkout.sessions.create({...})
        event = fake.complete_session(session.id)   # event.payload, event.signature
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared/standards/stripe/fixtures3.json"

API_VERSION = "2026-10-28.endive"
MIN_EXPIRY_SECONDS = 30 * 60
MAX_EXPIRY_SECONDS = 24 * 3600
DEFAULT_EXPIRY_SECONDS = 24 * 3600
# Stripe's minimum charge is about 50 cents; the fake applies it to USD only.
MIN_USD_AMOUNT = 50

_KNOWN_PARAMS = frozenset(
    {
        "cancel_url",
        "client_reference_id",
        "currency",
        "customer",
        "customer_email",
        "expand",
        "expires_at",
        "line_items",
        "locale",
        "metadata",
        "mode",
        "payment_intent_data",
        "payment_method_types",
        "success_url",
        "ui_mode",
    }
)
_REFUND_PARAMS = frozenset(
    {
        "amount",
        "charge",
        "expand",
        "metadata",
        "payment_intent",
        "reason",
        "instructions_email",
        "reverse_transfer",
        "refund_application_fee",
    }
)
_PAYMENT_INTENT_DATA_PARAMS = frozenset(
    {"application_fee_amount", "metadata", "transfer_data", "description", "transfer_group"}
)
_ACCOUNT_PARAMS = frozenset({"type", "country", "email", "metadata", "capabilities", "controller"})
_ACCOUNT_LINK_PARAMS = frozenset({"account", "refresh_url", "return_url", "type", "collect"})
_REFUND_REASONS = frozenset({"duplicate", "fraudulent", "requested_by_customer"})
_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_CURRENCY = re.compile(r"^[a-z]{3}$")
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def _stripe_id(prefix: str, length: int = 24) -> str:
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(length))


@cache
def stripe_fixture(resource: str) -> dict[str, Any]:
    """Stripe's own example object for `resource` (e.g. "refund", "charge")."""
    fixture: dict[str, Any] = json.loads(FIXTURES.read_text())["resources"][resource]
    return fixture


def _public(obj: dict[str, Any]) -> dict[str, Any]:
    """An object as the API shows it: without the fake's own bookkeeping (`_` keys)."""
    return {k: v for k, v in obj.items() if not k.startswith("_")}


def sign(payload: str, secret: str, timestamp: int | None = None) -> str:
    """Stripe's webhook signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<payload>")>."""
    t = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{t}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


class StripeRequestError(Exception):
    """Becomes a Stripe-style error response."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type_: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body: dict[str, Any] = {"error": {"type": type_, "message": message}}
        if param is not None:
            self.body["error"]["param"] = param
        if code is not None:
            self.body["error"]["code"] = code


def decode_form(body: str) -> dict[str, Any]:
    """Stripe's nested form encoding (a[b][0][c]=v) back into dicts and lists."""
    root: dict[str, Any] = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        match = _KEY.match(key)
        if match is None:
            raise StripeRequestError(400, f"Invalid parameter name: {key}")
        path = [match.group(1), *re.findall(r"\[([^\[\]]*)\]", match.group(2))]
        node = root
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise StripeRequestError(400, f"Invalid parameter: {key}", param=key)
        node[path[-1]] = value
    return _lists(root)


def _lists(node: Any) -> Any:
    """Dicts whose keys are 0..n-1 are how Stripe encodes arrays."""
    if not isinstance(node, dict):
        return node
    converted = {k: _lists(v) for k, v in node.items()}
    if converted and all(k.isdigit() for k in converted):
        indexes = sorted(int(k) for k in converted)
        if indexes == list(range(len(indexes))):
            return [converted[str(i)] for i in indexes]
    return converted


def _integer(value: Any, param: str) -> int:
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]+", value):
        return int(value)
    raise StripeRequestError(400, f"Invalid integer: {value}", param=param)


def _require(params: dict[str, Any], name: str, parent: str = "") -> Any:
    value = params.get(name)
    if value is None or value == "":
        param = f"{parent}[{name}]" if parent else name
        raise StripeRequestError(
            400, f"Missing required param: {param}.", param=param, code="parameter_missing"
        )
    return value


def _check_url(params: dict[str, Any], name: str) -> None:
    value = params.get(name)
    if value is None:
        return
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise StripeRequestError(400, "Not a valid URL", param=name, code="url_invalid")


@dataclass(frozen=True)
class SignedEvent:
    id: str
    type: str
    payload: str  # the exact body
    signature: str  # the Stripe-Signature header

    @property
    def data_object(self) -> dict[str, Any]:
        obj: dict[str, Any] = json.loads(self.payload)["data"]["object"]
        return obj


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    params: dict[str, Any]


@dataclass
class _State:
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Idempotency-Key -> (request fingerprint, response status, response body)
    idempotency: dict[str, tuple[str, int, dict[str, Any]]] = field(default_factory=dict)
    requests: list[RecordedRequest] = field(default_factory=list)
    # Every event this fake sent (or would have), in order.
    events: list[SignedEvent] = field(default_factory=list)
    disputes: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Stripe Connect: connected accounts, the transfers of destination charges, the
    # platform's application fees, and what refunds reversed of them.
    accounts: dict[str, dict[str, Any]] = field(default_factory=dict)
    transfers: dict[str, dict[str, Any]] = field(default_factory=dict)
    application_fees: dict[str, dict[str, Any]] = field(default_factory=dict)


class FakeStripe:
    def __init__(
        self,
        *,
        webhook_secret: str,
        api_key: str = "sk_test_fake_0123456789",
        webhook_url: str | None = None,
    ) -> None:
        self.webhook_secret = webhook_secret
        self.api_key = api_key
        self.webhook_url = webhook_url
        self._state = _State()
        self._lock = threading.Lock()
        # Serialises idempotent creates, so two concurrent retries make one session.
        self._create_lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        # Set to make the API answer 500s, as Stripe does during an incident.
        self.failing = False

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeStripe:
        fake = self

        class Handler(_Handler):
            stripe = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        # A short poll keeps stop() (and so each test's teardown) quick.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeStripe:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def api_base(self) -> str:
        assert self._server is not None, "FakeStripe is not started"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    # ------------------------------------------------------------------ inspection

    @property
    def sessions(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return json.loads(json.dumps(self._state.sessions))  # a snapshot

    @property
    def refunds(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return json.loads(json.dumps(self._state.refunds))

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._state.requests)

    @property
    def accounts(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return json.loads(json.dumps(self._state.accounts))

    @property
    def transfers(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return json.loads(json.dumps(self._state.transfers))

    @property
    def application_fees(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return json.loads(json.dumps(self._state.application_fees))

    @property
    def events(self) -> list[SignedEvent]:
        with self._lock:
            return list(self._state.events)

    # ------------------------------------------------------------------ customer actions

    def complete_session(self, session_id: str, **tamper: Any) -> SignedEvent:
        """The customer pays: the session completes and checkout.session.completed is
        returned signed (and POSTed when webhook_url is set). `tamper` overrides fields of
        the event's data.object only, to forge what a misbehaving gateway might send."""
        with self._lock:
            session = self._open_session(session_id)
            session.update(
                status="complete",
                payment_status="paid",
                payment_intent=_stripe_id("pi_"),
                url=None,
            )
            self._destination_charge(session)
            snapshot = _public(session)
        return self._emit("checkout.session.completed", {**snapshot, **tamper})

    def _destination_charge(self, session: dict[str, Any]) -> None:
        """A paid destination charge: the connected account gets a transfer of the amount
        less the application fee, which the platform keeps. Under _lock."""
        intent_data = session.get("_payment_intent_data") or {}
        destination = (intent_data.get("transfer_data") or {}).get("destination")
        if not destination:
            return
        fee = int(intent_data.get("application_fee_amount") or 0)
        charge_id = "ch_" + session["payment_intent"].removeprefix("pi_")
        now = int(time.time())
        transfer = {
            **stripe_fixture("transfer"),
            "id": _stripe_id("tr_"),
            "amount": session["amount_total"] - fee,
            "amount_reversed": 0,
            "created": now,
            "currency": session["currency"],
            "destination": destination,
            "metadata": {},
            "reversals": {"object": "list", "data": [], "has_more": False},
            "reversed": False,
            "source_transaction": charge_id,
        }
        self._state.transfers[transfer["id"]] = transfer
        if fee:
            application_fee = {
                **stripe_fixture("application_fee"),
                "id": _stripe_id("fee_"),
                "account": destination,
                "amount": fee,
                "amount_refunded": 0,
                "charge": charge_id,
                "created": now,
                "currency": session["currency"],
                "refunded": False,
                "refunds": {"object": "list", "data": [], "has_more": False},
            }
            self._state.application_fees[application_fee["id"]] = application_fee

    def expire_session(self, session_id: str) -> SignedEvent:
        """The session times out (or is expired through the API): checkout.session.expired."""
        with self._lock:
            session = self._open_session(session_id)
            session.update(status="expired", url=None)
            snapshot = _public(session)
        return self._emit("checkout.session.expired", snapshot)

    def dispute(self, payment_intent: str, status: str, dispute_id: str = "") -> SignedEvent:
        """The cardholder's bank disputes the charge (charge.dispute.created), or decides it
        (charge.dispute.closed, status won or lost): a dispute as Stripe's fixtures shape it."""
        with self._lock:
            paid = [
                s
                for s in self._state.sessions.values()
                if s.get("payment_intent") == payment_intent and s["payment_status"] == "paid"
            ]
            if not paid:
                raise KeyError(f"no paid session with payment_intent {payment_intent}")
            session = paid[0]
            dispute = self._state.disputes.get(dispute_id) if dispute_id else None
            if dispute is None:
                dispute = {
                    **stripe_fixture("dispute"),
                    "id": dispute_id or _stripe_id("dp_"),
                    "amount": session["amount_total"],
                    "charge": "ch_" + payment_intent.removeprefix("pi_"),
                    "created": int(time.time()),
                    "currency": session["currency"],
                    "payment_intent": payment_intent,
                    "reason": "fraudulent",
                }
                self._state.disputes[dispute["id"]] = dispute
            dispute["status"] = status
            closed = status in ("won", "lost")
            snapshot = dict(dispute)
        return self._emit("charge.dispute.closed" if closed else "charge.dispute.created", snapshot)

    def event(self, event_type: str, data_object: dict[str, Any]) -> SignedEvent:
        """Any event, signed: for types the helpers above do not cover."""
        return self._emit(event_type, data_object)

    def sign(self, payload: str, timestamp: int | None = None) -> str:
        return sign(payload, self.webhook_secret, timestamp)

    def deliver(self, event: SignedEvent, url: str | None = None) -> int:
        """POST `event` to a webhook endpoint as Stripe does; returns the HTTP status."""
        target = url or self.webhook_url
        if not target:
            raise ValueError("no webhook URL to deliver to")
        request = urllib.request.Request(
            target,
            data=event.payload.encode(),
            method="POST",
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "Stripe-Signature": self.sign(event.payload),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)

    def _open_session(self, session_id: str) -> dict[str, Any]:
        session = self._state.sessions.get(session_id)
        if session is None:
            raise KeyError(f"no such checkout session {session_id}")
        if session["status"] != "open":
            raise ValueError(f"checkout session {session_id} is {session['status']}")
        return session

    def _emit(self, event_type: str, data_object: dict[str, Any]) -> SignedEvent:
        event_id = _stripe_id("evt_")
        payload = json.dumps(
            {
                "id": event_id,
                "object": "event",
                "api_version": API_VERSION,
                "created": int(time.time()),
                "data": {"object": data_object},
                "livemode": False,
                "pending_webhooks": 1,
                "request": {"id": None, "idempotency_key": None},
                "type": event_type,
            }
        )
        event = SignedEvent(event_id, event_type, payload, self.sign(payload))
        with self._lock:
            self._state.events.append(event)
        if self.webhook_url:
            self.deliver(event)
        return event

    # ------------------------------------------------------------------ API

    def handle(
        self, method: str, path: str, headers: dict[str, str], body: str
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        """One API request -> (status, JSON body, extra headers)."""
        try:
            params = decode_form(body if method == "POST" else urlsplit(path).query)
            with self._lock:
                self._state.requests.append(
                    RecordedRequest(method, urlsplit(path).path, headers, params)
                )
            self._authenticate(headers)
            if self.failing:
                raise StripeRequestError(500, "An unknown error occurred", type_="api_error")
            route = urlsplit(path).path.rstrip("/")
            if method == "POST" and route == "/v1/checkout/sessions":
                with self._create_lock:
                    return self._idempotent(headers, params, self._create_session)
            match = re.fullmatch(r"/v1/checkout/sessions/([^/]+)", route)
            if method == "GET" and match:
                return 200, self._retrieve_session(match.group(1)), {}
            match = re.fullmatch(r"/v1/checkout/sessions/([^/]+)/expire", route)
            if method == "POST" and match:
                return 200, self._expire_via_api(match.group(1)), {}
            if method == "POST" and route == "/v1/refunds":
                with self._create_lock:
                    return self._idempotent(headers, params, self._create_refund)
            if method == "GET" and route in ("/v1/refunds", "/v1/disputes"):
                return 200, self._list(route, params), {}
            if method == "POST" and route == "/v1/accounts":
                with self._create_lock:
                    return self._idempotent(headers, params, self._create_account)
            if method == "POST" and route == "/v1/account_links":
                return 200, self._create_account_link(params), {}
            raise StripeRequestError(
                404, f"Unrecognized request URL ({method}: {urlsplit(path).path})."
            )
        except StripeRequestError as exc:
            return exc.status, exc.body, {}

    def _authenticate(self, headers: dict[str, str]) -> None:
        scheme, _, key = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not key:
            raise StripeRequestError(
                401, "You did not provide an API key. Provide it as a Bearer token."
            )
        if key != self.api_key:
            raise StripeRequestError(401, f"Invalid API Key provided: {key[:8]}****")

    def _idempotent(
        self,
        headers: dict[str, str],
        params: dict[str, Any],
        create: Callable[[dict[str, Any]], tuple[int, dict[str, Any]]],
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        """Stripe's Idempotency-Key: the same key and parameters replay the first result;
        the same key with other parameters is an idempotency_error. Runs under _create_lock."""
        key = headers.get("idempotency-key")
        if not key:
            status, body = create(params)
            return status, body, {}
        fingerprint = json.dumps(params, sort_keys=True)
        seen = self._state.idempotency.get(key)
        if seen is not None:
            if seen[0] != fingerprint:
                raise StripeRequestError(
                    400,
                    "Keys for idempotent requests can only be used with the same parameters "
                    f"they were first used with. Try using a key other than '{key}' if you "
                    "meant to execute a different request.",
                    type_="idempotency_error",
                )
            return seen[1], seen[2], {"Idempotent-Replayed": "true"}
        status, body = create(params)
        # Like Stripe, only a request that passed validation leaves a replayable result.
        self._state.idempotency[key] = (fingerprint, status, body)
        return status, body, {}

    def _create_session(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        unknown = sorted(set(params) - _KNOWN_PARAMS)
        if unknown:
            raise StripeRequestError(
                400, f"Received unknown parameter: {unknown[0]}", param=unknown[0]
            )
        mode = _require(params, "mode")
        if mode not in ("payment", "setup", "subscription"):
            raise StripeRequestError(400, f"Invalid mode: {mode}", param="mode")
        for url in ("success_url", "cancel_url"):
            _check_url(params, url)
        items = _require(params, "line_items") if mode == "payment" else []
        if not isinstance(items, list) or not items:
            raise StripeRequestError(400, "Invalid array", param="line_items")
        total, currency = 0, None
        for index, item in enumerate(items):
            prefix = f"line_items[{index}]"
            if not isinstance(item, dict):
                raise StripeRequestError(400, "Invalid object", param=prefix)
            quantity = _integer(_require(item, "quantity", prefix), f"{prefix}[quantity]")
            price = _require(item, "price_data", prefix)
            if not isinstance(price, dict):
                raise StripeRequestError(400, "Invalid object", param=f"{prefix}[price_data]")
            item_currency = _require(price, "currency", f"{prefix}[price_data]")
            if not _CURRENCY.match(item_currency):
                raise StripeRequestError(
                    400,
                    f"Invalid currency: {item_currency}",
                    param=f"{prefix}[price_data][currency]",
                )
            unit_amount = _integer(
                _require(price, "unit_amount", f"{prefix}[price_data]"),
                f"{prefix}[price_data][unit_amount]",
            )
            product = _require(price, "product_data", f"{prefix}[price_data]")
            if not isinstance(product, dict):
                raise StripeRequestError(400, "Invalid object", param=f"{prefix}[product_data]")
            _require(product, "name", f"{prefix}[price_data][product_data]")
            if quantity < 1 or unit_amount < 0:
                raise StripeRequestError(400, "Invalid non-negative integer", param=prefix)
            if currency not in (None, item_currency):
                raise StripeRequestError(400, "All line items must use the same currency.")
            currency = item_currency
            total += quantity * unit_amount
        if currency == "usd" and total < MIN_USD_AMOUNT:
            raise StripeRequestError(
                400,
                "The Checkout Session's total amount due must add up to at least $0.50 usd",
                code="amount_too_small",
            )
        now = int(time.time())
        expires_at = now + DEFAULT_EXPIRY_SECONDS
        if "expires_at" in params:
            expires_at = _integer(params["expires_at"], "expires_at")
            if not now + MIN_EXPIRY_SECONDS <= expires_at <= now + MAX_EXPIRY_SECONDS:
                raise StripeRequestError(
                    400,
                    "The `expires_at` timestamp must be between 30 minutes and 24 hours "
                    "after the Checkout Session is created.",
                    param="expires_at",
                )
        client_reference_id = params.get("client_reference_id")
        if client_reference_id is not None and len(client_reference_id) > 200:
            raise StripeRequestError(400, "Invalid string", param="client_reference_id")
        metadata = params.get("metadata") or {}
        if not isinstance(metadata, dict) or len(metadata) > 50:
            raise StripeRequestError(400, "Invalid metadata", param="metadata")
        intent_data = params.get("payment_intent_data") or {}
        if not isinstance(intent_data, dict):
            raise StripeRequestError(400, "Invalid object", param="payment_intent_data")
        unknown_intent = sorted(set(intent_data) - _PAYMENT_INTENT_DATA_PARAMS)
        if unknown_intent:
            raise StripeRequestError(
                400,
                f"Received unknown parameter: payment_intent_data[{unknown_intent[0]}]",
                param=f"payment_intent_data[{unknown_intent[0]}]",
            )
        if "application_fee_amount" in intent_data:
            fee = _integer(
                intent_data["application_fee_amount"], "payment_intent_data[application_fee_amount]"
            )
            if not 0 <= fee <= total:
                raise StripeRequestError(
                    400,
                    "The application fee cannot exceed the amount of the charge.",
                    param="payment_intent_data[application_fee_amount]",
                )
            if not (intent_data.get("transfer_data") or {}).get("destination"):
                raise StripeRequestError(
                    400,
                    "Can only apply an application_fee_amount when the PaymentIntent is "
                    "attempting a direct payment (using an OAuth key or Stripe-Account header) "
                    "or destination payment (using `transfer_data[destination]`).",
                    param="payment_intent_data[application_fee_amount]",
                )
        destination = (intent_data.get("transfer_data") or {}).get("destination")
        if destination is not None:
            with self._lock:
                known = destination in self._state.accounts
            if not known:
                raise StripeRequestError(
                    400,
                    f"No such destination: '{destination}'",
                    param="payment_intent_data[transfer_data][destination]",
                    code="resource_missing",
                )
        session_id = _stripe_id("cs_test_", 58)
        session = {
            "id": session_id,
            "object": "checkout.session",
            "amount_subtotal": total,
            "amount_total": total,
            "cancel_url": params.get("cancel_url"),
            "client_reference_id": client_reference_id,
            "created": now,
            "currency": currency,
            "customer_email": params.get("customer_email"),
            "expires_at": expires_at,
            "livemode": False,
            "metadata": metadata,
            "mode": mode,
            "payment_intent": None,
            "payment_status": "unpaid",
            "status": "open",
            "success_url": params.get("success_url"),
            "url": f"{self.api_base}/c/pay/{session_id}",
        }
        with self._lock:
            # Kept apart (underscore): Checkout does not show it on the session object.
            self._state.sessions[session_id] = {**session, "_payment_intent_data": intent_data}
        return 200, dict(session)

    def _expire_via_api(self, session_id: str) -> dict[str, Any]:
        """POST /v1/checkout/sessions/{id}/expire: only an open session can be expired; Stripe
        then sends checkout.session.expired."""
        with self._lock:
            session = self._state.sessions.get(session_id)
            if session is None:
                raise StripeRequestError(
                    404,
                    f"No such checkout.session: '{session_id}'",
                    param="session",
                    code="resource_missing",
                )
            if session["status"] != "open":
                raise StripeRequestError(
                    400, 'Only Checkout Sessions with a status in ["open"] can be expired.'
                )
            session.update(status="expired", url=None)
            snapshot = _public(session)
        self._emit("checkout.session.expired", snapshot)
        return snapshot

    def _create_refund(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        unknown = sorted(set(params) - _REFUND_PARAMS)
        if unknown:
            raise StripeRequestError(
                400, f"Received unknown parameter: {unknown[0]}", param=unknown[0]
            )
        intent = params.get("payment_intent")
        if not intent:
            raise StripeRequestError(
                400,
                "One of the following params should be provided for this request: "
                "payment_intent or charge.",
                code="parameter_missing",
            )
        reason = params.get("reason")
        if reason is not None and reason not in _REFUND_REASONS:
            raise StripeRequestError(400, f"Invalid reason: {reason}", param="reason")
        with self._lock:
            paid = [
                s
                for s in self._state.sessions.values()
                if s.get("payment_intent") == intent and s["payment_status"] == "paid"
            ]
            if not paid:
                raise StripeRequestError(
                    404,
                    f"No such payment_intent: '{intent}'",
                    param="payment_intent",
                    code="resource_missing",
                )
            session = paid[0]
            already = sum(
                r["amount"] for r in self._state.refunds.values() if r["payment_intent"] == intent
            )
            amount = (
                _integer(params["amount"], "amount")
                if "amount" in params
                else session["amount_total"] - already
            )
            if amount <= 0 or already + amount > session["amount_total"]:
                raise StripeRequestError(
                    400,
                    f"Refund amount ({amount}) is greater than unrefunded amount on charge "
                    f"({session['amount_total'] - already})",
                    param="amount",
                    code="amount_too_large" if amount > 0 else None,
                )
            charge_id = "ch_" + intent.removeprefix("pi_")
            refund = {
                **stripe_fixture("refund"),
                "id": _stripe_id("re_"),
                "amount": amount,
                "charge": charge_id,
                "created": int(time.time()),
                "currency": session["currency"],
                "metadata": params.get("metadata") or {},
                "payment_intent": intent,
                "reason": reason,
                "status": "succeeded",
            }
            if params.get("reverse_transfer") in ("true", True):
                refund["transfer_reversal"] = self._reverse(
                    charge_id, amount, session["amount_total"], refund["id"]
                )
            if params.get("refund_application_fee") in ("true", True):
                self._refund_fee(charge_id, amount, session["amount_total"])
            self._state.refunds[refund["id"]] = refund
            charge = {
                **stripe_fixture("charge"),
                "id": charge_id,
                "amount": session["amount_total"],
                "amount_captured": session["amount_total"],
                "amount_refunded": already + amount,
                "currency": session["currency"],
                "metadata": session.get("metadata") or {},
                "payment_intent": intent,
                "refunded": already + amount == session["amount_total"],
            }
        # As Stripe does: the charge's event, then the refund's own.
        self._emit("charge.refunded", charge)
        self._emit("refund.created", dict(refund))
        return 200, dict(refund)

    def _list(self, route: str, params: dict[str, Any]) -> dict[str, Any]:
        """GET /v1/refunds or /v1/disputes, filtered by payment_intent, newest first."""
        unknown = sorted(set(params) - {"payment_intent", "limit", "charge"})
        if unknown:
            raise StripeRequestError(
                400, f"Received unknown parameter: {unknown[0]}", param=unknown[0]
            )
        limit = _integer(params.get("limit", 10), "limit")
        if not 1 <= limit <= 100:
            raise StripeRequestError(400, "Invalid limit", param="limit")
        with self._lock:
            pool = self._state.refunds if route == "/v1/refunds" else self._state.disputes
            found = [
                dict(o)
                for o in pool.values()
                if "payment_intent" not in params or o["payment_intent"] == params["payment_intent"]
            ]
        found.sort(key=lambda o: o["created"], reverse=True)
        return {
            "object": "list",
            "data": found[:limit],
            "has_more": len(found) > limit,
            "url": route,
        }

    def _reverse(self, charge_id: str, amount: int, total: int, refund_id: str) -> str | None:
        """Reverse the charge's transfer in proportion to the refund. Under _lock."""
        for transfer in self._state.transfers.values():
            if transfer["source_transaction"] != charge_id:
                continue
            share = (transfer["amount"] * amount * 2 + total) // (total * 2)
            share = min(share, transfer["amount"] - transfer["amount_reversed"])
            reversal = {
                **stripe_fixture("transfer_reversal"),
                "id": _stripe_id("trr_"),
                "amount": share,
                "created": int(time.time()),
                "currency": transfer["currency"],
                "metadata": {},
                "source_refund": refund_id,
                "transfer": transfer["id"],
            }
            transfer["reversals"]["data"].append(reversal)
            transfer["amount_reversed"] += share
            transfer["reversed"] = transfer["amount_reversed"] == transfer["amount"]
            return str(reversal["id"])
        return None

    def _refund_fee(self, charge_id: str, amount: int, total: int) -> None:
        """Give back the application fee in proportion to the refund. Under _lock."""
        for fee in self._state.application_fees.values():
            if fee["charge"] != charge_id:
                continue
            share = (fee["amount"] * amount * 2 + total) // (total * 2)
            share = min(share, fee["amount"] - fee["amount_refunded"])
            fee["refunds"]["data"].append(
                {
                    **stripe_fixture("fee_refund"),
                    "id": _stripe_id("fr_"),
                    "amount": share,
                    "created": int(time.time()),
                    "currency": fee["currency"],
                    "fee": fee["id"],
                    "metadata": {},
                }
            )
            fee["amount_refunded"] += share
            fee["refunded"] = fee["amount_refunded"] == fee["amount"]

    def _create_account(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        unknown = sorted(set(params) - _ACCOUNT_PARAMS)
        if unknown:
            raise StripeRequestError(
                400, f"Received unknown parameter: {unknown[0]}", param=unknown[0]
            )
        kind = params.get("type", "express")
        if kind not in ("standard", "express", "custom"):
            raise StripeRequestError(400, f"Invalid type: {kind}", param="type")
        account = {
            **stripe_fixture("account"),
            "id": _stripe_id("acct_", 16),
            "type": kind,
            "created": int(time.time()),
            "charges_enabled": False,
            "details_submitted": False,
            "payouts_enabled": False,
            "email": params.get("email"),
            "metadata": params.get("metadata") or {},
        }
        with self._lock:
            self._state.accounts[account["id"]] = account
        return 200, dict(account)

    def _create_account_link(self, params: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(params) - _ACCOUNT_LINK_PARAMS)
        if unknown:
            raise StripeRequestError(
                400, f"Received unknown parameter: {unknown[0]}", param=unknown[0]
            )
        account = _require(params, "account")
        for name in ("refresh_url", "return_url"):
            _require(params, name)
            _check_url(params, name)
        if params.get("type") not in ("account_onboarding", "account_update"):
            raise StripeRequestError(400, "Invalid type", param="type")
        with self._lock:
            if account not in self._state.accounts:
                raise StripeRequestError(
                    400, f"No such account: '{account}'", param="account", code="resource_missing"
                )
        now = int(time.time())
        return {
            **stripe_fixture("account_link"),
            "created": now,
            "expires_at": now + 300,
            "url": f"{self.api_base}/setup/e/{account}/{_stripe_id('', 12)}",
        }

    def onboard(self, account_id: str) -> None:
        """The provider finishes onboarding: the account can take charges and payouts."""
        with self._lock:
            self._state.accounts[account_id].update(
                charges_enabled=True, details_submitted=True, payouts_enabled=True
            )

    def _retrieve_session(self, session_id: str) -> dict[str, Any]:
        with self._lock:
            session = self._state.sessions.get(session_id)
            if session is None:
                raise StripeRequestError(
                    404,
                    f"No such checkout.session: '{session_id}'",
                    param="session",
                    code="resource_missing",
                )
            return _public(session)


class _Handler(BaseHTTPRequestHandler):
    stripe: FakeStripe
    protocol_version = "HTTP/1.1"

    def _serve(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8") if length else ""
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, payload, extra = self.stripe.handle(method, self.path, headers, body)
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Request-Id", _stripe_id("req_", 14))
        self.send_header("Stripe-Version", API_VERSION)
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output quiet
