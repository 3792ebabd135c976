"""Sign-in pieces decided before the OpenID provider is involved: the settings oidc mode
requires, where a sign-in may send the browser back to, dev mode said loudly on every page
and absent in oidc mode, and a provider that cannot be reached."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from services.common.auth import DEV_ISSUER, AuthSettings, warn_if_dev_mode
from services.common.settings import ConfigError, MissingSettingError
from services.gateway.app import create_app
from services.gateway.settings import GatewaySettings, OidcClientSettings
from services.gateway.signin import safe_next

SECRET = "k" * 40
NOWHERE = "127.0.0.1:1"
MISSING_PROGRAM = "/programs/0b7f3c1e-8d2a-4f5b-9c6d-1e2f3a4b5c6d"

OIDC_ENV = {
    "AUTH_MODE": "oidc",
    "AUTH_ISSUER": "https://login.example/realms/upskill",
    "AUTH_JWKS_URL": "https://login.example/realms/upskill/certs",
    "AUTH_AUDIENCE": "upskill",
    "AUTH_ADMIN_CLAIM": "groups",
    "AUTH_ADMIN_VALUE": "upskill-admins",
    "OIDC_CLIENT_ID": "upskill-gateway",
    "OIDC_CLIENT_SECRET": "s3cret",
    "SESSION_SECRET": "x" * 64,
    "PUBLIC_BASE_URL": "https://upskill.example",
    **{f"{p}_ADDR": NOWHERE for p in ("CATALOG", "ENROLLMENT", "PAYMENTS", "CREDENTIALS")},
}


def _settings(mode: str) -> GatewaySettings:
    if mode == "dev":
        auth = AuthSettings("dev", SECRET, "", DEV_ISSUER, "")
        oidc = None
    else:
        # An issuer nobody answers at: nothing here may depend on reaching it.
        auth = AuthSettings(
            "oidc",
            "",
            "http://127.0.0.1:1/jwks",
            "http://127.0.0.1:1",
            "",
            audience="upskill",
            admin_claim="groups",
            admin_value="admins",
        )
        oidc = OidcClientSettings(
            client_id="gw",
            client_secret="secret",
            discovery_url="http://127.0.0.1:1/.well-known/openid-configuration",
            scopes="openid email",
            session_secret="x" * 64,
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
        oidc=oidc,
    )


@pytest.fixture(scope="module")
def dev() -> Iterator[TestClient]:
    with TestClient(create_app(_settings("dev"))) as client:
        yield client


@pytest.fixture(scope="module")
def oidc() -> Iterator[TestClient]:
    with TestClient(create_app(_settings("oidc"))) as client:
        yield client


def test_oidc_settings_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in OIDC_ENV.items():
        monkeypatch.setenv(name, value)

    settings = GatewaySettings.from_env()

    assert settings.oidc is not None
    assert settings.oidc.discovery_url == (
        "https://login.example/realms/upskill/.well-known/openid-configuration"
    )
    assert settings.public_base_url == "https://upskill.example"


@pytest.mark.parametrize(
    "name", ["SESSION_SECRET", "OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET", "PUBLIC_BASE_URL"]
)
def test_oidc_mode_requires_each_setting(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    for key, value in OIDC_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv(name)

    with pytest.raises(MissingSettingError, match=name):
        GatewaySettings.from_env()


@pytest.mark.parametrize(
    ("name", "value"),
    [("SESSION_SECRET", "too-short"), ("OIDC_SCOPES", "email profile"), ("AUTH_MODE", "off")],
)
def test_unusable_oidc_settings_are_refused(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    for key, val in OIDC_ENV.items():
        monkeypatch.setenv(key, val)
    monkeypatch.setenv(name, value)

    with pytest.raises(ConfigError, match=name):
        GatewaySettings.from_env()


@pytest.mark.parametrize(
    "value",
    [
        "//evil.example",
        "/\\evil.example",
        "/\\/evil.example",
        "https://evil.example/",
        "javascript:alert(1)",
        "",
        "evil.example",
        "/ok\\@evil.example",
        "/\x00",
        "/a\r\nSet-Cookie: x=1",
    ],
)
def test_sign_in_never_returns_off_site(value: str) -> None:
    assert safe_next(value) == "/"


@pytest.mark.parametrize("value", ["/", "/programs/1", "/?q=sql&skill=x"])
def test_sign_in_returns_to_local_paths(value: str) -> None:
    assert safe_next(value) == value


def test_dev_mode_says_so_on_every_page(dev: TestClient) -> None:
    page = dev.get(MISSING_PROGRAM, headers={"accept": "text/html"})  # even an error page

    assert 'id="dev-mode-banner"' in page.text
    assert "Sign in (dev)" in page.text


def test_dev_mode_says_so_at_start_up(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        warn_if_dev_mode(_settings("dev").auth, logging.getLogger("t"))
        warn_if_dev_mode(_settings("oidc").auth, logging.getLogger("t"))

    assert [r.getMessage() for r in caplog.records if "DEVELOPMENT MODE" in r.getMessage()] != []
    assert len(caplog.records) == 1


def test_oidc_pages_offer_sign_in_and_no_dev_mode(oidc: TestClient) -> None:
    page = oidc.get(MISSING_PROGRAM, headers={"accept": "text/html"})

    assert "dev-mode-banner" not in page.text
    assert "Sign in (dev)" not in page.text
    assert '/signin?next=/programs/0b7f3c1e-8d2a-4f5b-9c6d-1e2f3a4b5c6d"' in page.text


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/v1/dev/tokens", {"role": "admin", "sub": "x"}),
        ("POST", "/session", {"role": "admin", "sub": "x"}),
    ],
)
def test_oidc_mode_has_no_dev_sign_in(
    oidc: TestClient, method: str, path: str, body: dict[str, str]
) -> None:
    answer = oidc.request(
        method,
        path,
        json=body if path.startswith("/api") else None,
        data=None if path.startswith("/api") else body,
    )
    assert answer.status_code == 404


def test_dev_mode_has_no_oidc_sign_in(dev: TestClient) -> None:
    assert dev.get("/signin", follow_redirects=False).status_code == 404
    assert dev.get("/signin/callback?code=x&state=y").status_code == 404


def test_an_unreachable_provider_is_a_503_not_a_crash(oidc: TestClient) -> None:
    answer = oidc.get("/signin", follow_redirects=False, headers={"accept": "application/json"})

    assert answer.status_code == 503
    assert answer.json()["detail"] == "the identity provider cannot be reached; try again shortly"


@pytest.mark.parametrize(
    "query",
    [
        {"next": "/" + "a" * 3000},
        {"next": "/\x00"},
    ],
)
def test_hostile_sign_in_links_are_refused_or_neutralised(
    oidc: TestClient, query: dict[str, str]
) -> None:
    answer = oidc.get("/signin", params=query, follow_redirects=False)
    # Too long: 422 before anything else; a NUL: only a local path is ever kept, and the
    # unreachable provider answers 503. Never a 5xx from a crash, never a redirect off-site.
    assert answer.status_code in (422, 503)
    assert "location" not in answer.headers


def test_sign_out_without_a_session_still_answers(oidc: TestClient) -> None:
    answer = oidc.post("/session/end", data={"next": "/"}, follow_redirects=False)

    assert answer.status_code == 303
    assert answer.headers["location"] == "/"


@pytest.mark.parametrize(
    "path",
    [
        "/session/end",
        "/invitations/0b7f3c1e-8d2a-4f5b-9c6d-1e2f3a4b5c6d/accept",
        "/api/v1/invitations/0b7f3c1e-8d2a-4f5b-9c6d-1e2f3a4b5c6d/accept",
    ],
)
def test_sign_out_and_acceptance_refuse_another_site(oidc: TestClient, path: str) -> None:
    answer = oidc.post(
        path,
        headers={"origin": "https://evil.example", "accept": "application/json"},
        follow_redirects=False,
    )
    assert answer.status_code == 403
    assert answer.json()["detail"].startswith("cross-site request refused")
