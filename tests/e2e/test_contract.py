"""The contract fuzzer: schemathesis drives the live gateway from its own OpenAPI document.

Every operation gets generated requests, valid and invalid by its schema, as an admin, a
provider and a learner; any 5xx, any status the document does not list, any body or
content type that does not match it, an invalid request accepted and a valid one refused
as invalid (but for the named business rules) fails. The seed is fixed (derandomize) and
the examples per operation are bounded, so a run is repeatable and takes about a minute.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis import CheckContext, Response
from schemathesis.checks import not_a_server_error
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from services.common.auth import DEV_ISSUER, AuthSettings
from services.devstack.stack import Stack
from services.gateway.app import create_app
from services.gateway.settings import GatewaySettings

# Examples per operation (each sent as three roles): ~1,200 requests in all.
EXAMPLES_PER_OPERATION = 25
# The webhook cannot be fuzzed meaningfully: without Stripe's signing secret every
# generated event is refused before its content matters. test_unsigned_webhooks_are_400
# checks that it answers 4xx instead.
UNFUZZABLE_PATHS = ("/webhooks/stripe",)
# What a request the document calls valid may still be refused for (400/422): rules no
# schema states, each as (the field, without list indexes; the service's message). A refusal
# for anything else fails documented_data_is_accepted: the document says what the server
# takes.
BUSINESS_RULES = [
    ("page_token", r"not a page token this listing issued"),  # signed by the server
    ("to", r"must not be before from"),  # a period that ends before it starts
    ("program_ids", r"no such program|not published|not yours|consent"),  # a pathway's
    ("required_count", r"cannot exceed the number of programs"),
    ("credential_ids", r"not one of your credentials"),  # a profile shows its own only
    ("handle", r"this word is reserved|choose a handle to make your profile public"),
    # The same skill once stripped ("sql", "sql "): distinct as JSON, not as skills.
    ("skills", r"must not repeat a skill"),
    ("achievement.skills", r"must not repeat a skill"),
    # Each tier against the one before it, and against the program's price.
    ("volume_tiers.min_seats", r"tier before"),
    ("volume_tiers.unit_amount_minor", r"tier before|program's price"),
    ("body", r"^empty$"),  # a patch whose nested objects change nothing
    ("body", r"a provider token needs provider_id"),  # the dev token route's one pairing
]


def _business_rule(error: object) -> bool:
    if not isinstance(error, dict):
        return False
    path = re.sub(r"\[\d+\]", "", str(error.get("field", "")))
    message = str(error.get("message", ""))
    return any(path == field and re.search(rule, message) for field, rule in BUSINESS_RULES)


@schemathesis.check
def documented_data_is_accepted(
    ctx: CheckContext, response: Response, case: schemathesis.Case
) -> bool | None:
    """schemathesis' positive_data_acceptance (a request the document calls valid is not
    refused as invalid), but for a 400 or 422 whose every error is a BUSINESS_RULES one."""
    if response.status_code in (400, 422):
        try:
            errors = response.json().get("errors") or []
        except ValueError:
            errors = []
        if errors and all(_business_rule(e) for e in errors):
            return None
    return positive_data_acceptance(ctx, response, case)


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    # What the schema calls invalid must be refused, and what it calls valid accepted: the
    # document says exactly what the server accepts, no more and no less.
    negative_data_rejection,
    documented_data_is_accepted,
]


@pytest.fixture(scope="module")
def contract_http(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.gateway_url, timeout=30, trust_env=False) as client:
        yield client


def _token(http: httpx.Client, **claims: str) -> str:
    response = http.post("/api/v1/dev/tokens", json=claims)
    assert response.status_code == 200, response.text
    token: str = response.json()["token"]
    return token


@pytest.fixture(scope="module")
def tokens(contract_http: httpx.Client) -> dict[str, str]:
    """An admin, a learner, and a provider that owns a published program (so listings
    have something to return and its id is a live target)."""
    admin = _token(contract_http, role="admin", sub="fuzz-admin")
    created = contract_http.post(
        "/api/v1/providers",
        json={"name": "Fuzz Academy"},
        headers={"authorization": f"Bearer {admin}"},
    )
    assert created.status_code == 201, created.text
    provider = _token(
        contract_http, role="provider", sub="fuzz-staff", provider_id=created.json()["id"]
    )
    program = contract_http.post(
        "/api/v1/programs",
        json={
            "title": "Fuzzing for beginners",
            "skills": ["fuzzing"],
            "price": {"amount_minor": 0, "currency": "EUR"},
            "credential": {"name": "Fuzzer", "description": "Fuzzes", "criteria": "Fuzzed"},
        },
        headers={"authorization": f"Bearer {provider}"},
    )
    assert program.status_code == 201, program.text
    published = contract_http.post(
        f"/api/v1/programs/{program.json()['id']}/publish",
        headers={"authorization": f"Bearer {provider}"},
    )
    assert published.status_code == 200, published.text
    learner = _token(contract_http, role="learner", sub=f"fuzz-{uuid.uuid4()}")
    return {"admin": admin, "provider": provider, "learner": learner}


def _document() -> dict[str, Any]:
    """The gateway's OpenAPI document, as create_app builds it for every process.

    It is built here, at collection, because schemathesis' lazy loader (from_fixture,
    which would fetch it from the session's stack) does not run on pytest 9.2;
    test_the_live_gateway_serves_this_document checks that the live gateway serves the
    very same document, and every request below goes to the live gateway."""
    settings = GatewaySettings(
        listen_host="127.0.0.1",
        listen_port=8080,
        catalog_addr="127.0.0.1:1",
        enrollment_addr="127.0.0.1:1",
        payments_addr="127.0.0.1:1",
        credentials_addr="127.0.0.1:1",
        auth=AuthSettings("dev", "d" * 32, "", DEV_ISSUER, ""),
        public_base_url="http://127.0.0.1:8080",
    )
    return create_app(settings).openapi()


DOCUMENT = _document()
CONFIG = schemathesis.Config.from_dict(
    {
        # The coverage phase (boundary values of every field, precomputed while pytest
        # collects) takes minutes on two busy cores; the fuzzing phase reaches the same
        # bounds (hypothesis favours them) within the budget, and the audit's exact
        # boundary inputs have their own tests (test_edge.py, test_gateway_edge.py).
        "phases": {"coverage": {"enabled": False}},
    }
)
schema = schemathesis.openapi.from_dict(DOCUMENT, config=CONFIG).exclude(
    path=list(UNFUZZABLE_PATHS)
)


def test_the_live_gateway_serves_this_document(contract_http: httpx.Client) -> None:
    assert contract_http.get("/openapi.json").json() == DOCUMENT


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_the_gateway_keeps_its_contract(
    case: schemathesis.Case, stack: Stack, tokens: dict[str, str]
) -> None:
    # The same request as each role: what one role may do, another must be refused
    # within the contract too.
    for token in tokens.values():
        case.call_and_validate(
            base_url=stack.gateway_url,
            headers={} if _negates_headers(case) else {"authorization": f"Bearer {token}"},
            checks=CHECKS,
            timeout=30,
        )


def _negates_headers(case: schemathesis.Case) -> bool:
    """A negative case about headers may be one without the required Authorization:
    adding our token back would turn it into a valid request that the check then
    expects to be refused. Such a case goes out as generated."""
    header = case.meta.components.get(ParameterLocation.HEADER) if case.meta else None
    return header is not None and header.mode.is_negative


def test_unsigned_webhooks_are_400(contract_http: httpx.Client) -> None:
    for headers in ({}, {"stripe-signature": "t=1,v1=00"}):
        response = contract_http.post(
            "/webhooks/stripe",
            content=b'{"id": "evt_fuzz", "type": "checkout.session.completed"}',
            headers={"content-type": "application/json", **headers},
        )
        assert response.status_code == 400, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
