"""gRPC status -> problem+json, against real statuses from a real in-process gRPC server.

The server here is not a stand-in for any Upskill service: it answers every method with
whatever status the test asks for (built by services.common.interceptors.status_for, as
the services build theirs) and records what it received, so the tests see exactly what a
client of the real services sees on the wire.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import grpc
import httpx
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from upskill.payments.v1 import payments_service_pb2

from services.common.auth import DEV_ISSUER, AuthSettings, TokenVerifier, mint_dev_token
from services.common.errors import (
    AlreadyExistsError,
    ConflictError,
    FailedPreconditionError,
    FieldViolation,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    ResourceExhaustedError,
    ServiceError,
    UnauthenticatedError,
)
from services.common.grpc_client import DEFAULT_DEADLINE_SECONDS
from services.common.interceptors import status_for
from services.common.status_codes import code_of
from services.gateway.app import create_app
from services.gateway.clients import Clients, invoke
from services.gateway.problems import PROBLEM_MEDIA_TYPE, ProblemError
from services.gateway.rpc_errors import problem_from_rpc_error, rename
from services.gateway.settings import GatewaySettings

SECRET = "s" * 40


@dataclass
class Call:
    method: str
    request: bytes
    metadata: dict[str, str]
    time_remaining: float | None


@dataclass
class Answer:
    """What the server answers: an error status, a delay, or OK with these bytes."""

    error: ServiceError | None = None
    status: grpc.Status | None = None
    raw_code: grpc.StatusCode | None = None
    delay: float = 0.0
    crash: bool = False
    reply: bytes = b""


@dataclass
class WireServer:
    address: str
    answer: Answer = field(default_factory=Answer)
    calls: list[Call] = field(default_factory=list)


class _AnyMethod(grpc.GenericRpcHandler):
    def __init__(self, server: WireServer) -> None:
        self._server = server

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
        method = handler_call_details.method
        wire = self._server

        async def handle(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
            wire.calls.append(
                Call(
                    method,
                    request,
                    {k: str(v) for k, v in context.invocation_metadata() or ()},
                    context.time_remaining(),
                )
            )
            answer = wire.answer
            if answer.delay:
                await asyncio.sleep(answer.delay)
            if answer.crash:
                raise RuntimeError("secret internals: db password is hunter2")
            if answer.error is not None:
                await context.abort_with_status(status_for(answer.error))
            if answer.status is not None:
                await context.abort_with_status(answer.status)
            if answer.raw_code is not None:
                await context.abort(answer.raw_code, "stack trace at db.py:42")
            return answer.reply

        return grpc.unary_unary_rpc_method_handler(handle)  # bytes in, bytes out


@pytest.fixture
async def wire() -> AsyncIterator[WireServer]:
    server = grpc.aio.server()
    port = server.add_insecure_port("127.0.0.1:0")
    state = WireServer(f"127.0.0.1:{port}")
    server.add_generic_rpc_handlers((_AnyMethod(state),))
    await server.start()
    yield state
    await server.stop(None)


async def _fail_with(wire: WireServer, answer: Answer, deadline: float = 5.0) -> grpc.RpcError:
    wire.answer = answer
    async with grpc.aio.insecure_channel(wire.address) as chan:
        call = chan.unary_unary("/test.v1.Anything/Do")
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call(b"", timeout=deadline)
    return caught.value


# ---------------------------------------------------------------- the mapping


@pytest.mark.parametrize(
    ("error", "status", "slug"),
    [
        (UnauthenticatedError("token expired"), 401, "unauthenticated"),
        (PermissionDeniedError("not your program"), 403, "forbidden"),
        (NotFoundError("no program 42"), 404, "not-found"),
        (AlreadyExistsError("provider exists"), 409, "already-exists"),
        (FailedPreconditionError("program is archived"), 409, "conflict"),
        (ConflictError("version 3 is stale (now 4)"), 412, "version-mismatch"),
        (ResourceExhaustedError("sold out"), 409, "sold-out"),
    ],
)
async def test_client_errors_keep_the_service_message(
    wire: WireServer, error: ServiceError, status: int, slug: str
) -> None:
    problem = problem_from_rpc_error(await _fail_with(wire, Answer(error=error)))

    assert problem.status == status
    assert problem.type == f"urn:upskill:problem:{slug}"
    assert problem.detail == error.message
    assert problem.errors == []
    assert problem.grpc_code == code_of(error).name


async def test_unauthenticated_asks_for_a_bearer_token(wire: WireServer) -> None:
    problem = problem_from_rpc_error(
        await _fail_with(wire, Answer(error=UnauthenticatedError("no token")))
    )
    assert problem.headers["WWW-Authenticate"].startswith("Bearer")


async def test_invalid_argument_carries_bad_request_field_violations(wire: WireServer) -> None:
    error = InvalidArgumentError(
        "invalid request",
        [
            FieldViolation("spec.price.currency", "value does not match regex pattern"),
            FieldViolation("spec.title", "value length must be at least 1 characters"),
            FieldViolation("program_id", "value must be a valid UUID"),
        ],
    )
    rpc_error = await _fail_with(wire, Answer(error=error))

    problem = problem_from_rpc_error(rpc_error, {"spec": ""})

    assert problem.status == 422
    assert problem.type == "urn:upskill:problem:invalid-input"
    assert [(e.field, e.message) for e in problem.errors] == [
        ("price.currency", "value does not match regex pattern"),
        ("title", "value length must be at least 1 characters"),
        ("program_id", "value must be a valid UUID"),
    ]
    body = problem.document()
    assert body["errors"][0] == {
        "field": "price.currency",
        "message": "value does not match regex pattern",
    }


async def test_invalid_argument_without_details_still_maps_to_422(wire: WireServer) -> None:
    rpc_error = await _fail_with(wire, Answer(raw_code=grpc.StatusCode.INVALID_ARGUMENT))
    problem = problem_from_rpc_error(rpc_error)
    assert problem.status == 422
    assert problem.errors == []
    # A bare status's text was not written for callers ("stack trace at db.py:42"): the
    # client gets a stable sentence instead.
    assert problem.detail == "invalid input"


@pytest.mark.parametrize("code", [grpc.StatusCode.UNAVAILABLE])
async def test_unavailable_is_503_with_retry_after(wire: WireServer, code: grpc.StatusCode) -> None:
    problem = problem_from_rpc_error(await _fail_with(wire, Answer(raw_code=code)))
    assert problem.status == 503
    assert problem.headers["Retry-After"].isdigit()
    assert "db.py" not in problem.detail


async def test_a_real_deadline_is_503(wire: WireServer) -> None:
    rpc_error = await _fail_with(wire, Answer(delay=1.0), deadline=0.05)
    assert rpc_error.code() is grpc.StatusCode.DEADLINE_EXCEEDED
    assert problem_from_rpc_error(rpc_error).status == 503


async def test_an_unreachable_service_is_503() -> None:
    async with grpc.aio.insecure_channel("127.0.0.1:1") as chan:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await chan.unary_unary("/test.v1.Anything/Do")(b"", timeout=2)
    assert problem_from_rpc_error(caught.value).status == 503


@pytest.mark.parametrize(
    "answer",
    [
        Answer(raw_code=grpc.StatusCode.INTERNAL),
        Answer(raw_code=grpc.StatusCode.DATA_LOSS),
        Answer(raw_code=grpc.StatusCode.UNIMPLEMENTED),
        Answer(crash=True),  # an exception in a handler reaches the client as UNKNOWN
    ],
)
async def test_anything_else_is_502_and_leaks_nothing(wire: WireServer, answer: Answer) -> None:
    problem = problem_from_rpc_error(await _fail_with(wire, answer))
    document = json.dumps(problem.document())
    assert problem.status == 502
    assert "hunter2" not in document
    assert "db.py" not in document
    assert problem.errors == []


def test_a_constructed_error_with_inconsistent_details_is_still_mapped() -> None:
    # grpc-status-details-bin whose code disagrees with the call's: ignore the details.
    details = status_for(InvalidArgumentError("bad", [FieldViolation("title", "empty")]))
    trailing = grpc.aio.Metadata(*details.trailing_metadata)
    error = grpc.aio.AioRpcError(
        grpc.StatusCode.NOT_FOUND, grpc.aio.Metadata(), trailing, details="no such program"
    )
    problem = problem_from_rpc_error(error)
    assert problem.status == 404
    assert problem.detail == "no such program"
    assert problem.errors == []


def test_a_constructed_bad_request_error_maps_field_details() -> None:
    details = status_for(InvalidArgumentError("bad", [FieldViolation("query", "too long")]))
    error = grpc.aio.AioRpcError(
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.aio.Metadata(),
        grpc.aio.Metadata(*details.trailing_metadata),
        details="bad",
    )
    problem = problem_from_rpc_error(error, {"query": "q"})
    assert [(e.field, e.message) for e in problem.errors] == [("q", "too long")]


@pytest.mark.parametrize(
    ("path", "renames", "expected"),
    [
        ("spec.title", {"spec": ""}, "title"),
        ("spec.credential.name", {"spec": ""}, "credential.name"),
        ("spec", {"spec": ""}, "spec"),
        ("query", {"query": "q"}, "q"),
        ("idempotency_key", {"idempotency_key": "Idempotency-Key"}, "Idempotency-Key"),
        ("program_id", {"spec": ""}, "program_id"),
        ("a.b.c", {"a": "x", "a.b": "y"}, "y.c"),
    ],
)
def test_rename(path: str, renames: dict[str, str], expected: str) -> None:
    assert rename(path, renames) == expected


# ---------------------------------------------------------------- invoke and the app


def _message() -> health_pb2.HealthCheckRequest:
    return health_pb2.HealthCheckRequest(service="anything")


def _serialize(message: health_pb2.HealthCheckRequest) -> bytes:
    return message.SerializeToString()


class _RecordTimeouts(grpc.aio.UnaryUnaryClientInterceptor):
    """Records the timeout each call is made with, as the channel sees it."""

    def __init__(self) -> None:
        self.timeouts: list[float | None] = []

    async def intercept_unary_unary(
        self, continuation: Any, client_call_details: grpc.aio.ClientCallDetails, request: Any
    ) -> Any:
        self.timeouts.append(client_call_details.timeout)
        return await continuation(client_call_details, request)


@pytest.mark.parametrize(
    ("deadline", "expected"),
    [(None, DEFAULT_DEADLINE_SECONDS), (1.25, 1.25)],
    ids=["default", "explicit"],
)
async def test_invoke_sets_a_deadline_and_forwards_the_token(
    wire: WireServer, deadline: float | None, expected: float
) -> None:
    # The deadline is checked where it is set, not by reading the clock at the server: gRPC
    # rounds the deadline it sends up, so the server's time_remaining can exceed it.
    wire.answer = Answer(reply=b"")
    timeouts = _RecordTimeouts()
    async with grpc.aio.insecure_channel(wire.address, interceptors=[timeouts]) as chan:
        method = chan.unary_unary("/test.v1.Anything/Do", request_serializer=_serialize)
        if deadline is None:
            assert await invoke(method, _message(), token="tok-123") == b""
        else:
            assert await invoke(method, _message(), token="tok-123", deadline=deadline) == b""
    assert timeouts.timeouts == [expected]
    (call,) = wire.calls
    assert call.metadata["authorization"] == "Bearer tok-123"
    assert call.time_remaining is not None  # the deadline reached the server


async def test_invoke_raises_a_problem(wire: WireServer) -> None:
    wire.answer = Answer(error=NotFoundError("no such thing"))
    async with grpc.aio.insecure_channel(wire.address) as chan:
        method = chan.unary_unary("/test.v1.Anything/Do", request_serializer=_serialize)
        with pytest.raises(ProblemError) as caught:
            await invoke(method, _message(), token="")
    assert caught.value.status == 404
    assert wire.calls[0].metadata.get("authorization") is None


@pytest.fixture
async def gateway(wire: WireServer) -> AsyncIterator[Callable[..., Any]]:
    """The real app, its four peers all at the wire server, driven in this event loop."""
    settings = _settings(wire.address)
    clients = Clients.connect(settings)
    app = create_app(settings, clients=clients)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://gw") as client,
    ):
        yield client.request
    await clients.close()


def _settings(address: str) -> GatewaySettings:
    return GatewaySettings(
        listen_host="127.0.0.1",
        listen_port=8080,
        catalog_addr=address,
        enrollment_addr=address,
        payments_addr=address,
        credentials_addr=address,
        auth=AuthSettings("dev", SECRET, "", DEV_ISSUER, ""),
        public_base_url="http://gw",
    )


def _learner_token() -> str:
    return mint_dev_token(SECRET, role="learner", subject="alice")


async def test_a_service_error_reaches_the_http_client_as_problem_json(
    wire: WireServer, gateway: Callable[..., Any]
) -> None:
    wire.answer = Answer(error=NotFoundError("no program with that id"))
    token = _learner_token()
    program_id = str(uuid.uuid4())

    response = await gateway(
        "GET", f"/api/v1/programs/{program_id}", headers={"authorization": f"Bearer {token}"}
    )

    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert response.json()["detail"] == "no program with that id"
    (call,) = wire.calls
    assert call.method == "/upskill.catalog.v1.CatalogService/GetProgram"
    assert call.metadata["authorization"] == f"Bearer {token}"
    assert call.time_remaining is not None


async def test_sold_out_enrollment_is_409_and_forwards_the_idempotency_key(
    wire: WireServer, gateway: Callable[..., Any]
) -> None:
    from upskill.enrollment.v1 import enrollment_service_pb2

    wire.answer = Answer(error=ResourceExhaustedError("no seats left"))
    program_id = str(uuid.uuid4())

    response = await gateway(
        "POST",
        "/api/v1/enrollments",
        json={"program_id": program_id},
        headers={"authorization": f"Bearer {_learner_token()}", "Idempotency-Key": "k-1"},
    )

    assert response.status_code == 409
    assert response.json()["type"] == "urn:upskill:problem:sold-out"
    sent = enrollment_service_pb2.CreateEnrollmentRequest.FromString(wire.calls[0].request)
    assert (sent.program_id, sent.idempotency_key) == (program_id, "k-1")


async def test_webhook_forwards_raw_bytes_with_the_gateways_service_identity(
    wire: WireServer, gateway: Callable[..., Any]
) -> None:
    wire.answer = Answer(reply=b"")
    payload = b'{"id": "evt_1",  "type": "checkout.session.completed"}\n'

    response = await gateway(
        "POST",
        "/webhooks/stripe",
        content=payload,
        headers={"Stripe-Signature": "t=1,v1=abc", "content-type": "application/json"},
    )

    assert response.status_code == 200
    assert response.json() == {"received": True}
    (call,) = wire.calls
    assert call.method == "/upskill.payments.v1.PaymentsService/HandleProviderWebhook"
    sent = payments_service_pb2.HandleProviderWebhookRequest.FromString(call.request)
    assert sent.payload == payload  # byte for byte: the signature covers it
    assert sent.signature == "t=1,v1=abc"
    token = call.metadata["authorization"].removeprefix("Bearer ")
    principal = TokenVerifier(AuthSettings("dev", SECRET, "", DEV_ISSUER, "")).verify(token)
    assert (principal.role, principal.subject) == ("service", "service:gateway")


@pytest.mark.parametrize(
    ("answer", "status"),
    [
        (Answer(error=InvalidArgumentError("signature mismatch")), 400),
        (Answer(error=UnauthenticatedError("no valid signature")), 400),
        (Answer(raw_code=grpc.StatusCode.UNAVAILABLE), 503),
        (Answer(raw_code=grpc.StatusCode.INTERNAL), 502),
    ],
)
async def test_webhook_status_steers_stripes_retries(
    wire: WireServer, gateway: Callable[..., Any], answer: Answer, status: int
) -> None:
    wire.answer = answer
    response = await gateway(
        "POST", "/webhooks/stripe", content=b"{}", headers={"Stripe-Signature": "t=1,v1=x"}
    )
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE


# ---------------------------------------------------------------- readiness


@pytest.fixture
async def health_server() -> AsyncIterator[tuple[str, health.aio.HealthServicer]]:
    server = grpc.aio.server()
    servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    await servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    yield f"127.0.0.1:{port}", servicer
    await server.stop(None)


async def _get(settings: GatewaySettings, path: str) -> httpx.Response:
    clients = Clients.connect(settings)
    app = create_app(settings, clients=clients)
    try:
        async with (
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://gw"
            ) as client,
            app.router.lifespan_context(app),
        ):
            return await client.get(path)
    finally:
        await clients.close()


async def test_dependencies_are_all_serving(
    health_server: tuple[str, health.aio.HealthServicer],
) -> None:
    address, _ = health_server
    response = await _get(_settings(address), "/health/dependencies")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "dependencies": dict.fromkeys(
            ("catalog", "enrollment", "payments", "credentials"), "SERVING"
        ),
    }


async def test_one_backend_down_is_reported_but_leaves_the_gateway_ready(
    health_server: tuple[str, health.aio.HealthServicer],
) -> None:
    address, servicer = health_server
    settings = _settings(address)
    settings = GatewaySettings(**{**settings.__dict__, "payments_addr": "127.0.0.1:1"})

    report = await _get(settings, "/health/dependencies")
    assert report.status_code == 200
    body = report.json()
    assert body["status"] == "degraded"
    assert body["dependencies"]["catalog"] == "SERVING"
    assert body["dependencies"]["payments"] == "UNAVAILABLE"
    # One backend's outage must not take every gateway out of rotation.
    assert (await _get(settings, "/readyz")).status_code == 200
    assert (await _get(settings, "/healthz")).status_code == 200

    await servicer.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
    body = (await _get(_settings(address), "/health/dependencies")).json()
    assert body["status"] == "degraded"
    assert set(body["dependencies"].values()) == {"NOT_SERVING"}
    assert (await _get(_settings(address), "/readyz")).json() == {"status": "ready"}


async def test_readyz_is_503_outside_the_apps_lifetime() -> None:
    # Before start-up completes (and once shut-down begins) the gateway takes no traffic.
    app = create_app(_settings("127.0.0.1:1"), clients=None)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gw"
    ) as client:
        response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
