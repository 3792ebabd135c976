"""Sign-in through a real, certified OpenID provider (panva's `oidc-provider` on Node),
with the whole system in AUTH_MODE=oidc: the gateway is the relying party, the services
verify the provider's access tokens.

The provider's login and consent pages are real forms, filled in by an HTTP client that
keeps cookies (tests/oidc/browserless.py). Hostile tokens are signed with the provider's
own key, which the test generated: only a forger (or a bug) makes those.
"""

from __future__ import annotations

import base64
import concurrent.futures
import json
import time
import uuid
from collections.abc import Iterator
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from itsdangerous import TimestampSigner

from services.common.auth import AuthSettings
from services.devstack.stack import Stack
from services.gateway.app import create_app
from services.gateway.settings import GatewaySettings, OidcClientSettings
from services.gateway.signin import CALLBACK_PATH, SESSION_COOKIE_NAME
from tests.oidc.browserless import follow, sign_in_at_provider, submit
from tests.oidc.fixtures import PROGRAM, bearer, sign_in
from tests.oidc.server import (
    API_CLIENT_ID,
    AUDIENCE,
    GATEWAY_CLIENT_ID,
    OidcProvider,
)
from tests.polling import eventually

pytestmark = pytest.mark.slow


@pytest.fixture
def browser() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30, trust_env=False) as client:
        yield client


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


# ------------------------------------------------------------------ provider staff


def test_an_accepted_owner_acts_for_the_provider(
    oidc_stack: Stack, provider: OidcProvider, staffed: dict[str, str]
) -> None:
    api = oidc_stack.gateway_url + "/api/v1"
    olga = bearer(provider, "olga") | {"x-upskill-provider": staffed["provider_id"]}

    program = httpx.post(f"{api}/programs", json=PROGRAM, headers=olga)
    assert program.status_code == 201, program.text
    assert program.json()["provider_id"] == staffed["provider_id"]
    published = httpx.post(f"{api}/programs/{program.json()['id']}/publish", headers=olga)
    assert published.status_code == 200, published.text
    # Enrollment and credentials check the membership through the catalog too.
    assert httpx.get(f"{api}/enrollments", headers=olga).status_code == 200
    assert httpx.get(f"{api}/credentials", headers=olga).status_code == 200
    members = httpx.get(f"{api}/providers/{staffed['provider_id']}/members", headers=olga)
    assert [(m["subject"], m["role"]) for m in members.json()["members"]] == [("olga", "OWNER")]


@pytest.mark.parametrize("who", ["alice", "pat"])
def test_a_non_member_cannot_act_for_the_provider(
    oidc_stack: Stack, provider: OidcProvider, staffed: dict[str, str], who: str
) -> None:
    api = oidc_stack.gateway_url + "/api/v1"
    # A role claim in the token changes nothing either: membership is in our data.
    headers = bearer(provider, who, role="provider", provider_id=staffed["provider_id"])
    headers["x-upskill-provider"] = staffed["provider_id"]

    for answer in (
        httpx.post(f"{api}/programs", json=PROGRAM, headers=headers),
        httpx.get(f"{api}/enrollments", headers=headers),
        httpx.get(f"{api}/credentials", headers=headers),
        httpx.get(f"{api}/providers/{staffed['provider_id']}/members", headers=headers),
    ):
        assert answer.status_code == 403, answer.text
    without_header = {"authorization": headers["authorization"]}
    assert httpx.post(f"{api}/programs", json=PROGRAM, headers=without_header).status_code == 403


def test_an_owner_invites_staff_who_accept_once(
    oidc_stack: Stack, provider: OidcProvider, staffed: dict[str, str]
) -> None:
    api = oidc_stack.gateway_url + "/api/v1"
    pid = staffed["provider_id"]
    olga = bearer(provider, "olga")
    invited = httpx.post(
        f"{api}/providers/{pid}/invitations", json={"email": "pat@example.test"}, headers=olga
    )
    assert invited.status_code == 201, invited.text
    accept = f"{api}/invitations/{invited.json()['id']}/accept"

    # Someone else's invitation: as if it did not exist.
    assert httpx.post(accept, headers=bearer(provider, "alice")).status_code == 404
    # Staff may not invite.
    pat = bearer(provider, "pat")
    first = httpx.post(accept, headers=pat)
    assert first.status_code == 200, first.text
    assert first.json()["role"] == "STAFF"
    assert httpx.post(accept, headers=pat).status_code == 409
    staff_invite = httpx.post(
        f"{api}/providers/{pid}/invitations", json={"email": "x@example.test"}, headers=pat
    )
    assert staff_invite.status_code == 403
    acting = pat | {"x-upskill-provider": pid}
    assert httpx.post(f"{api}/programs", json=PROGRAM, headers=acting).status_code == 201


def test_an_unverified_email_cannot_accept(
    oidc_stack: Stack, provider: OidcProvider, staffed: dict[str, str]
) -> None:
    api = oidc_stack.gateway_url + "/api/v1"
    admin = bearer(provider, "root", groups=["upskill-admins"])
    invited = httpx.post(
        f"{api}/providers/{staffed['provider_id']}/invitations",
        json={"email": "eve@example.test"},
        headers=admin,
    )
    eve = {
        "authorization": "Bearer "
        + provider.sign({"sub": "eve", "email": "eve@example.test", "email_verified": False})
    }
    answer = httpx.post(f"{api}/invitations/{invited.json()['id']}/accept", headers=eve)
    assert answer.status_code == 403
    assert "verified email" in answer.json()["detail"]


def test_concurrent_duplicate_invitations_make_one(
    oidc_stack: Stack, provider: OidcProvider, staffed: dict[str, str]
) -> None:
    url = f"{oidc_stack.gateway_url}/api/v1/providers/{staffed['provider_id']}/invitations"
    admin = bearer(provider, "root", groups=["upskill-admins"])
    body = {"email": f"dup-{uuid.uuid4().hex[:8]}@example.test"}
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: httpx.post(url, json=body, headers=admin), range(8)))
    assert sorted(a.status_code for a in answers) == [201] + [409] * 7


def test_concurrent_acceptances_make_one_member(
    oidc_stack: Stack, provider: OidcProvider, staffed: dict[str, str]
) -> None:
    api = oidc_stack.gateway_url + "/api/v1"
    admin = bearer(provider, "root", groups=["upskill-admins"])
    who = f"con-{uuid.uuid4().hex[:8]}"
    invited = httpx.post(
        f"{api}/providers/{staffed['provider_id']}/invitations",
        json={"email": f"{who}@example.test"},
        headers=admin,
    )
    url = f"{api}/invitations/{invited.json()['id']}/accept"
    person = bearer(provider, who)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: httpx.post(url, headers=person), range(8)))
    assert sorted(a.status_code for a in answers) == [200] + [409] * 7


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"email": "not-an-email"}, 422),
        ({"email": "two@example.test, three@example.test"}, 422),
        ({"email": "a@b\x00.example"}, 422),
        ({"email": "a" * 400 + "@example.test"}, 422),
        ({"email": "x@example.test", "role": "ADMIN"}, 422),
        ({"email": "x@example.test", "extra": 1}, 422),
        ({"email": ["x@example.test"]}, 422),
        ({}, 422),
    ],
)
def test_hostile_invitations_are_refused(
    oidc_stack: Stack,
    provider: OidcProvider,
    staffed: dict[str, str],
    body: dict[str, object],
    status: int,
) -> None:
    url = f"{oidc_stack.gateway_url}/api/v1/providers/{staffed['provider_id']}/invitations"
    admin = bearer(provider, "root", groups=["upskill-admins"])
    answer = httpx.post(url, json=body, headers=admin)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")


def test_a_huge_invitation_body_is_refused(
    oidc_stack: Stack, provider: OidcProvider, staffed: dict[str, str]
) -> None:
    url = f"{oidc_stack.gateway_url}/api/v1/providers/{staffed['provider_id']}/invitations"
    admin = bearer(provider, "root", groups=["upskill-admins"])
    answer = httpx.post(url, content=b'{"email": "' + b"a" * 300_000 + b'"}', headers=admin)
    assert answer.status_code == 413


@pytest.mark.parametrize("value", ["not-a-uuid", "\x7f", "1 OR 1=1"])
def test_a_bad_acting_provider_header_is_400(
    oidc_stack: Stack, provider: OidcProvider, value: str
) -> None:
    headers = bearer(provider, "alice") | {"x-upskill-provider": value}
    answer = httpx.get(f"{oidc_stack.gateway_url}/api/v1/enrollments", headers=headers)
    assert answer.status_code == 400


def test_a_learner_signs_in_and_buys_a_program(
    oidc_stack: Stack, provider: OidcProvider, staffed: dict[str, str], browser: httpx.Client
) -> None:
    api = oidc_stack.gateway_url + "/api/v1"
    olga = bearer(provider, "olga") | {"x-upskill-provider": staffed["provider_id"]}
    program = httpx.post(f"{api}/programs", json=PROGRAM, headers=olga).json()
    httpx.post(f"{api}/programs/{program['id']}/publish", headers=olga).raise_for_status()
    gateway = oidc_stack.gateway_url
    sign_in(browser, gateway, "alice", f"/programs/{program['id']}")

    page = browser.get(f"{gateway}/programs/{program['id']}")
    enrolled = submit(browser, page, {}, action="/enroll")
    assert enrolled.status_code == 303, enrolled.text
    checkout = browser.get(urljoin(gateway + "/", enrolled.headers["location"]))
    paid = follow(
        browser,
        submit(browser, checkout, {"card_number": "4242424242424242"}, action="/checkout/"),
    )
    assert paid.status_code == 200, paid.text
    alice = bearer(provider, "alice")

    def active() -> list[str]:
        listing = httpx.get(f"{api}/enrollments", headers=alice).json()["enrollments"]
        return [e["status"] for e in listing if e["program_id"] == program["id"]]

    assert eventually(active, until=lambda s: s == ["ACTIVE"], what="alice's enrollment")


def test_an_api_client_added_as_staff_acts_for_the_provider(
    oidc_stack: Stack, provider: OidcProvider, staffed: dict[str, str]
) -> None:
    """A provider's own integration: a client-credentials token (no user, no email), made a
    member by the provider's owner; the audience is checked like any other token's."""
    api = oidc_stack.gateway_url + "/api/v1"
    pid = staffed["provider_id"]
    client = {
        "authorization": f"Bearer {provider.client_credentials_token()}",
        "x-upskill-provider": pid,
    }
    assert httpx.post(f"{api}/programs", json=PROGRAM, headers=client).status_code == 403

    olga = bearer(provider, "olga")
    added = httpx.post(
        f"{api}/providers/{pid}/members", json={"subject": API_CLIENT_ID}, headers=olga
    )
    assert added.status_code == 201, added.text
    assert (added.json()["subject"], added.json()["role"]) == (API_CLIENT_ID, "STAFF")
    again = httpx.post(
        f"{api}/providers/{pid}/members", json={"subject": API_CLIENT_ID}, headers=olga
    )
    assert again.status_code == 409
    created = httpx.post(f"{api}/programs", json=PROGRAM, headers=client)
    assert created.status_code == 201, created.text
    # Staff (the client itself) may not add members.
    by_staff = httpx.post(
        f"{api}/providers/{pid}/members", json={"subject": "someone"}, headers=client
    )
    assert by_staff.status_code == 403


@pytest.mark.parametrize(
    "body", [{"subject": ""}, {"subject": "a\x00b"}, {"subject": "x" * 201}, {"sub": "x"}]
)
def test_hostile_members_are_refused(
    oidc_stack: Stack, provider: OidcProvider, staffed: dict[str, str], body: dict[str, str]
) -> None:
    url = f"{oidc_stack.gateway_url}/api/v1/providers/{staffed['provider_id']}/members"
    answer = httpx.post(url, json=body, headers=bearer(provider, "root", groups=["upskill-admins"]))
    assert answer.status_code == 422, answer.text


def test_a_discovery_document_of_another_issuer_is_refused(provider: OidcProvider) -> None:
    """Mix-up defence: the gateway trusts AUTH_ISSUER; metadata naming another issuer (here
    the real provider, while the gateway expects someone else) stops sign-in before any
    redirect."""
    settings = GatewaySettings(
        listen_host="127.0.0.1",
        listen_port=8080,
        catalog_addr="127.0.0.1:1",
        enrollment_addr="127.0.0.1:1",
        payments_addr="127.0.0.1:1",
        credentials_addr="127.0.0.1:1",
        auth=AuthSettings(
            "oidc",
            "",
            provider.jwks_url,
            "https://login.other.example",
            "",
            audience=AUDIENCE,
            admin_claim="groups",
            admin_value="upskill-admins",
        ),
        public_base_url="http://testserver",
        oidc=OidcClientSettings(
            client_id=GATEWAY_CLIENT_ID,
            client_secret=provider.gateway_secret,
            discovery_url=f"{provider.issuer}/.well-known/openid-configuration",
            scopes="openid email",
            session_secret="s" * 64,
        ),
    )
    with TestClient(create_app(settings)) as client:
        answer = client.get(
            "/signin", follow_redirects=False, headers={"accept": "application/json"}
        )
    assert answer.status_code == 503
    assert answer.json()["detail"] == "the identity provider is misconfigured"
    assert "location" not in answer.headers


def test_a_member_signs_in_and_lands_in_the_studio(
    oidc_stack: Stack, browser: httpx.Client, staffed: dict[str, str]
) -> None:
    gateway = oidc_stack.gateway_url
    callback = sign_in(browser, gateway, "olga", "/")
    assert callback.status_code == 303, callback.text
    assert callback.headers["location"] == "/studio"
    studio = follow(browser, browser.get(gateway + "/studio"))
    assert studio.status_code == 200, studio.text
    assert str(studio.url).endswith(f"/studio/{staffed['provider_id']}")
    assert 'href="/studio"' in studio.text  # the header's Studio link
    # A page she asked for is where she goes, studio or not.
    with httpx.Client(timeout=30, trust_env=False) as again:
        assert sign_in(again, gateway, "olga", "/?q=sql").headers["location"] == "/?q=sql"


def test_a_person_with_no_provider_is_not_sent_to_the_studio(
    oidc_stack: Stack, browser: httpx.Client
) -> None:
    gateway = oidc_stack.gateway_url
    callback = sign_in(browser, gateway, "alice", "/")  # alice never joins a provider
    assert callback.headers["location"] == "/"
    studio = browser.get(gateway + "/studio")
    assert studio.status_code == 200
    assert "not on any provider" in studio.text
