"""Issue 5's audit inputs against the real system: the gateway refuses them with 4xx
problem+json, every service refuses hostile text with INVALID_ARGUMENT and field details
(whoever calls it, however its proto is annotated), and nothing crashes."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import grpc
import httpx
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from upskill.catalog.v1 import catalog_pb2, catalog_service_pb2, catalog_service_pb2_grpc
from upskill.credentials.v1 import credentials_service_pb2, credentials_service_pb2_grpc
from upskill.enrollment.v1 import enrollment_service_pb2, enrollment_service_pb2_grpc
from upskill.payments.v1 import payments_service_pb2, payments_service_pb2_grpc
from upskill.type.v1 import money_pb2

from services.common.auth import mint_dev_token
from services.devstack.stack import Stack

NUL = "a\x00b"


@pytest.fixture
def http(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.gateway_url, timeout=30, trust_env=False) as client:
        yield client


def bearer(http: httpx.Client, **claims: str) -> dict[str, str]:
    response = http.post("/api/v1/dev/tokens", json=claims)
    assert response.status_code == 200, response.text
    return {"authorization": f"Bearer {response.json()['token']}"}


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body


def fields(body: dict[str, Any]) -> set[str]:
    return {e["field"] for e in body.get("errors", [])}


@pytest.fixture
def provider(http: httpx.Client) -> dict[str, str]:
    admin = bearer(http, role="admin", sub="edge-admin")
    response = http.post("/api/v1/providers", json={"name": "Edge Academy"}, headers=admin)
    assert response.status_code == 201, response.text
    return bearer(http, role="provider", sub="edge-staff", provider_id=response.json()["id"])


def program(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "Hostile input 101",
        "duration_hours": 3,
        "skills": ["testing"],
        "price": {"amount_minor": 1000, "currency": "USD"},
        "credential": {"name": "Tester", "description": "Tests", "criteria": "Tested"},
    }
    return body | changes


# ---------------------------------------------------------------- HTTP, the audit's inputs


def test_numbers_past_the_wire_types_are_422(http: httpx.Client, provider: dict[str, str]) -> None:
    too_big = program(price={"amount_minor": 2**63, "currency": "USD"}, capacity=2**31)
    body = problem(http.post("/api/v1/programs", json=too_big, headers=provider), 422)
    assert fields(body) == {"price.amount_minor", "capacity"}
    body = problem(http.get("/api/v1/programs", params={"max_price": str(2**63)}), 422)
    assert fields(body) == {"max_price"}
    created = http.post("/api/v1/programs", json=program(), headers=provider)
    assert created.status_code == 201, created.text
    response = http.patch(
        f"/api/v1/programs/{created.json()['id']}",
        json={"title": "New"},
        headers=provider | {"If-Match": "9" * 5000},
    )
    assert fields(problem(response, 422)) == {"If-Match"}


def test_patch_changes_what_it_names_and_the_catalog_merges_it(
    http: httpx.Client, provider: dict[str, str]
) -> None:
    created = http.post(
        "/api/v1/programs", json=program(capacity=5, summary="Before"), headers=provider
    )
    assert created.status_code == 201, created.text
    url = f"/api/v1/programs/{created.json()['id']}"
    body = {
        "title": " Hostile input 102 ",
        "capacity": None,
        "credential": {"issuance": "ON_PAYMENT"},
    }

    changed = http.patch(url, json=body, headers=provider | {"If-Match": '"1"'})

    assert changed.status_code == 200, changed.text
    after = changed.json()
    assert (after["title"], after["capacity"], after["version"]) == ("Hostile input 102", None, 2)
    assert after["credential"]["issuance"] == "ON_PAYMENT"
    # What the body did not name is the catalog's current value, untouched.
    assert (after["summary"], after["skills"], after["credential"]["name"]) == (
        "Before",
        ["testing"],
        "Tester",
    )
    assert changed.headers["ETag"] == '"2"'
    stale = http.patch(url, json={"summary": "x"}, headers=provider | {"If-Match": "1"})
    assert problem(stale, 412)["type"] == "urn:upskill:problem:version-mismatch"
    blank = http.patch(
        url, json={"summary": "x", "title": "   "}, headers=provider | {"If-Match": "2"}
    )
    assert fields(problem(blank, 422)) == {"title"}
    other = bearer(http, role="provider", sub="edge-other", provider_id=str(uuid.uuid4()))
    hidden = http.patch(url, json={"summary": "x"}, headers=other | {"If-Match": "2"})
    assert hidden.status_code == 404, hidden.text
    assert http.get(url, headers=provider).json()["version"] == 2


@pytest.mark.parametrize("query", ["q=a%00b", "skill=a%00b"])
def test_nul_in_a_search_is_422_anonymously(http: httpx.Client, query: str) -> None:
    body = problem(http.get(f"/api/v1/programs?{query}"), 422)
    assert fields(body) == {query.split("=")[0]}


def test_nul_in_stored_text_is_422(http: httpx.Client, provider: dict[str, str]) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"title": NUL}, "title"),
        ({"skills": ["ok", NUL]}, "skills[1]"),
        ({"credential": {"name": NUL, "description": "d", "criteria": "c"}}, "credential.name"),
    ]
    for changes, field in cases:
        response = http.post("/api/v1/programs", json=program(**changes), headers=provider)
        assert fields(problem(response, 422)) == {field}
    admin = bearer(http, role="admin", sub="edge-admin")
    response = http.post("/api/v1/providers", json={"name": NUL}, headers=admin)
    assert fields(problem(response, 422)) == {"name"}
    response = http.post(
        f"/api/v1/credentials/{uuid.uuid4()}/revoke", json={"reason": NUL}, headers=admin
    )
    assert fields(problem(response, 422)) == {"reason"}
    problem(http.post("/api/v1/dev/tokens", json={"role": "learner", "sub": NUL}), 422)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"price": {"amount_minor": 100, "currency": "XYZ"}}, "price.currency"),
        ({"duration_hours": 0}, "duration_hours"),
        ({"title": "   "}, "title"),  # refused by the catalog, named by its field
        ({"skills": ["sql", " \t "]}, "skills[1]"),
        (
            {"credential": {"name": " ", "description": "d", "criteria": "c"}},
            "credential.name",
        ),
    ],
)
def test_validation_holes_are_closed(
    http: httpx.Client, provider: dict[str, str], changes: dict[str, Any], field: str
) -> None:
    response = http.post("/api/v1/programs", json=program(**changes), headers=provider)
    assert field in fields(problem(response, 422))


def test_a_blank_provider_name_is_422(http: httpx.Client) -> None:
    admin = bearer(http, role="admin", sub="edge-admin")
    response = http.post("/api/v1/providers", json={"name": " \t "}, headers=admin)
    assert fields(problem(response, 422)) == {"name"}


def test_a_jpy_program_round_trips(http: httpx.Client, provider: dict[str, str]) -> None:
    price = {"amount_minor": 5000, "currency": "JPY"}
    response = http.post("/api/v1/programs", json=program(price=price), headers=provider)
    assert response.status_code == 201, response.text
    assert response.json()["price"] == price


def test_a_3_5_mb_verify_body_is_413_and_the_gateway_keeps_serving(http: httpx.Client) -> None:
    body = "{" + ",".join(f'"key{i}":1' for i in range(300_000)) + ',"credential":"x"}'
    assert len(body) > 3_500_000
    response = http.post(
        "/api/v1/credentials/verify",
        content=body.encode(),
        headers={"content-type": "application/json"},
    )
    assert problem(response, 413)["type"] == "urn:upskill:problem:payload-too-large"
    assert http.get("/healthz").status_code == 200


def _raw_request(stack: Stack, head: str) -> socket.socket:
    url = urlsplit(stack.gateway_url)
    connection = socket.create_connection((url.hostname or "127.0.0.1", url.port or 80), 30)
    connection.sendall(head.encode())
    return connection


def _read_status(connection: socket.socket) -> tuple[int, bytes]:
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = connection.recv(65536)
        if not chunk:
            break
        received += chunk
    status_line = received.split(b"\r\n", 1)[0]
    return int(status_line.split()[1]), received


def test_a_100_mb_webhook_is_413_before_its_body_is_sent(stack: Stack) -> None:
    # Only the headers go out: the answer comes without the gateway waiting for 100 MB.
    with _raw_request(
        stack,
        "POST /webhooks/stripe HTTP/1.1\r\nHost: gateway\r\nStripe-Signature: t=1,v1=x\r\n"
        f"Content-Type: application/json\r\nContent-Length: {100 * 1024 * 1024}\r\n\r\n",
    ) as connection:
        status, received = _read_status(connection)
    assert status == 413
    assert b"application/problem+json" in received


def test_a_streamed_100_mb_webhook_is_cut_off(stack: Stack) -> None:
    # Chunked, no Content-Length: the gateway answers 413 once the bytes pass its cap,
    # and closes; the sender finds out long before it has sent 100 MB.
    chunk = b"x" * 65536
    framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    sent = 0
    with _raw_request(
        stack,
        "POST /webhooks/stripe HTTP/1.1\r\nHost: gateway\r\nStripe-Signature: t=1,v1=x\r\n"
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
    ) as connection:
        try:
            while sent < 100 * 1024 * 1024:
                connection.sendall(framed)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        status, _ = _read_status(connection)
    assert status == 413
    assert sent < 100 * 1024 * 1024


# ---------------------------------------------------------------- gRPC: every service


def _violations(error: grpc.aio.AioRpcError) -> set[str]:
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
    status = rpc_status.from_call(error)
    assert status is not None
    bad_request = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(bad_request)
    return {v.field for v in bad_request.field_violations}


async def _refused(call: Any, request: Any, token: str) -> set[str]:
    metadata = (("authorization", f"Bearer {token}"),) if token else ()
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call(request, metadata=metadata, timeout=10)
    return _violations(caught.value)


async def test_every_service_refuses_nul_in_any_text_field(stack: Stack) -> None:
    secret = stack.env_for("catalog")["AUTH_JWT_SECRET"]
    admin = mint_dev_token(secret, role="admin", subject="edge-admin")
    provider = mint_dev_token(secret, role="provider", subject="p", provider_id=str(uuid.uuid4()))
    learner = mint_dev_token(secret, role="learner", subject="edge-learner")
    service = mint_dev_token(secret, role="service", subject="service:edge")
    some_id = str(uuid.uuid4())
    async with (
        grpc.aio.insecure_channel(stack.addr("catalog")) as catalog_channel,
        grpc.aio.insecure_channel(stack.addr("enrollment")) as enrollment_channel,
        grpc.aio.insecure_channel(stack.addr("payments")) as payments_channel,
        grpc.aio.insecure_channel(stack.addr("credentials")) as credentials_channel,
    ):
        catalog = catalog_service_pb2_grpc.CatalogServiceStub(catalog_channel)
        enrollment = enrollment_service_pb2_grpc.EnrollmentServiceStub(enrollment_channel)
        payments = payments_service_pb2_grpc.PaymentsServiceStub(payments_channel)
        credentials = credentials_service_pb2_grpc.CredentialsServiceStub(credentials_channel)

        assert await _refused(
            catalog.ListPrograms, catalog_service_pb2.ListProgramsRequest(query=NUL), ""
        ) == {"query"}
        assert await _refused(
            catalog.ListPrograms, catalog_service_pb2.ListProgramsRequest(skill=NUL), ""
        ) == {"skill"}
        assert await _refused(
            catalog.CreateProvider, catalog_service_pb2.CreateProviderRequest(name=NUL), admin
        ) == {"name"}
        spec = catalog_pb2.ProgramSpec(
            title=NUL,
            skills=["ok", NUL],
            duration_hours=1,
            price=money_pb2.Money(amount_minor=1, currency="USD"),
            credential=catalog_pb2.CredentialTemplate(name="n", description="d", criteria=NUL),
        )
        assert await _refused(
            catalog.CreateProgram, catalog_service_pb2.CreateProgramRequest(spec=spec), provider
        ) == {"spec.title", "spec.skills[1]", "spec.credential.criteria"}
        assert await _refused(
            enrollment.CreateEnrollment,
            enrollment_service_pb2.CreateEnrollmentRequest(program_id=some_id, idempotency_key=NUL),
            learner,
        ) == {"idempotency_key"}
        assert await _refused(
            payments.CreateCheckout,
            payments_service_pb2.CreateCheckoutRequest(
                enrollment_id=some_id,
                learner_id=NUL,
                provider_id=some_id,
                amount=money_pb2.Money(amount_minor=100, currency="USD"),
                description="d\x1b",
            ),
            service,
        ) == {"learner_id", "description"}
        assert await _refused(
            credentials.RevokeCredential,
            credentials_service_pb2.RevokeCredentialRequest(credential_id=some_id, reason=NUL),
            admin,
        ) == {"reason"}
        # Still serving.
        listed = await catalog.ListPrograms(catalog_service_pb2.ListProgramsRequest(), timeout=10)
        assert listed is not None


async def test_the_catalog_enforces_its_rules_whoever_calls(stack: Stack) -> None:
    secret = stack.env_for("catalog")["AUTH_JWT_SECRET"]
    admin = mint_dev_token(secret, role="admin", subject="edge-admin")
    async with grpc.aio.insecure_channel(stack.addr("catalog")) as channel:
        catalog = catalog_service_pb2_grpc.CatalogServiceStub(channel)
        created = await catalog.CreateProvider(
            catalog_service_pb2.CreateProviderRequest(name="Rules Inc"),
            metadata=(("authorization", f"Bearer {admin}"),),
            timeout=10,
        )
        provider = mint_dev_token(
            secret, role="provider", subject="p", provider_id=created.provider.id
        )
        spec = catalog_pb2.ProgramSpec(
            title="  ",
            duration_hours=0,
            price=money_pb2.Money(amount_minor=1, currency="XYZ"),
            credential=catalog_pb2.CredentialTemplate(name="n", description="d", criteria="c"),
        )
        assert await _refused(
            catalog.CreateProgram, catalog_service_pb2.CreateProgramRequest(spec=spec), provider
        ) == {"spec.title", "spec.duration_hours", "spec.price.currency"}
        assert await _refused(
            catalog.CreateProvider, catalog_service_pb2.CreateProviderRequest(name="   "), admin
        ) == {"name"}
