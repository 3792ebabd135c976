-- Lookups on the money paths (each a per-event query):
-- a charge, refund or dispute webhook without our metadata names only its PaymentIntent;
CREATE INDEX payments_gateway_payment ON payments (gateway_payment_id)
    WHERE gateway_payment_id <> '';
-- every succeeded payment looks for refunds or disputes delivered before it;
CREATE INDEX webhook_events_deferred ON webhook_events (payment_id)
    WHERE outcome LIKE 'deferred%';
-- a refund's ledger line reads what earlier refunds of the payment reversed.
CREATE INDEX payout_ledger_payment ON payout_ledger (payment_id);
