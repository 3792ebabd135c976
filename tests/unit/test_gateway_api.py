"""The gateway's HTTP surface for everything decided before any RPC.

The four service addresses point at a closed local port: a test that reached a service
would get 503, so every status asserted here proves the gateway answered by itself.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient

from services.common.auth import DEV_ISSUER, AuthSettings, TokenVerifier, mint_dev_token
from services.common.settings import MissingSettingError
from services.gateway import mapping, schemas
from services.gateway.app import create_app
from services.gateway.problems import PROBLEM_MEDIA_TYPE, field_path
from services.gateway.routes_catalog import parse_if_match
from services.gateway.settings import GatewaySettings, parse_listen_addr

SECRET = "k" * 40
NOWHERE = "127.0.0.1:1"
PROGRAM_ID = "0b7f3c1e-8d2a-4f5b-9c6d-1e2f3a4b5c6d"

VALID_PROGRAM = {
    "title": "SQL in a week",
    "price": {"amount_minor": 4900, "currency": "USD"},
    "credential": {"name": "SQL Basics", "description": "Can query", "criteria": "Pass the quiz"},
}


def _settings(mode: str = "dev") -> GatewaySettings:
    auth = (
        AuthSettings("dev", SECRET, "", DEV_ISSUER, "")
        if mode == "dev"
        else AuthSettings("oidc", "", "http://127.0.0.1:1/jwks.json", "", "")
    )
    return GatewaySettings(
        listen_host="127.0.0.1",
        listen_port=8080,
        catalog_addr=NOWHERE,
        enrollment_addr=NOWHERE,
        payments_addr=NOWHERE,
        credentials_addr=NOWHERE,
        auth=auth,
        public_base_url="http://testserver",
    )


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with TestClient(create_app(_settings())) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def oidc_client() -> Iterator[TestClient]:
    with TestClient(create_app(_settings("oidc"))) as test_client:
        yield test_client


def _auth(role: str = "provider", **claims: Any) -> dict[str, str]:
    if role == "provider":
        claims.setdefault("provider_id", "p-1")
    token = mint_dev_token(SECRET, role=role, subject=claims.pop("subject", "u-1"), **claims)
    return {"authorization": f"Bearer {token}"}


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert {"type", "title", "detail"} <= body.keys()
    return body


def _fields(body: dict[str, Any]) -> dict[str, str]:
    return {e["field"]: e["message"] for e in body.get("errors", [])}


# ---------------------------------------------------------------- health and unknown routes


def test_healthz(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_unknown_route_is_problem_json(client: TestClient) -> None:
    body = _problem(client.get("/api/v1/nothing-here"), 404)
    assert "/api/v1/nothing-here" in body["detail"]


def test_wrong_method_is_problem_json(client: TestClient) -> None:
    response = client.delete("/healthz")
    _problem(response, 405)
    assert "GET" in response.headers["allow"]


def test_a_browser_gets_an_html_error_page_off_the_api(client: TestClient) -> None:
    response = client.get("/no-such-page", headers={"accept": "text/html"})
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "Not Found" in response.text
    # ...but the API stays problem+json whatever the Accept header says.
    _problem(client.get("/api/v1/nope", headers={"accept": "text/html"}), 404)


# ---------------------------------------------------------------- 401 before any RPC


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/v1/providers", {"name": "Acme"}),
        ("POST", "/api/v1/programs", VALID_PROGRAM),
        ("PATCH", f"/api/v1/programs/{PROGRAM_ID}", {"title": "x"}),
        ("POST", f"/api/v1/programs/{PROGRAM_ID}/publish", None),
        ("POST", f"/api/v1/programs/{PROGRAM_ID}/archive", None),
        ("POST", "/api/v1/enrollments", {"program_id": PROGRAM_ID}),
        ("GET", "/api/v1/enrollments", None),
        ("GET", f"/api/v1/enrollments/{PROGRAM_ID}", None),
        ("POST", f"/api/v1/enrollments/{PROGRAM_ID}/complete", None),
        ("POST", f"/api/v1/enrollments/{PROGRAM_ID}/cancel", None),
        ("GET", "/api/v1/credentials", None),
        ("POST", f"/api/v1/credentials/{PROGRAM_ID}/revoke", {"reason": "fraud"}),
    ],
)
def test_protected_routes_need_a_token(
    client: TestClient, method: str, path: str, body: Any
) -> None:
    response = client.request(method, path, json=body)
    problem = _problem(response, 401)
    assert problem["type"] == "urn:upskill:problem:unauthenticated"
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "header",
    [
        "Basic dXNlcjpwYXNz",
        "Bearer",
        "Bearer not-a-jwt",
        "Bearer " + jwt.encode({"sub": "x", "role": "learner"}, "wrong" * 10, algorithm="HS256"),
    ],
)
def test_bad_tokens_are_401(client: TestClient, header: str) -> None:
    _problem(client.get("/api/v1/enrollments", headers={"authorization": header}), 401)


def test_an_expired_token_is_401(client: TestClient) -> None:
    claims = {
        "iss": DEV_ISSUER,
        "aud": "upskill",
        "sub": "alice",
        "role": "learner",
        "exp": int(time.time()) - 3600,
    }
    token = jwt.encode(claims, SECRET, algorithm="HS256")
    body = _problem(
        client.get("/api/v1/enrollments", headers={"authorization": f"Bearer {token}"}), 401
    )
    assert "expired" in body["detail"]


def test_a_bad_token_is_401_even_on_a_public_route(client: TestClient) -> None:
    _problem(client.get("/api/v1/programs", headers={"authorization": "Bearer junk"}), 401)


# ---------------------------------------------------------------- 422 / 400 on bad input


def test_program_body_field_errors(client: TestClient) -> None:
    response = client.post(
        "/api/v1/programs",
        json={
            "title": 7,
            "price": {"amount_minor": "4900", "currency": "usd"},
            "skills": ["sql", 3],
            "credential": {"name": "N", "description": "D", "issuance": "SOMETIMES"},
            "colour": "blue",
        },
        headers=_auth(),
    )
    body = _problem(response, 422)
    fields = _fields(body)
    assert set(fields) == {
        "title",
        "price.amount_minor",
        "price.currency",
        "skills[1]",
        "credential.criteria",
        "credential.issuance",
        "colour",
    }
    assert "not permitted" in fields["colour"]


def test_strict_types_refuse_coercion(client: TestClient) -> None:
    program = {**VALID_PROGRAM, "duration_hours": "10", "capacity": 2.5}
    body = _problem(client.post("/api/v1/programs", json=program, headers=_auth()), 422)
    assert set(_fields(body)) == {"duration_hours", "capacity"}


def test_missing_body_is_422(client: TestClient) -> None:
    body = _problem(client.post("/api/v1/enrollments", headers=_auth("learner")), 422)
    assert set(_fields(body)) == {"body"}


def test_malformed_json_is_400(client: TestClient) -> None:
    response = client.post(
        "/api/v1/programs",
        content=b'{"title": "x",',
        headers={**_auth(), "content-type": "application/json"},
    )
    body = _problem(response, 400)
    assert body["type"] == "urn:upskill:problem:malformed-json"


def test_bad_query_parameters_are_422(client: TestClient) -> None:
    body = _problem(client.get("/api/v1/programs?page_size=500&max_price=-1"), 422)
    assert set(_fields(body)) == {"page_size", "max_price"}


def test_patch_rejects_null_for_required_fields(client: TestClient) -> None:
    response = client.patch(
        f"/api/v1/programs/{PROGRAM_ID}",
        json={"title": None, "credential": {"name": None}},
        headers={**_auth(), "If-Match": "1"},
    )
    body = _problem(response, 422)
    assert _fields(body) == {"title": "may not be null", "credential.name": "may not be null"}


def test_patch_without_if_match_is_428(client: TestClient) -> None:
    response = client.patch(
        f"/api/v1/programs/{PROGRAM_ID}", json={"title": "New"}, headers=_auth()
    )
    assert _problem(response, 428)["type"] == "urn:upskill:problem:precondition-required"


def test_patch_with_a_garbled_if_match_is_422(client: TestClient) -> None:
    response = client.patch(
        f"/api/v1/programs/{PROGRAM_ID}",
        json={"title": "New"},
        headers={**_auth(), "If-Match": "yesterday"},
    )
    assert set(_fields(_problem(response, 422))) == {"If-Match"}


@pytest.mark.parametrize(("value", "version"), [("3", 3), ('"3"', 3), ('W/"12"', 12), (" 7 ", 7)])
def test_if_match_accepts_a_version_or_our_etag(value: str, version: int) -> None:
    assert parse_if_match(value) == version


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/programs/not-a-uuid",
        "/api/v1/providers/42",
        "/api/v1/credentials/zzz",
        "/status-lists/UPPER_CASE",
    ],
)
def test_malformed_ids_are_404_without_an_rpc(client: TestClient, path: str) -> None:
    _problem(client.get(path), 404)


def test_enrollment_id_is_checked_before_any_rpc(client: TestClient) -> None:
    _problem(client.get("/api/v1/enrollments/123", headers=_auth("learner")), 404)


def test_webhook_without_a_signature_is_400(client: TestClient) -> None:
    body = _problem(client.post("/webhooks/stripe", content=b'{"id": "evt_1"}'), 400)
    assert "Stripe-Signature" in body["detail"]


def test_checkout_with_a_malformed_session_id_is_404(client: TestClient) -> None:
    response = client.get("/checkout/not-a-session", headers={"accept": "text/html"})
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")


def test_a_backing_service_down_is_503(client: TestClient) -> None:
    body = _problem(client.get("/api/v1/programs"), 503)
    assert body["type"] == "urn:upskill:problem:service-unavailable"


# ---------------------------------------------------------------- dev tokens


def test_dev_token_is_a_verifiable_token(client: TestClient) -> None:
    response = client.post(
        "/api/v1/dev/tokens",
        json={"role": "provider", "sub": "bob", "email": "bob@example.com", "provider_id": "p-9"},
    )
    assert response.status_code == 200
    token = response.json()["token"]
    principal = TokenVerifier(_settings().auth).verify(token)
    assert (principal.role, principal.subject, principal.provider_id, principal.email) == (
        "provider",
        "bob",
        "p-9",
        "bob@example.com",
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"role": "provider", "sub": "bob"}, "body"),
        ({"role": "wizard", "sub": "bob"}, "role"),
        ({"role": "learner"}, "sub"),
        ({"role": "learner", "sub": ""}, "sub"),
    ],
)
def test_dev_token_body_is_validated(client: TestClient, body: dict[str, Any], field: str) -> None:
    problem = _problem(client.post("/api/v1/dev/tokens", json=body), 422)
    assert field in _fields(problem)


def test_dev_tokens_do_not_exist_in_oidc_mode(oidc_client: TestClient) -> None:
    _problem(oidc_client.post("/api/v1/dev/tokens", json={"role": "admin", "sub": "x"}), 404)
    # Not even a validation error leaks the route's existence.
    _problem(oidc_client.post("/api/v1/dev/tokens", json={"junk": True}), 404)


def test_dev_sign_in_sets_an_http_only_cookie(client: TestClient) -> None:
    response = client.post(
        "/session",
        data={"role": "learner", "sub": "alice", "next": "//evil.example/"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/"  # never an open redirect
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("upskill_token=")
    assert "HttpOnly" in cookie
    assert "samesite=lax" in cookie.lower()


# ---------------------------------------------------------------- OpenAPI


def test_openapi_documents_routes_and_problems(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    paths = document["paths"]
    for path in (
        "/api/v1/dev/tokens",
        "/api/v1/providers",
        "/api/v1/programs",
        "/api/v1/programs/{program_id}",
        "/api/v1/programs/{program_id}/publish",
        "/api/v1/enrollments",
        "/api/v1/enrollments/{enrollment_id}/complete",
        "/api/v1/credentials/verify",
        "/.well-known/jwks.json",
        "/status-lists/{list_id}",
        "/webhooks/stripe",
        "/healthz",
        "/readyz",
    ):
        assert path in paths, path
    patch = paths["/api/v1/programs/{program_id}"]["patch"]
    assert {"412", "428", "422"} <= patch["responses"].keys()
    assert PROBLEM_MEDIA_TYPE in patch["responses"]["412"]["content"]
    schemas_ = document["components"]["schemas"]
    assert {"Problem", "Program", "Enrollment", "Credential", "VerifyResult"} <= schemas_.keys()
    assert "bearer" in str(document["components"]["securitySchemes"]).lower()
    # A program's seat pack prices, as the catalog stores them (services/common/volume_tiers).
    tiers = schemas_["Program"]["properties"]["volume_tiers"]
    assert "volume_tiers" in schemas_["Program"]["required"]
    assert (tiers["type"], tiers["maxItems"]) == ("array", 10)
    assert tiers["items"] == {"$ref": "#/components/schemas/VolumeTier"}
    tier = schemas_["VolumeTier"]
    assert tier["required"] == ["min_seats", "unit_amount_minor"]
    props = tier["properties"]
    assert (props["min_seats"]["type"], props["min_seats"]["minimum"]) == ("integer", 2)
    assert props["min_seats"]["maximum"] == 1000
    assert (props["unit_amount_minor"]["type"], props["unit_amount_minor"]["minimum"]) == (
        "integer",
        0,
    )
    # Pages are for people, not part of the API document.
    assert "/" not in paths
    assert "/checkout/{session_id}" not in paths


# ---------------------------------------------------------------- mapping and settings


def test_patch_becomes_the_update_mask() -> None:
    patch = schemas.ProgramPatch.model_validate(
        {
            "summary": "Short",
            "capacity": None,
            "price": {"amount_minor": 0, "currency": "EUR"},
            "credential": {"valid_for_days": 365, "issuance": "ON_PAYMENT"},
        }
    )

    message, paths = mapping.program_patch_to_proto(patch)

    assert paths == [
        "capacity",
        "credential.issuance",
        "credential.valid_for_days",
        "price",
        "summary",
    ]
    # Only what the body names travels; the catalog merges it (a null is left unset: cleared).
    assert not message.HasField("capacity")
    assert not message.HasField("title")
    assert message.summary == "Short"
    assert (message.price.amount_minor, message.price.currency) == (0, "EUR")
    assert message.credential.valid_for_days == 365
    assert not message.credential.HasField("name")


def test_program_json_uses_nulls_and_plain_enum_names() -> None:
    from upskill.catalog.v1 import catalog_pb2

    spec = mapping.program_spec_to_proto(schemas.ProgramCreate.model_validate(VALID_PROGRAM))
    # The gateway asks for no policy; the catalog answers with its default.
    assert spec.credential.issuance == catalog_pb2.ISSUANCE_POLICY_UNSPECIFIED
    spec.credential.issuance = catalog_pb2.ISSUANCE_POLICY_ON_COMPLETION
    program = catalog_pb2.Program(
        id=PROGRAM_ID, spec=spec, status=catalog_pb2.PROGRAM_STATUS_PUBLISHED, version=4
    )
    body = mapping.program_to_json(program).model_dump(mode="json")
    assert body["status"] == "PUBLISHED"
    assert body["capacity"] is None
    assert body["credential"]["issuance"] == "ON_COMPLETION"
    assert body["credential"]["valid_for_days"] is None
    assert body["price"] == {"amount_minor": 4900, "currency": "USD"}
    assert body["created_at"] is None


@pytest.mark.parametrize(
    ("location", "path"),
    [
        (("body", "price", "currency"), "price.currency"),
        (("body", "skills", 2), "skills[2]"),
        (("query", "page_size"), "page_size"),
        (("body",), "body"),
    ],
)
def test_field_path(location: tuple[Any, ...], path: str) -> None:
    assert field_path(location) == path


def test_listen_addr() -> None:
    assert parse_listen_addr("0.0.0.0:8080") == ("0.0.0.0", 8080)
    assert parse_listen_addr("[::]:9000") == ("::", 9000)
    with pytest.raises(ValueError, match="LISTEN_ADDR"):
        parse_listen_addr("8080")


def test_settings_fail_fast_naming_the_missing_peer(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CATALOG_ADDR", "ENROLLMENT_ADDR", "PAYMENTS_ADDR", "CREDENTIALS_ADDR"):
        monkeypatch.setenv(name, "127.0.0.1:1")
    monkeypatch.setenv("AUTH_MODE", "dev")
    monkeypatch.setenv("AUTH_JWT_SECRET", SECRET)
    monkeypatch.delenv("PAYMENTS_ADDR")
    with pytest.raises(MissingSettingError) as caught:
        GatewaySettings.from_env()
    assert caught.value.name == "PAYMENTS_ADDR"


def test_main_exits_naming_the_missing_setting() -> None:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_ADDR")}
    env.update(CATALOG_ADDR="127.0.0.1:1", AUTH_MODE="dev", AUTH_JWT_SECRET=SECRET)
    result = subprocess.run(
        [sys.executable, "-m", "services.gateway"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "ENROLLMENT_ADDR" in result.stderr
