-- Retention (services/payments/retention.py): a webhook's body is blanked once Stripe can
-- no longer retry it (the id stays for dedupe), and the row goes later unless an anomaly
-- refers to it; delivered local webhooks go after their own retention.
ALTER TABLE webhook_events ALTER COLUMN payload DROP NOT NULL;

CREATE INDEX webhook_events_payload_age ON webhook_events (received_at)
    WHERE payload IS NOT NULL;
CREATE INDEX webhook_events_blank_age ON webhook_events (received_at) WHERE payload IS NULL;
-- The prune's NOT EXISTS, and the foreign key's check when an event row is deleted.
CREATE INDEX payment_anomalies_event ON payment_anomalies (event_id);
CREATE INDEX local_webhook_deliveries_delivered ON local_webhook_deliveries (delivered_at)
    WHERE delivered_at IS NOT NULL;
