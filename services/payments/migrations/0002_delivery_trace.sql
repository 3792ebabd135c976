-- The trace of the payment that owes this webhook, so its delivery continues that trace
-- (the gateway's instrumentation picks the traceparent header up).
ALTER TABLE local_webhook_deliveries
    ADD COLUMN traceparent text NOT NULL DEFAULT '',
    ADD COLUMN tracestate  text NOT NULL DEFAULT '';
