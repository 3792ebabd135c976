-- The expiry sweep (every few seconds) looks for PENDING payments whose checkout was never
-- opened and whose time is up, oldest first: this partial index is exactly that scan.
CREATE INDEX payments_unopened_expiry ON payments (expires_at)
    WHERE status = 'PENDING' AND checkout_session_id IS NULL;

-- No query reads payments by learner, nor the ledger by provider: indexes that only cost
-- writes. (A query that needs one brings it back, with an EXPLAIN test.)
DROP INDEX payments_learner;
DROP INDEX payout_ledger_provider;

-- The delivery worker's NOTIFY through the one shared trigger function (common/0003).
DROP TRIGGER local_webhook_delivery_notify ON local_webhook_deliveries;
DROP FUNCTION local_webhook_delivery_notify();
CREATE TRIGGER local_webhook_delivery_notify AFTER INSERT ON local_webhook_deliveries
    FOR EACH STATEMENT EXECUTE FUNCTION notify_channel('payments_webhook_delivery');
