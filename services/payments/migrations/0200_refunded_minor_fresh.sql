-- Issue 12: a payment's locked read in one statement (repository._one). The row lock makes
-- the payment's own columns the latest committed version, but a sub-select in the same
-- statement reads refunds as of the statement's snapshot, taken before it waited for the
-- lock. A VOLATILE function takes a fresh snapshot for each query it runs (READ
-- COMMITTED), so called after the row is locked it sees the refunds that the previous lock
-- holder committed. Not inlined (it has a FROM and an aggregate).
CREATE FUNCTION payment_refunded_minor(payment uuid) RETURNS bigint
    LANGUAGE sql VOLATILE
    AS $$ SELECT coalesce(sum(amount_minor), 0)::bigint FROM refunds
           WHERE payment_id = payment AND status = 'SUCCEEDED' $$;
