"""A stateful fake of Stripe's Checkout Sessions and Refunds APIs, on a real HTTP port on
127.0.0.1.

Real, unmodified stripe-python talks to it (point `base_addresses={"api": fake.api_base}`
or STRIPE_API_BASE at it). It speaks Stripe's wire format: form-encoded nested parameters
in, Stripe-shaped JSON out, Stripe-style errors (400 with `error.type`, `error.param`),
API-key authentication and Idempotency-Key replay. Test helpers then play the customer:
`complete_session` and `expire_session` return the webhook event Stripe would send,
signed with Stripe's scheme, and can POST it to a webhook URL. Refunds and charges take
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
    {"amount", "charge", "expand", "metadata", "payment_intent", "reason", "instructions_email"}
)
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
            snapshot = dict(session)
        return self._emit("checkout.session.completed", {**snapshot, **tamper})

    def expire_session(self, session_id: str) -> SignedEvent:
        """The session times out (or is expired through the API): checkout.session.expired."""
        with self._lock:
            session = self._open_session(session_id)
            session.update(status="expired", url=None)
            snapshot = dict(session)
        return self._emit("checkout.session.expired", snapshot)

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
            self._state.sessions[session_id] = session
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
            snapshot = dict(session)
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
        self._emit("charge.refunded", charge)
        return 200, dict(refund)

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
            return dict(session)


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
