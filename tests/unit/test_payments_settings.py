"""Payments settings fail fast, by name, and pick sane defaults."""

from __future__ import annotations

import pytest

from services.common.settings import MissingSettingError
from services.payments.settings import STRIPE_MIN_TTL_SECONDS, PaymentsSettings

_ALL = (
    "PAYMENTS_PROVIDER",
    "STRIPE_WEBHOOK_SECRET",
    "STRIPE_API_KEY",
    "STRIPE_API_BASE",
    "CHECKOUT_TTL_SECONDS",
    "PUBLIC_BASE_URL",
    "LOCAL_WEBHOOK_URL",
    "PLATFORM_FEE_BPS",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _ALL:
        monkeypatch.delenv(name, raising=False)


def test_local_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", "whsec_x")

    settings = PaymentsSettings.from_env()

    assert settings.provider == "local"
    assert settings.checkout_ttl_seconds == settings.effective_ttl_seconds == 1800
    assert settings.platform_fee_bps == 1000
    assert settings.local_webhook_url == f"{settings.public_base_url}/webhooks/stripe"


def test_the_webhook_secret_is_required_in_both_modes() -> None:
    with pytest.raises(MissingSettingError, match="STRIPE_WEBHOOK_SECRET"):
        PaymentsSettings.from_env()


def test_stripe_mode_requires_an_api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", "whsec_x")
    monkeypatch.setenv("PAYMENTS_PROVIDER", "stripe")

    with pytest.raises(MissingSettingError, match="STRIPE_API_KEY"):
        PaymentsSettings.from_env()


def test_stripe_mode_keeps_the_ttl_within_what_stripe_accepts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", "whsec_x")
    monkeypatch.setenv("PAYMENTS_PROVIDER", "stripe")
    monkeypatch.setenv("STRIPE_API_KEY", "sk_test_x")
    monkeypatch.setenv("CHECKOUT_TTL_SECONDS", "60")

    assert PaymentsSettings.from_env().effective_ttl_seconds == STRIPE_MIN_TTL_SECONDS

    monkeypatch.setenv("CHECKOUT_TTL_SECONDS", str(25 * 3600))
    with pytest.raises(ValueError, match="CHECKOUT_TTL_SECONDS"):
        PaymentsSettings.from_env()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PAYMENTS_PROVIDER", "paypal"),
        ("PLATFORM_FEE_BPS", "10001"),
        ("PLATFORM_FEE_BPS", "-1"),
        ("CHECKOUT_TTL_SECONDS", "0"),
        ("CHECKOUT_TTL_SECONDS", "soon"),
    ],
)
def test_bad_values_fail_by_name(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", "whsec_x")
    monkeypatch.setenv(name, value)

    with pytest.raises(ValueError, match=name):
        PaymentsSettings.from_env()
