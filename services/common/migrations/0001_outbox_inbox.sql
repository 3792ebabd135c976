-- Transactional outbox: events are written here in the same transaction as the state
-- change, and a relay publishes them to JetStream. id is the CloudEvents id and the
-- Nats-Msg-Id, so a re-publish after a crash is dropped by the stream's dedupe window.
CREATE TABLE outbox (
    seq          bigserial PRIMARY KEY,
    id           uuid NOT NULL UNIQUE,
    subject      text NOT NULL,
    type         text NOT NULL,
    source       text NOT NULL,
    ce_subject   text NOT NULL DEFAULT '',
    payload      bytea NOT NULL,
    traceparent  text NOT NULL DEFAULT '',
    tracestate   text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz,
    attempts     integer NOT NULL DEFAULT 0,
    last_error   text NOT NULL DEFAULT ''
);

CREATE INDEX outbox_unpublished ON outbox (seq) WHERE published_at IS NULL;

CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('outbox', '');
    RETURN NULL;
END;
$$;

CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();

-- Inbox: one row per (consumer, event) handled, written in the same transaction as the
-- handler's effect. The primary key, not a check-then-insert, makes redelivery harmless.
CREATE TABLE processed_events (
    consumer     text NOT NULL,
    event_id     uuid NOT NULL,
    event_type   text NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
