"""Sign-in through a real, certified OpenID provider (panva's `oidc-provider` on Node),
with the whole system in AUTH_MODE=oidc: the gateway is the relying party, the services
verify the provider's access tokens.

The provider's login and consent pages are real forms, filled in by an HTTP client that
keeps cookies (tests/oidc/browserless.py). Hostile tokens are signed with the provider's
own key, which the test generated: only a forger (or a bug) makes those.
"""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from itsdangerous import TimestampSigner

from services.cli.stack import SERVICES, Stack, StackOptions
from services.common.embedded import PostgresServer, free_port
from services.gateway.signin import CALLBACK_PATH, SESSION_COOKIE_NAME
from tests.oidc.browserless import follow, sign_in_at_provider, submit
from tests.oidc.server import (
    AUDIENCE,
    GATEWAY_CLIENT_ID,
    OidcProvider,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def gateway_port() -> int:
    """Fixed before either starts: the provider must know the gateway's redirect URIs."""
    return free_port()


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory, gateway_port: int) -> Iterator[OidcProvider]:
    gateway = f"http://127.0.0.1:{gateway_port}"
    server = OidcProvider(
        tmp_path_factory.mktemp("oidc"),
        gateway_redirect_uri=gateway + CALLBACK_PATH,
        post_logout_redirect_uri=gateway + "/",
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def oidc_stack(
    provider: OidcProvider,
    gateway_port: int,
    tmp_path_factory: pytest.TempPathFactory,
    embedded_pg: PostgresServer,
) -> Iterator[Stack]:
    env = provider.stack_env()
    with Stack(
        Path(tmp_path_factory.mktemp("oidc-stack")),
        database_url=embedded_pg.dsn,
        options=StackOptions(
            durable=False,
            database_prefix=f"oidc{os.getpid()}",
            gateway_port=gateway_port,
            env_overrides={name: env for name in SERVICES},
        ),
    ) as running:
        running.start()
        running.wait_ready(120)
        yield running


@pytest.fixture
def browser() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30, trust_env=False) as client:
        yield client


def sign_in(
    browser: httpx.Client, gateway: str, login: str, next_path: str = "/"
) -> httpx.Response:
    start = browser.get(f"{gateway}/signin", params={"next": next_path})
    assert start.status_code == 302, start.text
    back = sign_in_at_provider(browser, start, login, stop_at=gateway + CALLBACK_PATH)
    assert back.is_redirect, back.text[:500]
    return browser.get(back.headers["location"])


def test_a_person_signs_in_and_is_a_learner(oidc_stack: Stack, browser: httpx.Client) -> None:
    gateway = oidc_stack.gateway_url
    callback = sign_in(browser, gateway, "alice", "/?q=sql")

    assert callback.status_code == 303, callback.text
    assert callback.headers["location"] == "/?q=sql"
    cookie = callback.headers["set-cookie"].lower()
    assert cookie.startswith(SESSION_COOKIE_NAME)
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    page = browser.get(gateway + "/")
    assert "Signed in as <strong>alice</strong> (learner)" in page.text
    assert "Development mode" not in page.text


def test_the_authorization_request_uses_pkce_state_and_nonce(
    oidc_stack: Stack, browser: httpx.Client
) -> None:
    start = browser.get(f"{oidc_stack.gateway_url}/signin")
    query = parse_qs(urlsplit(start.headers["location"]).query)

    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) >= 43
    assert query["state"][0]
    assert query["nonce"][0]
    assert query["client_id"] == [GATEWAY_CLIENT_ID]
    assert query["response_type"] == ["code"]


def test_an_admin_comes_from_the_group_claim(oidc_stack: Stack, browser: httpx.Client) -> None:
    sign_in(browser, oidc_stack.gateway_url, "root")

    page = browser.get(oidc_stack.gateway_url + "/")
    assert "Signed in as <strong>root</strong> (admin)" in page.text


def test_a_callback_cannot_be_replayed(oidc_stack: Stack, browser: httpx.Client) -> None:
    gateway = oidc_stack.gateway_url
    start = browser.get(f"{gateway}/signin")
    back = sign_in_at_provider(browser, start, "alice", stop_at=gateway + CALLBACK_PATH)
    callback_url = back.headers["location"]
    assert browser.get(callback_url).status_code == 303

    # The same state (and code) again, in the same session: the state was used up.
    again = browser.get(callback_url, headers={"accept": "application/json"})
    assert again.status_code == 400
    assert again.json()["detail"] == "sign-in failed or expired; please sign in again"


def test_a_callback_from_another_session_is_refused(
    oidc_stack: Stack, browser: httpx.Client
) -> None:
    """Login CSRF / injection: a code and state obtained in the attacker's browser, delivered
    to the victim's, which started a sign-in of its own (its state and nonce differ)."""
    gateway = oidc_stack.gateway_url
    start = browser.get(f"{gateway}/signin")
    stolen = sign_in_at_provider(browser, start, "pat", stop_at=gateway + CALLBACK_PATH)
    with httpx.Client(timeout=30, trust_env=False) as victim:
        victim.get(f"{gateway}/signin")  # the victim's own pending sign-in
        answer = victim.get(stolen.headers["location"], headers={"accept": "application/json"})

        assert answer.status_code == 400
        assert "Signed in as" not in victim.get(gateway + "/").text


def test_a_tampered_session_cookie_signs_nobody_in(
    oidc_stack: Stack, browser: httpx.Client
) -> None:
    gateway = oidc_stack.gateway_url
    sign_in(browser, gateway, "alice")
    value = browser.cookies[SESSION_COOKIE_NAME]
    data, _, signature = value.partition(".")
    session = json.loads(base64.b64decode(data))
    session["access_token"] = "x" + session["access_token"]
    forged = base64.b64encode(json.dumps(session).encode()).decode() + "." + signature
    for cookie, signed_in in [(value, True), (forged, False)]:
        with httpx.Client(timeout=30, trust_env=False) as other:
            other.cookies.set(SESSION_COOKIE_NAME, cookie)
            assert ("Signed in as" in other.get(gateway + "/").text) is signed_in


@pytest.mark.parametrize(("swap_nonce", "status"), [(False, 303), (True, 400)])
def test_an_id_token_for_another_nonce_is_refused(
    oidc_stack: Stack, provider: OidcProvider, browser: httpx.Client, swap_nonce: bool, status: int
) -> None:
    """The session's nonce is changed (with the session key, which only the gateway has)
    after the provider put the original one into the ID token: the callback must refuse
    the ID token, whatever else (state, code, PKCE verifier) is right."""
    gateway = oidc_stack.gateway_url
    start = browser.get(f"{gateway}/signin")
    back = sign_in_at_provider(browser, start, "alice", stop_at=gateway + CALLBACK_PATH)
    signer = TimestampSigner(provider.session_secret)
    cookie = browser.cookies[SESSION_COOKIE_NAME]
    session = json.loads(base64.b64decode(signer.unsign(cookie.encode())))
    pending = [k for k in session if k.startswith("_state_")]
    assert len(pending) == 1
    assert session[pending[0]]["data"]["nonce"]
    if swap_nonce:
        session[pending[0]]["data"]["nonce"] = "not-the-nonce-the-provider-saw"
    browser.cookies.clear()
    browser.cookies.set(
        SESSION_COOKIE_NAME,
        signer.sign(base64.b64encode(json.dumps(session).encode())).decode(),
        domain="127.0.0.1",
    )

    answer = browser.get(back.headers["location"], headers={"accept": "application/json"})
    assert answer.status_code == status, answer.text
    assert ("Signed in as" in browser.get(gateway + "/").text) is not swap_nonce


def test_sign_out_ends_our_session_and_the_providers(
    oidc_stack: Stack, provider: OidcProvider, browser: httpx.Client
) -> None:
    gateway = oidc_stack.gateway_url
    sign_in(browser, gateway, "alice")

    out = browser.post(f"{gateway}/session/end", data={"next": "/"}, headers={"origin": gateway})
    assert out.status_code == 303
    assert out.headers["location"].startswith(provider.issuer + "/session/end")
    confirm = follow(browser, out)
    done = follow(browser, submit(browser, confirm, {"logout": "yes"}))

    assert str(done.url).startswith(gateway)
    assert "Signed in as" not in browser.get(gateway + "/").text
    # The provider's session is over too: signing in again asks for the password.
    again = follow(browser, browser.get(f"{gateway}/signin"))
    assert 'name="login"' in again.text


def test_sign_out_from_another_site_is_refused(oidc_stack: Stack, browser: httpx.Client) -> None:
    gateway = oidc_stack.gateway_url
    sign_in(browser, gateway, "alice")

    out = browser.post(
        f"{gateway}/session/end", data={"next": "/"}, headers={"origin": "https://evil.example"}
    )
    assert out.status_code == 403
    assert "Signed in as" in browser.get(gateway + "/").text


def test_an_api_client_uses_a_client_credentials_token(
    oidc_stack: Stack, provider: OidcProvider
) -> None:
    token = provider.client_credentials_token()

    answer = httpx.get(
        f"{oidc_stack.gateway_url}/api/v1/enrollments",
        headers={"authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["enrollments"] == []


@pytest.mark.parametrize(
    ("claims", "detail"),
    [
        ({"exp": int(time.time()) - 60, "iat": int(time.time()) - 600}, "expired"),
        ({"aud": "urn:someone:else"}, "invalid bearer token"),
        ({"iss": "https://evil.example"}, "invalid bearer token"),
        ({"groups": ["upskill-admins"], "aud": "urn:someone:else"}, "invalid bearer token"),
    ],
    ids=["expired", "wrong audience", "wrong issuer", "admin for another API"],
)
def test_tokens_the_api_refuses(
    oidc_stack: Stack, provider: OidcProvider, claims: dict[str, object], detail: str
) -> None:
    answer = httpx.get(
        f"{oidc_stack.gateway_url}/api/v1/enrollments",
        headers={"authorization": f"Bearer {provider.sign(claims)}"},
    )
    assert answer.status_code == 401, answer.text
    assert detail in answer.json()["detail"]


def test_a_tampered_token_is_refused(oidc_stack: Stack, provider: OidcProvider) -> None:
    good = provider.sign({})
    header, payload, signature = good.split(".")
    # The same signature over a payload that now says admin.
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["groups"] = ["upskill-admins"]
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    forged = f"{header}.{forged_payload}.{signature}"

    url = f"{oidc_stack.gateway_url}/api/v1/enrollments"
    assert httpx.get(url, headers={"authorization": f"Bearer {good}"}).status_code == 200
    assert httpx.get(url, headers={"authorization": f"Bearer {forged}"}).status_code == 401


def test_a_signed_token_of_the_right_audience_is_accepted(
    oidc_stack: Stack, provider: OidcProvider
) -> None:
    """The control for the refusals above: only the altered claim made them fail."""
    answer = httpx.get(
        f"{oidc_stack.gateway_url}/api/v1/enrollments",
        headers={"authorization": f"Bearer {provider.sign({'aud': AUDIENCE})}"},
    )
    assert answer.status_code == 200, answer.text


def test_dev_tokens_do_not_exist(oidc_stack: Stack) -> None:
    answer = httpx.post(
        f"{oidc_stack.gateway_url}/api/v1/dev/tokens", json={"role": "admin", "sub": "x"}
    )
    assert answer.status_code == 404


def test_the_gateway_calls_services_with_its_client_credentials_token(oidc_stack: Stack) -> None:
    """The hosted checkout page is read with the gateway's own service token, which it got
    from the provider (client credentials): payments answers "no such session", not 401."""
    answer = httpx.get(
        f"{oidc_stack.gateway_url}/checkout/cs_test_nothing_here",
        headers={"accept": "application/json"},
    )
    assert answer.status_code == 404, answer.text
