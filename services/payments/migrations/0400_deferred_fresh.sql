-- Issue 12: a checkout's success claimed, locked and saved in one statement (repository.
-- claimed_charge). The events deferred until the payment succeeds (a refund or a dispute
-- delivered before its success) are written by transactions that lock the payment first;
-- a sub-select in the same statement would read webhook_events as of the snapshot taken
-- before the statement waited for that lock. A VOLATILE function takes a fresh snapshot
-- for each query it runs (READ COMMITTED; as payment_refunded_minor, migration 0200), so
-- called after the lock it sees what the previous holder committed.
CREATE FUNCTION payment_has_deferred(payment uuid) RETURNS boolean
    LANGUAGE sql VOLATILE
    AS $$ SELECT EXISTS (SELECT FROM webhook_events
                          WHERE payment_id = payment AND outcome LIKE 'deferred%'
                            AND payload IS NOT NULL) $$;
