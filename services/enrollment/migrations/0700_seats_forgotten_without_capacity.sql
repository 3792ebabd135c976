-- Issue 12, round 12: a program whose capacity is removed stops keeping its seat number.
--
-- 0600 keeps `program_seats.taken` from a program's first counted check on (it has a
-- capacity). Were the capacity removed later, the checks stop (lock_and_count_seats with
-- `counted` false) but the number stayed kept, so every purchase and cancellation of the
-- program went on updating its row, each waiting for the one before to commit: a program
-- without a capacity, whose buyers should never wait for each other, serialised them.
--
-- Now a check without a capacity forgets a kept number (back to NULL: not kept), in the
-- purchase's own transaction. The row is updated only while a number is kept (the
-- WHERE clause), so once it is forgotten this costs one index probe per purchase, which the
-- insert's trigger makes anyway. Locks: the UPDATE holds the row FOR NO KEY UPDATE until
-- commit, like a seat change's delta (0600's lock protocol, unchanged): a concurrent
-- purchase's delta waits for it and then adds to NULL, which stays NULL; a counted check
-- (the capacity back) waits for it, finds NULL, and counts again.
CREATE OR REPLACE FUNCTION lock_and_count_seats(program uuid, counted boolean) RETURNS bigint
    LANGUAGE plpgsql VOLATILE
    AS $$
DECLARE
    n bigint;
BEGIN
    IF NOT counted THEN
        UPDATE program_seats SET taken = NULL WHERE program_id = program AND taken IS NOT NULL;
        -- Its insert's trigger takes the program's row FOR KEY SHARE (seats_taken_changed).
        RETURN NULL;
    END IF;
    n := lock_program_seats(program, true);
    IF n IS NULL THEN
        -- First counted check: a fresh snapshot, after the lock (every writer in flight
        -- that had not kept the number held KEY SHARE, and has committed).
        n := count_seats(program);
        UPDATE program_seats SET taken = n WHERE program_id = program;
    END IF;
    RETURN n;
END
$$;

-- The signature of the release before 0600, kept by 0600 for that release's replicas while
-- 0600's started; 0600's release has run since, and nothing calls it.
DROP FUNCTION lock_and_count_seats(uuid, boolean, text[], text[]);
