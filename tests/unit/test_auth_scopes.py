"""OAuth 2.0 scopes on a verified token (the Open Badges 3.0 API reads them)."""

from __future__ import annotations

import jwt
import pytest

from services.common.auth import AUDIENCE, DEV_ISSUER, AuthSettings, TokenVerifier, mint_dev_token

SECRET = "s" * 40
VERIFIER = TokenVerifier(AuthSettings("dev", SECRET, "", "", ""))
READ = "https://purl.imsglobal.org/spec/ob/v3p0/scope/credential.readonly"


def test_the_scope_claim_becomes_the_principals_scopes():
    token = mint_dev_token(SECRET, role="learner", subject="alice", scope=f"openid  {READ}")

    assert VERIFIER.verify(token).scopes == frozenset({"openid", READ})


def test_a_token_without_scope_grants_none():
    assert VERIFIER.verify(mint_dev_token(SECRET, role="learner", subject="a")).scopes == set()


@pytest.mark.parametrize(
    ("claim", "expected"),
    [
        ([READ, "openid"], {READ, "openid"}),
        ([READ, 3, "", "a b"], {READ}),
        (42, set()),
        ({}, set()),
    ],
)
def test_odd_scope_claims_grant_only_plain_scope_names(claim, expected):
    claims = {"iss": DEV_ISSUER, "aud": AUDIENCE, "sub": "a", "role": "learner", "exp": 2**40}
    token = jwt.encode({**claims, "scope": claim}, SECRET, algorithm="HS256")

    assert VERIFIER.verify(token).scopes == expected
