"""What every service of the pipeline has: its tables, and the JetStream stream."""

STREAM = "PIPELINE"
SCHEMA = """
CREATE TABLE items (id uuid PRIMARY KEY, body jsonb NOT NULL);
CREATE TABLE inbox (event_id uuid PRIMARY KEY, processed_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE outbox (
    seq bigserial PRIMARY KEY, id uuid NOT NULL, subject text NOT NULL, body bytea NOT NULL,
    published_at timestamptz
);
CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS
    $$ BEGIN PERFORM pg_notify('outbox', ''); RETURN NULL; END $$;
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();
"""
