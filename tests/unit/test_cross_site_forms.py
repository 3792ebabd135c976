"""Finding 9: a form posted from another site is refused (CSRF), a same-origin one works,
and API clients without a browser's headers are untouched.

The four services sit at a closed port (as in test_gateway_api): a refused request is 403
before any RPC, and a request that got past the check answers something else.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from services.common.auth import DEV_ISSUER, AuthSettings, mint_dev_token
from services.gateway.app import create_app
from services.gateway.problems import PROBLEM_MEDIA_TYPE
from services.gateway.security import SESSION_COOKIE
from services.gateway.settings import GatewaySettings

SECRET = "c" * 40
NOWHERE = "127.0.0.1:1"
PUBLIC = "https://shop.example"
PROGRAM_ID = "0b7f3c1e-8d2a-4f5b-9c6d-1e2f3a4b5c6d"
EMPLOYER_ID = "1c8e4d2f-9e3b-4a6c-8d7e-2f3a4b5c6d7e"
PACK_ID = "2d9f5e3a-0f4c-4b7d-9e8f-3a4b5c6d7e8f"

SIGN_IN = ("/session", {"role": "admin", "sub": "mallory", "next": "/"})
FORMS = [
    SIGN_IN,
    ("/session/end", {"next": "/"}),
    (f"/programs/{PROGRAM_ID}/enroll", {"idempotency_key": "k-1"}),
    ("/checkout/cs_test_1", {"card_number": "4242424242424242"}),
    # The employer pages' forms, and the learner's sharing with an employer.
    ("/team", {"name": "Initech"}),
    (f"/team/{EMPLOYER_ID}/seat-packs/review", {"program_id": PROGRAM_ID, "seats": "3"}),
    (f"/team/{EMPLOYER_ID}/seat-packs", {"program_id": PROGRAM_ID, "seats": "3"}),
    (f"/team/{EMPLOYER_ID}/invitations", {"seat_pack_id": PACK_ID, "emails": "a@b.example"}),
    (f"/team/{EMPLOYER_ID}/managers", {"email": "m@b.example"}),
    (f"/team/{EMPLOYER_ID}/seat-packs/{PACK_ID}/invitations", {"emails": "a@b.example"}),
    (f"/team/{EMPLOYER_ID}/seat-packs/{PACK_ID}/invitations/{PACK_ID}/revoke", {}),
    (f"/team/invitations/{PACK_ID}", {}),
    (f"/learning/employers/{EMPLOYER_ID}/share", {"credential_id": PACK_ID}),
    (f"/learning/employers/{EMPLOYER_ID}/unshare", {"credential_id": PACK_ID}),
    ("/redeem", {"code": "a-seat-code"}),
]
CROSS_SITE = [
    {"origin": "https://evil.example"},
    {"origin": "null"},
    {"origin": "https://shop.example.evil.example"},
    {"origin": "http://shop.example"},  # another scheme is another origin
    {"origin": "https://shop.example", "sec-fetch-site": "cross-site"},
    {"origin": "https://shop.example", "sec-fetch-site": "same-site"},
    {"sec-fetch-site": "cross-site"},
]


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    settings = GatewaySettings(
        listen_host="127.0.0.1",
        listen_port=8080,
        catalog_addr=NOWHERE,
        enrollment_addr=NOWHERE,
        payments_addr=NOWHERE,
        credentials_addr=NOWHERE,
        auth=AuthSettings("dev", SECRET, "", DEV_ISSUER, ""),
        public_base_url=PUBLIC,
    )
    with TestClient(create_app(settings), base_url="http://gateway.internal:8080") as client:
        yield client


@pytest.mark.parametrize("headers", CROSS_SITE, ids=lambda h: ",".join(h.values()))
@pytest.mark.parametrize(("path", "form"), FORMS, ids=[p for p, _ in FORMS])
def test_a_cross_site_form_post_is_refused(
    client: TestClient, path: str, form: dict[str, str], headers: dict[str, str]
) -> None:
    client.cookies.set(SESSION_COOKIE, mint_dev_token(SECRET, role="learner", subject="alice"))
    try:
        response = client.post(path, data=form, headers=headers, follow_redirects=False)
    finally:
        client.cookies.clear()

    assert response.status_code == 403, response.text
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert response.json()["type"] == "urn:upskill:problem:cross-site-request"
    assert "set-cookie" not in response.headers  # neither signed in nor signed out


def test_a_person_gets_an_error_page_not_json(client: TestClient) -> None:
    path, form = SIGN_IN
    response = client.post(
        path,
        data=form,
        headers={"origin": "https://evil.example", "accept": "text/html"},
        follow_redirects=False,
    )

    assert response.status_code == 403
    assert response.headers["content-type"].startswith("text/html")
    assert "cross-site request refused" in response.text


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": PUBLIC, "sec-fetch-site": "same-origin"},
        {"origin": PUBLIC},  # a browser without Fetch Metadata
        {"sec-fetch-site": "same-origin"},
        {"origin": "http://gateway.internal:8080"},  # the request's own host
        {"sec-fetch-site": "none"},  # typed or bookmarked by the user
        {},  # not a browser: curl, the demo, tests
    ],
    ids=lambda h: ",".join(f"{k}={v}" for k, v in h.items()) or "no-headers",
)
def test_a_same_origin_sign_in_works(client: TestClient, headers: dict[str, str]) -> None:
    path, form = SIGN_IN
    response = client.post(path, data=form, headers=headers, follow_redirects=False)

    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/"
    assert SESSION_COOKIE in response.headers["set-cookie"]


def test_a_same_origin_form_reaches_the_service(client: TestClient) -> None:
    response = client.post(
        "/checkout/cs_test_1",
        data={"card_number": "4242424242424242"},
        headers={"origin": PUBLIC, "sec-fetch-site": "same-origin"},
        follow_redirects=False,
    )

    # Past the check, on to payments, which is down here.
    assert response.status_code == 503


def test_bearer_api_calls_from_non_browser_clients_still_work(client: TestClient) -> None:
    minted = client.post("/api/v1/dev/tokens", json={"role": "learner", "sub": "bob"})
    assert minted.status_code == 200, minted.text

    enrolled = client.post(
        "/api/v1/enrollments",
        json={"program_id": PROGRAM_ID},
        headers={"authorization": f"Bearer {minted.json()['token']}"},
    )
    assert enrolled.status_code == 503  # reached enrollment (down here), not refused


def test_safe_methods_are_never_refused(client: TestClient) -> None:
    response = client.get("/healthz", headers={"origin": "https://evil.example"})
    assert response.status_code == 200
