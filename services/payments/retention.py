"""How long payments keeps webhook bodies and the local provider's deliveries.

- WEBHOOK_PAYLOAD_RETENTION_HOURS (168): a received webhook's body (it holds the
  customer's email and name) is blanked after this; the event id stays, so a late
  duplicate is still recognised. Longer than Stripe's automatic retries (3 days).
- WEBHOOK_EVENT_RETENTION_HOURS (1080): the event id itself is deleted after this, unless
  an anomaly refers to it (only once its body is blanked, which the rule above does first). Longer than Stripe keeps an event to resend by hand (30 days).
- LOCAL_WEBHOOK_RETENTION_HOURS (168): webhooks the local provider has delivered; an
  undelivered one is never pruned.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.common import settings
from services.common.retention import HOUR, PruneJob

# Stripe retries a webhook for up to three days, and keeps an event 30 days for a resend.
STRIPE_RETRY_HOURS = 3 * 24
STRIPE_EVENT_HOURS = 30 * 24

NULL_WEBHOOK_PAYLOADS_SQL = """
    UPDATE webhook_events SET payload = NULL
     WHERE event_id IN (SELECT event_id FROM webhook_events
                         WHERE payload IS NOT NULL
                           AND received_at < now() - make_interval(secs => $1)
                         ORDER BY received_at LIMIT $2
                         FOR UPDATE SKIP LOCKED)"""

PRUNE_WEBHOOK_EVENTS_SQL = """
    DELETE FROM webhook_events
     WHERE event_id IN (SELECT w.event_id FROM webhook_events w
                         WHERE w.payload IS NULL
                           AND w.received_at < now() - make_interval(secs => $1)
                           AND NOT EXISTS (SELECT 1 FROM payment_anomalies a
                                            WHERE a.event_id = w.event_id)
                         ORDER BY w.received_at LIMIT $2
                         FOR UPDATE OF w SKIP LOCKED)"""

PRUNE_LOCAL_DELIVERIES_SQL = """
    DELETE FROM local_webhook_deliveries
     WHERE id IN (SELECT id FROM local_webhook_deliveries
                   WHERE delivered_at < now() - make_interval(secs => $1)
                   ORDER BY delivered_at LIMIT $2
                   FOR UPDATE SKIP LOCKED)"""


@dataclass(frozen=True)
class PaymentsRetention:
    webhook_payload_hours: int = 7 * 24
    webhook_event_hours: int = 45 * 24
    local_webhook_hours: int = 7 * 24

    @classmethod
    def from_env(cls) -> PaymentsRetention:
        d = cls()
        payload = settings.integer(
            "WEBHOOK_PAYLOAD_RETENTION_HOURS",
            d.webhook_payload_hours,
            minimum=STRIPE_RETRY_HOURS + 1,
        )
        event = settings.integer(
            "WEBHOOK_EVENT_RETENTION_HOURS", d.webhook_event_hours, minimum=STRIPE_EVENT_HOURS + 1
        )
        if event < payload:
            raise settings.ConfigError(
                "setting WEBHOOK_EVENT_RETENTION_HOURS must be at least "
                f"WEBHOOK_PAYLOAD_RETENTION_HOURS ({payload}), got {event}"
            )
        local = settings.integer("LOCAL_WEBHOOK_RETENTION_HOURS", d.local_webhook_hours, minimum=1)
        return cls(payload, event, local)

    def jobs(self) -> list[PruneJob]:
        return [
            PruneJob(
                "webhook payloads", NULL_WEBHOOK_PAYLOADS_SQL, self.webhook_payload_hours * HOUR
            ),
            PruneJob("webhook events", PRUNE_WEBHOOK_EVENTS_SQL, self.webhook_event_hours * HOUR),
            PruneJob(
                "local webhook deliveries",
                PRUNE_LOCAL_DELIVERIES_SQL,
                self.local_webhook_hours * HOUR,
            ),
        ]
