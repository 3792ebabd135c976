"""The Open Badges 3.0 API (OB 3.0 section 6) as a wallet uses it, over HTTP against the
running system: the unprotected discovery document, getCredentials and getProfile behind the
OB 3.0 OAuth 2.0 scopes (carried in the bearer token's scope claim; tokens are minted the way
`upskill token --scope` does: test_ob3_wallet.py gets them from a real authorization server),
Imsx_StatusInfo errors, paging headers, and the credential as a downloadable .jwt file; and
the whole API against 1EdTech's own OpenAPI description of it, with a contract fuzzer."""

from __future__ import annotations

from typing import Any

import httpx
import jwt
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from services.common.auth import mint_dev_token
from services.devstack.demo import JourneyResult, run_journey
from services.devstack.stack import Stack
from tests.standards import describe, load, schema_errors

CREDENTIALS = "https://purl.imsglobal.org/spec/ob/v3p0/scope/credential.readonly"
PROFILE = "https://purl.imsglobal.org/spec/ob/v3p0/scope/profile.readonly"
API = "/ims/ob/v3p0"


@pytest.fixture(scope="module")
def journey(stack: Stack) -> JourneyResult:
    return run_journey(stack.gateway_url, say=lambda _: None)


def learner_token(stack: Stack, journey: JourneyResult, scope: str, sub: str = "") -> str:
    assert stack.secrets is not None
    claims = jwt.decode(journey.tokens["learner"], options={"verify_signature": False})
    return mint_dev_token(
        stack.secrets.jwt_secret,
        role="learner",
        subject=sub or claims["sub"],
        email=claims.get("email", ""),
        scope=scope,
    )


def get(stack: Stack, path: str, token: str | None = None, **params: Any) -> httpx.Response:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return httpx.get(f"{stack.gateway_url}{path}", headers=headers, params=params, timeout=10)


def assert_imsx(response: httpx.Response, status: int, minor: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["imsx_codeMajor"] == "failure"
    assert body["imsx_severity"] == "error"
    [field] = body["imsx_codeMinor"]["imsx_codeMinorField"]
    assert field == {
        "imsx_codeMinorFieldName": "TargetEndSystem",
        "imsx_codeMinorFieldValue": minor,
    }


def test_discovery_is_unprotected_and_names_the_scopes(stack: Stack) -> None:
    response = get(stack, f"{API}/discovery")

    assert response.status_code == 200
    document = response.json()
    scheme = document["components"]["securitySchemes"]["OAuth2ACG"]
    assert scheme["type"] == "oauth2"
    flow = scheme["flows"]["authorizationCode"]
    assert {CREDENTIALS, PROFILE} <= flow["scopes"].keys()
    assert flow["authorizationUrl"].startswith("http")
    assert document["info"]["title"]


def test_get_credentials_returns_the_learners_credential_as_compact_jws(
    stack: Stack, journey: JourneyResult
) -> None:
    response = get(stack, f"{API}/credentials", learner_token(stack, journey, CREDENTIALS))

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["credential"] == []  # every credential we issue is a VC-JWT
    assert journey.jwt in body["compactJwsString"]
    assert response.headers["x-total-count"] == str(len(body["compactJwsString"]))
    assert 'rel="first"' in response.headers["link"]
    for token in body["compactJwsString"]:
        payload = jwt.decode(token, options={"verify_signature": False})
        assert describe(schema_errors(payload)) == []


def test_paging_follows_limit_and_offset(stack: Stack, journey: JourneyResult) -> None:
    token = learner_token(stack, journey, CREDENTIALS)
    total = int(get(stack, f"{API}/credentials", token).headers["x-total-count"])

    past_the_end = get(stack, f"{API}/credentials", token, limit=1, offset=total)

    assert past_the_end.status_code == 200
    assert past_the_end.json()["compactJwsString"] == []
    assert past_the_end.headers["x-total-count"] == str(total)
    assert 'rel="prev"' in past_the_end.headers["link"]
    assert 'rel="next"' not in past_the_end.headers["link"]
    first = get(stack, f"{API}/credentials", token, limit=1, offset=0)
    assert len(first.json()["compactJwsString"]) == 1


def test_since_in_the_future_filters_everything_out(stack: Stack, journey: JourneyResult) -> None:
    token = learner_token(stack, journey, CREDENTIALS)

    response = get(stack, f"{API}/credentials", token, since="2999-01-01T00:00:00Z")

    assert response.status_code == 200
    assert response.json()["compactJwsString"] == []
    assert response.headers["x-total-count"] == "0"


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "0"},
        {"limit": "101"},
        {"limit": "ten"},
        {"limit": "1.5"},
        {"offset": "-1"},
        {"offset": "99999999999"},
        {"since": "yesterday"},
        {"since": "2025-01-01T00:00:00"},  # no offset: ambiguous
        {"since": "20250101T000000+0000"},  # ISO 8601's basic format, not RFC 3339
        {"since": "2025-01-01T00:00+00:00"},  # no seconds
        {"since": "1735689600"},
        {"limit": "\x00"},
    ],
)
def test_bad_query_parameters_are_400_imsx(
    stack: Stack, journey: JourneyResult, params: dict[str, str]
) -> None:
    response = get(
        stack, f"{API}/credentials", learner_token(stack, journey, CREDENTIALS), **params
    )

    assert_imsx(response, 400, "invalid_query_parameter")


def test_another_learner_sees_none_of_these_credentials(
    stack: Stack, journey: JourneyResult
) -> None:
    token = learner_token(stack, journey, CREDENTIALS, sub="someone-else")

    response = get(stack, f"{API}/credentials", token)

    assert response.status_code == 200
    assert journey.jwt not in response.json()["compactJwsString"]


def test_no_token_is_401_with_a_bearer_challenge(stack: Stack) -> None:
    response = get(stack, f"{API}/credentials")

    assert_imsx(response, 401, "unauthorizedrequest")
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_a_forged_token_is_401(stack: Stack, journey: JourneyResult) -> None:
    forged = mint_dev_token("x" * 40, role="learner", subject="alice", scope=CREDENTIALS)

    assert_imsx(get(stack, f"{API}/credentials", forged), 401, "unauthorizedrequest")


@pytest.mark.parametrize(
    ("path", "scope"),
    [
        ("credentials", ""),
        ("credentials", PROFILE),
        ("credentials", CREDENTIALS.replace("readonly", "upsert")),
        ("profile", CREDENTIALS),
        ("profile", ""),
    ],
)
def test_a_token_without_the_endpoints_scope_is_403(
    stack: Stack, journey: JourneyResult, path: str, scope: str
) -> None:
    response = get(stack, f"{API}/{path}", learner_token(stack, journey, scope))

    assert_imsx(response, 403, "forbidden")
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]


def test_get_profile_names_the_credentials_subject(stack: Stack, journey: JourneyResult) -> None:
    response = get(stack, f"{API}/profile", learner_token(stack, journey, f"{PROFILE} openid"))

    assert response.status_code == 200, response.text
    profile = response.json()
    assert profile["id"] == journey.claims["credentialSubject"]["id"]
    assert "Profile" in profile["type"]
    assert profile["@context"] == ["https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"]


def test_the_credential_downloads_as_a_jwt_file(stack: Stack, journey: JourneyResult) -> None:
    response = get(stack, f"/api/v1/credentials/{journey.credential_id}/download")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/vc+jwt")
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    assert disposition.endswith(f'-{journey.credential_id}.jwt"')
    assert response.text == journey.jwt


@pytest.mark.parametrize("credential_id", ["not-a-uuid", "00000000-0000-4000-8000-000000000000"])
def test_downloading_an_unknown_credential_is_404(stack: Stack, credential_id: str) -> None:
    response = get(stack, f"/api/v1/credentials/{credential_id}/download")

    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")


# What an HTTP client can put in a header at all (no CR, LF or non-ASCII).
_HEADER_CHARS = st.characters(min_codepoint=0x20, max_codepoint=0x7E)
_QUERY = st.dictionaries(
    st.sampled_from(["limit", "offset", "since", "other"]),
    st.one_of(
        st.integers(min_value=-(2**40), max_value=2**40).map(str),
        st.text(max_size=40),
        st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
    ),
    max_size=4,
)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    params=_QUERY,
    # h11 refuses a value with surrounding blanks before it is sent: strip them.
    authorization=st.one_of(st.none(), st.text(_HEADER_CHARS, max_size=60).map(str.strip)),
)
def test_hostile_requests_get_a_spec_answer_never_a_server_error(
    stack: Stack, journey: JourneyResult, params: dict[str, str], authorization: str | None
) -> None:
    # A small contract fuzzer: whatever the query and Authorization header, the answer is
    # 200 with the response shape or an Imsx_StatusInfo 400/401/403, never a 5xx or HTML.
    token = learner_token(stack, journey, CREDENTIALS)
    headers = {"authorization": f"Bearer {token}"}
    if authorization is not None:
        headers = {"authorization": authorization}
    response = httpx.get(
        f"{stack.gateway_url}{API}/credentials", params=params, headers=headers, timeout=10
    )

    assert response.status_code in (200, 400, 401, 403), response.text
    body = response.json()
    if response.status_code == 200:
        assert set(body) == {"credential", "compactJwsString"}
        assert int(response.headers["x-total-count"]) >= len(body["compactJwsString"])
    else:
        assert body["imsx_codeMajor"] == "failure"


# 1EdTech's OpenAPI description of the OB 3.0 API (../shared/standards; see its README).
OB3_OPENAPI = "ob_v3p0_openapi.json"
# The operations we serve; upsertCredential and putProfile are for hosts that accept
# credentials from elsewhere, which we are not.
OUR_OPERATIONS = ("getServiceDescription", "getCredentials", "getProfile")
OB3_EXAMPLES_PER_OPERATION = 30


def test_the_api_keeps_1edtechs_contract(stack: Stack, journey: JourneyResult) -> None:
    """schemathesis generates requests from 1EdTech's own OpenAPI document and checks every
    answer against it: status codes, content types, headers (X-Total-Count) and bodies
    (GetOpenBadgeCredentialsResponse, Profile, Imsx_StatusInfo), and no server error."""
    document = load(OB3_OPENAPI)
    assert document["info"]["description"] == "Open Badges Data Model 3.0"
    spec = schemathesis.openapi.from_dict(
        document,
        config=schemathesis.Config.from_dict({"phases": {"coverage": {"enabled": False}}}),
    )
    token = learner_token(stack, journey, f"{CREDENTIALS} {PROFILE}")
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_headers_conformance,
        response_schema_conformance,
    ]
    served = []
    for result in spec.get_all_operations():
        if isinstance(result, Err):
            raise AssertionError(f"1EdTech's document does not load: {result.err()}")
        operation = result.ok()
        if operation.definition.raw.get("operationId") not in OUR_OPERATIONS:
            continue
        served.append(operation.definition.raw["operationId"])

        @given(case=operation.as_strategy())
        @settings(
            max_examples=OB3_EXAMPLES_PER_OPERATION,
            derandomize=True,
            database=None,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def keeps_contract(case: schemathesis.Case) -> None:
            case.call_and_validate(
                base_url=f"{stack.gateway_url}{API}",
                headers={"authorization": f"Bearer {token}"},
                checks=checks,
                timeout=30,
            )

        keeps_contract()
    assert sorted(served) == sorted(OUR_OPERATIONS)
