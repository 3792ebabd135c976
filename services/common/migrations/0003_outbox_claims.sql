-- The relay claims rows with a short lease instead of holding a transaction across the
-- publish (claimed_until doubles as "not before" while a failed row backs off), and parks
-- a row that keeps failing so the rows behind it go out (parked_at; attempts/last_error
-- say why). An operator lists parked rows with:
--   SELECT seq, id, subject, attempts, last_error, parked_at FROM outbox
--    WHERE parked_at IS NOT NULL ORDER BY seq;
ALTER TABLE outbox
    ADD COLUMN claimed_until timestamptz,
    ADD COLUMN parked_at     timestamptz;

-- The claim's scan: due rows in seq order.
DROP INDEX outbox_unpublished;
CREATE INDEX outbox_pending ON outbox (seq) WHERE published_at IS NULL AND parked_at IS NULL;
-- The retention prune: published rows by age.
CREATE INDEX outbox_published ON outbox (published_at) WHERE published_at IS NOT NULL;
-- The inbox prune: handled events by age.
CREATE INDEX processed_events_age ON processed_events (processed_at);

-- One NOTIFY trigger function for every wake-and-drain worker (services/common/wakeup.py):
-- the channel is the trigger's argument.
CREATE FUNCTION notify_channel() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(TG_ARGV[0], '');
    RETURN NULL;
END;
$$;

DROP TRIGGER outbox_notify ON outbox;
DROP FUNCTION outbox_notify();
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION notify_channel('outbox');
