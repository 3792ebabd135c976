"""Bad input gets a precise error, never a crash: problem+json over HTTP, a gRPC status
with field details over gRPC, and the services keep serving afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import grpc
import httpx
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from upskill.catalog.v1 import catalog_service_pb2, catalog_service_pb2_grpc

from services.common.auth import mint_dev_token
from services.devstack.stack import Stack


@pytest.fixture
def http(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.gateway_url, timeout=15, trust_env=False) as client:
        yield client


def bearer(http: httpx.Client, **claims: str) -> dict[str, str]:
    token = http.post("/api/v1/dev/tokens", json=claims).json()["token"]
    return {"authorization": f"Bearer {token}"}


def assert_problem(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status
    assert body["title"]
    return body


def test_invalid_program_body_names_each_bad_field(http: httpx.Client) -> None:
    provider = bearer(http, role="provider", sub="p", provider_id=str(uuid.uuid4()))
    body = {
        "title": "",
        "price": {"amount_minor": -5, "currency": "usd"},
        "credential": {"name": "x", "description": "d", "criteria": "c"},
    }
    problem = assert_problem(http.post("/api/v1/programs", json=body, headers=provider), 422)
    fields = {e["field"] for e in problem["errors"]}  # type: ignore[attr-defined]
    assert {"title", "price.amount_minor", "price.currency"} <= fields


def test_malformed_json_unknown_fields_and_wrong_types(http: httpx.Client) -> None:
    learner = bearer(http, role="learner", sub="l")
    assert_problem(
        http.post(
            "/api/v1/enrollments",
            content=b"{not json",
            headers=learner | {"content-type": "application/json"},
        ),
        400,
    )
    assert_problem(http.post("/api/v1/enrollments", json={"program_id": 42}, headers=learner), 422)
    assert_problem(
        http.post(
            "/api/v1/enrollments",
            json={"program_id": str(uuid.uuid4()), "price": 0},
            headers=learner,
        ),
        422,
    )


def test_tokens_roles_and_missing_things(http: httpx.Client) -> None:
    assert_problem(http.post("/api/v1/providers", json={"name": "x"}), 401)
    assert_problem(
        http.post(
            "/api/v1/providers", json={"name": "x"}, headers={"authorization": "Bearer junk"}
        ),
        401,
    )
    learner = bearer(http, role="learner", sub="l")
    assert_problem(http.post("/api/v1/providers", json={"name": "x"}, headers=learner), 403)
    assert_problem(http.get(f"/api/v1/programs/{uuid.uuid4()}"), 404)
    assert_problem(http.get("/api/v1/programs/not-a-uuid"), 404)
    assert_problem(
        http.post("/api/v1/enrollments", json={"program_id": str(uuid.uuid4())}, headers=learner),
        404,
    )


def test_forged_webhook_is_rejected_and_changes_nothing(http: httpx.Client) -> None:
    event = b'{"id": "evt_forged", "type": "checkout.session.completed", "data": {"object": {}}}'
    assert_problem(
        http.post(
            "/webhooks/stripe",
            content=event,
            headers={"stripe-signature": "t=1,v1=deadbeef", "content-type": "application/json"},
        ),
        400,
    )
    assert_problem(http.post("/webhooks/stripe", content=event), 400)


def test_verify_garbage_is_malformed_not_an_error(http: httpx.Client) -> None:
    response = http.post("/api/v1/credentials/verify", json={"credential": "not.a.jwt"})
    assert response.status_code == 200
    assert response.json()["status"] == "MALFORMED"
    assert response.json()["verified"] is False


async def test_grpc_invalid_argument_carries_field_violations(stack: Stack) -> None:
    secret = stack.env_for("catalog")["AUTH_JWT_SECRET"]
    admin = (("authorization", f"Bearer {mint_dev_token(secret, role='admin', subject='a')}"),)
    async with grpc.aio.insecure_channel(stack.addr("catalog")) as channel:
        stub = catalog_service_pb2_grpc.CatalogServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.CreateProvider(
                catalog_service_pb2.CreateProviderRequest(name="", email="nope"),
                metadata=admin,
                timeout=5,
            )
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        status = rpc_status.from_call(caught.value)
        assert status is not None
        bad_request = error_details_pb2.BadRequest()
        assert status.details[0].Unpack(bad_request)
        assert {v.field for v in bad_request.field_violations} == {"name", "email"}
        # The service is still there and answers the next call.
        ok = await stub.ListPrograms(catalog_service_pb2.ListProgramsRequest(), timeout=5)
        assert ok is not None
