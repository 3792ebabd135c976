"""Retention settings: safe defaults, and a value that would break a guarantee fails
start-up naming the setting."""

from __future__ import annotations

import pytest

from services.common.jetstream import DUPLICATE_WINDOW_SECONDS
from services.common.retention import RetentionSettings
from services.common.settings import ConfigError
from services.payments.retention import PaymentsRetention

_ALL = (
    "STREAM_MAX_AGE_HOURS",
    "DLQ_MAX_AGE_HOURS",
    "OUTBOX_RETENTION_HOURS",
    "INBOX_RETENTION_HOURS",
    "PRUNE_INTERVAL_SECONDS",
    "WEBHOOK_PAYLOAD_RETENTION_HOURS",
    "WEBHOOK_EVENT_RETENTION_HOURS",
    "LOCAL_WEBHOOK_RETENTION_HOURS",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _ALL:
        monkeypatch.delenv(name, raising=False)


def test_defaults_keep_every_guarantee() -> None:
    r = RetentionSettings.from_env()
    assert r == RetentionSettings()
    window = DUPLICATE_WINDOW_SECONDS
    assert r.outbox_retention_hours * 3600 > window
    assert r.stream_max_age_seconds >= window
    assert r.inbox_retention_hours > r.stream_max_age_hours
    p = PaymentsRetention.from_env()
    assert p.webhook_payload_hours > 72  # Stripe retries for three days
    assert p.webhook_event_hours > 30 * 24  # Stripe resends by hand for 30 days


def test_overrides_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAM_MAX_AGE_HOURS", "48")
    monkeypatch.setenv("INBOX_RETENTION_HOURS", "49")
    monkeypatch.setenv("OUTBOX_RETENTION_HOURS", "25")
    monkeypatch.setenv("PRUNE_INTERVAL_SECONDS", "60")
    r = RetentionSettings.from_env()
    assert (r.stream_max_age_hours, r.inbox_retention_hours) == (48, 49)
    assert (r.outbox_retention_hours, r.prune_interval_seconds) == (25, 60)


@pytest.mark.parametrize(
    ("env", "named"),
    [
        # An inbox row that goes while its event can still be redelivered: a second effect.
        ({"STREAM_MAX_AGE_HOURS": "200", "INBOX_RETENTION_HOURS": "200"}, "INBOX_RETENTION_HOURS"),
        ({"INBOX_RETENTION_HOURS": "24"}, "INBOX_RETENTION_HOURS"),
        # Published rows must outlive the stream's duplicate window.
        ({"OUTBOX_RETENTION_HOURS": "0"}, "OUTBOX_RETENTION_HOURS"),
        # A stream must keep its events at least as long as it remembers their ids.
        ({"STREAM_MAX_AGE_HOURS": "0"}, "STREAM_MAX_AGE_HOURS"),
        ({"DLQ_MAX_AGE_HOURS": "0"}, "DLQ_MAX_AGE_HOURS"),
        ({"PRUNE_INTERVAL_SECONDS": "0"}, "PRUNE_INTERVAL_SECONDS"),
        ({"OUTBOX_RETENTION_HOURS": "two days"}, "OUTBOX_RETENTION_HOURS"),
    ],
)
def test_a_retention_that_breaks_a_guarantee_fails_by_name(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], named: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=named):
        RetentionSettings.from_env()


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"WEBHOOK_PAYLOAD_RETENTION_HOURS": "72"}, "WEBHOOK_PAYLOAD_RETENTION_HOURS"),
        ({"WEBHOOK_EVENT_RETENTION_HOURS": "100"}, "WEBHOOK_EVENT_RETENTION_HOURS"),
        (
            {"WEBHOOK_PAYLOAD_RETENTION_HOURS": "2000", "WEBHOOK_EVENT_RETENTION_HOURS": "1000"},
            "WEBHOOK_EVENT_RETENTION_HOURS",
        ),
        ({"LOCAL_WEBHOOK_RETENTION_HOURS": "0"}, "LOCAL_WEBHOOK_RETENTION_HOURS"),
    ],
)
def test_a_webhook_retention_that_breaks_a_guarantee_fails_by_name(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], named: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=named):
        PaymentsRetention.from_env()
