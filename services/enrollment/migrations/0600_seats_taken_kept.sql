-- Issue 12, round 11: the seats taken kept as a number on the program's seat row, so the
-- seat check reads one row under the lock instead of counting every seat-holding enrollment
-- of the program while holding it (lock_and_count_seats, 0310/0500/0510: linear in the
-- program, 0.19 ms at 600 enrollments and growing).
--
-- program_seats.taken: the seats taken in the program, or NULL while nobody needs the
-- number (a program without a capacity). It is kept by the triggers below, in the same
-- transaction as every write that takes or frees a seat, whoever writes (the services, an
-- operator's SQL): an enrollment inserted, deleted, moved into or out of the seat-holding
-- states, or onto/off a seat pack; a seat pack reserved, closed, its seats released, or
-- deleted, with the effect on its sponsored enrollments. Writes that hold the same seat
-- before and after (payment PENDING_PAYMENT -> ACTIVE, completion, a checkout or credential
-- attached) do not call the triggers at all (their WHEN clauses), so they never touch the
-- program's row.
--
-- Seats taken (the count lock_and_count_seats used to run, unchanged): the seat-holding
-- enrollments, except those sponsored by a live seat pack, plus every seat of the live seat
-- packs, redeemed or not. So an enrollment holds 1 seat of its program when it is seat-
-- holding and not on a live pack; a live pack holds its `seats` in its program, less one
-- per seat-holding enrollment on it (whose seat is the pack's, counted by the pack).
--
-- The rule which states hold a seat is services/enrollment/seats.py (SEAT_HOLDING,
-- PACK_SEAT_HOLDING): the domain decides on it without a database. Its SQL form is the two
-- functions here, which every trigger, the count and the WHEN clauses call, so SQL has it
-- once; tests/integration/test_enrollment_seats_kept.py fails when the two disagree (and
-- checks enrollments_one_live's predicate, the older SQL copy from 0001, too). Migrations
-- are fixed SQL files, so SQL cannot be generated from the Python set; a test is the guard.
--
-- Locks, on the program's program_seats row (one protocol, every writer):
--   * the seat check (lock_and_count_seats, counted) takes it FOR UPDATE until commit and
--     reads `taken`; if NULL (the program's first counted check, since this migration or
--     ever), it counts the seats then, with a snapshot taken after the lock was granted,
--     and stores the number: a one-time linear count per program, then O(1);
--   * a seat change (seats_taken_changed), a purchase without a capacity included, takes
--     FOR KEY SHARE, which conflicts with nothing but the check's FOR UPDATE: so writers
--     of a program without a kept number never wait for each other (as with 0310's shared
--     lock), and a first count waits for every one of them in flight and sees what they
--     committed. If the number is kept (the lock reads the latest one: a first count may
--     have committed since the write, without it), it adds its delta (UPDATE: FOR NO KEY
--     UPDATE until commit, which conflicts with the check's FOR UPDATE and with other
--     changes of the same program, but not with KEY SHARE: no lock upgrade that could
--     deadlock with another holder).
-- Lock order, wherever a transaction holds more than one of them: an enrollment row, then
-- its seat pack's row, then the program's row. The enrollment trigger share-locks the pack
-- of a sponsored enrollment (so the pack's liveness, which decides whether the enrollment's
-- seat is the pack's, cannot change until it commits: a pack closing counts its sponsored
-- enrollments and waits for those in flight); a pack's writers (payment events, releases,
-- redemptions) lock the pack FOR UPDATE first and never lock an existing enrollment after
-- it; the seat check locks the program's row and only inserts a new enrollment after it.

ALTER TABLE program_seats ADD COLUMN taken bigint CHECK (taken >= 0);

-- The rule, in SQL (see seats.py). IMMUTABLE SQL: inlined where it is used, so the count's
-- `enrollment_holds_seat(status)` is `status IN (...)` for the planner, and the indexes on
-- (program_id, status) serve it.
CREATE FUNCTION enrollment_holds_seat(status text) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT status IN ('PENDING_PAYMENT', 'ACTIVE', 'COMPLETED') $$;

CREATE FUNCTION seat_pack_holds_seats(status text) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT status IN ('PENDING_PAYMENT', 'PAID') $$;

-- The seats taken in `program`, counted: what `taken` keeps. Linear in the program; run
-- once per program (its first counted check) and by displays of programs whose number is
-- not kept.
CREATE FUNCTION count_seats(program uuid) RETURNS bigint
    LANGUAGE sql STABLE
    AS $$
    SELECT (SELECT count(*) FROM enrollments e
             WHERE e.program_id = program AND enrollment_holds_seat(e.status)
               AND (e.seat_pack_id IS NULL OR NOT EXISTS (
                   SELECT 1 FROM seat_packs p
                    WHERE p.id = e.seat_pack_id AND seat_pack_holds_seats(p.status))))
         + (SELECT coalesce(sum(seats), 0) FROM seat_packs
             WHERE program_id = program AND seat_pack_holds_seats(status))
$$;

-- The program's row (created on first use) locked until commit, FOR UPDATE when
-- `exclusive`, else FOR KEY SHARE; its `taken`, as the lock found it.
CREATE FUNCTION lock_program_seats(program uuid, exclusive boolean) RETURNS bigint
    LANGUAGE plpgsql VOLATILE
    AS $$
DECLARE
    n bigint;
BEGIN
    LOOP
        IF exclusive THEN
            SELECT taken INTO n FROM program_seats WHERE program_id = program FOR UPDATE;
        ELSE
            SELECT taken INTO n FROM program_seats WHERE program_id = program FOR KEY SHARE;
        END IF;
        IF FOUND THEN
            RETURN n;
        END IF;
        -- A concurrent insert of the row is waited for, then the row locked as it is.
        INSERT INTO program_seats (program_id) VALUES (program) ON CONFLICT DO NOTHING;
    END LOOP;
END
$$;

-- `delta` seats taken (negative: freed) in `program`, in the caller's transaction: the
-- program's row FOR KEY SHARE until commit (a first count waits for this transaction, and
-- counts what it committed), then, if the number is kept, the update (FOR NO KEY UPDATE,
-- which KEY SHARE does not conflict with: no upgrade that could deadlock). The lock returns
-- the latest committed number, so a first count committed after this write (without it)
-- is followed by the update. A program without a kept number costs one index probe.
CREATE FUNCTION seats_taken_changed(program uuid, delta bigint) RETURNS void
    LANGUAGE plpgsql VOLATILE
    AS $$
DECLARE
    n bigint;
BEGIN
    IF delta = 0 THEN
        RETURN;
    END IF;
    -- lock_program_seats(program, false), its common case inline (this runs per purchase).
    SELECT taken INTO n FROM program_seats WHERE program_id = program FOR KEY SHARE;
    IF NOT FOUND THEN
        n := lock_program_seats(program, false);
    END IF;
    IF n IS NOT NULL THEN
        -- A fresh snapshot (each statement of a VOLATILE function takes one): a concurrent
        -- change is waited for and added to.
        UPDATE program_seats SET taken = taken + delta WHERE program_id = program;
    END IF;
END
$$;

-- The seat an enrollment in `status` on `pack` (NULL: none) holds of its program: 1, or 0
-- when it holds none or its seat is a live pack's. The pack's row is share-locked until
-- commit, whatever its state, so its liveness cannot change under this transaction.
CREATE FUNCTION enrollment_seat(status text, pack uuid) RETURNS integer
    LANGUAGE plpgsql VOLATILE
    AS $$
DECLARE
    pack_status text;
BEGIN
    IF NOT enrollment_holds_seat(status) THEN
        RETURN 0;
    END IF;
    IF pack IS NULL THEN
        RETURN 1;
    END IF;
    SELECT p.status INTO pack_status FROM seat_packs p WHERE p.id = pack FOR SHARE;
    RETURN CASE WHEN FOUND AND seat_pack_holds_seats(pack_status) THEN 0 ELSE 1 END;
END
$$;

CREATE FUNCTION enrollments_keep_seats() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE
    was integer := 0;
    now_held integer := 0;
BEGIN
    IF TG_OP <> 'INSERT' THEN
        was := enrollment_seat(OLD.status, OLD.seat_pack_id);
    END IF;
    IF TG_OP = 'INSERT' AND NEW.seat_pack_id IS NULL THEN
        now_held := 1;  -- a purchase (the WHEN clause: it holds a seat), without a call
    ELSIF TG_OP <> 'DELETE' THEN
        now_held := enrollment_seat(NEW.status, NEW.seat_pack_id);
    END IF;
    IF TG_OP = 'UPDATE' AND OLD.program_id = NEW.program_id THEN
        PERFORM seats_taken_changed(NEW.program_id, now_held - was);
    ELSE
        IF was <> 0 THEN
            PERFORM seats_taken_changed(OLD.program_id, -was);
        END IF;
        IF now_held <> 0 THEN
            PERFORM seats_taken_changed(NEW.program_id, now_held);
        END IF;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER enrollments_seats_inserted AFTER INSERT ON enrollments
    FOR EACH ROW WHEN (enrollment_holds_seat(NEW.status))
    EXECUTE FUNCTION enrollments_keep_seats();
-- Not for a write that holds the same seat before and after: activation, completion, a
-- checkout or credential attached never call it.
CREATE TRIGGER enrollments_seats_updated AFTER UPDATE ON enrollments
    FOR EACH ROW WHEN (enrollment_holds_seat(OLD.status) <> enrollment_holds_seat(NEW.status)
                       OR OLD.program_id <> NEW.program_id
                       OR OLD.seat_pack_id IS DISTINCT FROM NEW.seat_pack_id)
    EXECUTE FUNCTION enrollments_keep_seats();
CREATE TRIGGER enrollments_seats_deleted AFTER DELETE ON enrollments
    FOR EACH ROW WHEN (enrollment_holds_seat(OLD.status))
    EXECUTE FUNCTION enrollments_keep_seats();

CREATE FUNCTION seat_packs_keep_seats() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE
    was_live boolean := TG_OP <> 'INSERT' AND seat_pack_holds_seats(OLD.status);
    now_live boolean := TG_OP <> 'DELETE' AND seat_pack_holds_seats(NEW.status);
    pack uuid := CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END;
    sponsored record;
BEGIN
    -- The pack's own seats.
    IF TG_OP = 'UPDATE' AND OLD.program_id = NEW.program_id THEN
        PERFORM seats_taken_changed(NEW.program_id,
            CASE WHEN now_live THEN NEW.seats ELSE 0 END
            - CASE WHEN was_live THEN OLD.seats ELSE 0 END);
    ELSE
        IF was_live THEN
            PERFORM seats_taken_changed(OLD.program_id, -OLD.seats);
        END IF;
        IF now_live THEN
            PERFORM seats_taken_changed(NEW.program_id, NEW.seats);
        END IF;
    END IF;
    -- Opened or closed: its seat-holding sponsored enrollments' seats become the pack's,
    -- or their own again. Their writers in flight hold this pack's row shared
    -- (enrollment_seat), so this count, after the pack's row lock, sees them committed;
    -- those that lock it after this transaction read its new state themselves.
    IF was_live <> now_live THEN
        FOR sponsored IN
            SELECT e.program_id, count(*) AS n FROM enrollments e
             WHERE e.seat_pack_id = pack AND enrollment_holds_seat(e.status)
             GROUP BY e.program_id
        LOOP
            PERFORM seats_taken_changed(sponsored.program_id,
                CASE WHEN was_live THEN sponsored.n ELSE -sponsored.n END);
        END LOOP;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER seat_packs_seats_inserted AFTER INSERT ON seat_packs
    FOR EACH ROW WHEN (seat_pack_holds_seats(NEW.status))
    EXECUTE FUNCTION seat_packs_keep_seats();
-- Not for a checkout attached or a payment taken (PENDING_PAYMENT -> PAID holds the same).
CREATE TRIGGER seat_packs_seats_updated AFTER UPDATE ON seat_packs
    FOR EACH ROW WHEN (seat_pack_holds_seats(OLD.status) <> seat_pack_holds_seats(NEW.status)
                       OR OLD.seats <> NEW.seats OR OLD.program_id <> NEW.program_id)
    EXECUTE FUNCTION seat_packs_keep_seats();
CREATE TRIGGER seat_packs_seats_deleted AFTER DELETE ON seat_packs
    FOR EACH ROW WHEN (seat_pack_holds_seats(OLD.status))
    EXECUTE FUNCTION seat_packs_keep_seats();

-- A TRUNCATE fires no row trigger: every kept number goes back to not kept, and the next
-- counted check counts again. (TRUNCATE holds its table exclusively until it commits, so
-- no seat change or count runs on it meanwhile.)
CREATE FUNCTION seats_forget_kept() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    UPDATE program_seats SET taken = NULL WHERE taken IS NOT NULL;
    RETURN NULL;
END
$$;
CREATE TRIGGER enrollments_seats_truncated AFTER TRUNCATE ON enrollments
    FOR EACH STATEMENT EXECUTE FUNCTION seats_forget_kept();
CREATE TRIGGER seat_packs_seats_truncated AFTER TRUNCATE ON seat_packs
    FOR EACH STATEMENT EXECUTE FUNCTION seats_forget_kept();

-- The seat lock and check: `counted` (the program has a capacity), the program's row
-- FOR UPDATE until commit and the seats taken, counted now and kept if not kept yet;
-- otherwise nothing: the insert's trigger takes what it needs. (See the locks above.)
CREATE FUNCTION lock_and_count_seats(program uuid, counted boolean) RETURNS bigint
    LANGUAGE plpgsql VOLATILE
    AS $$
DECLARE
    n bigint;
BEGIN
    IF NOT counted THEN
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

-- The previous release's signature, for its replicas still running while this one starts:
-- the same lock and number (its states are this rule's).
CREATE OR REPLACE FUNCTION lock_and_count_seats(
    program uuid, counted boolean, seat_states text[], pack_states text[]
) RETURNS bigint
    LANGUAGE sql VOLATILE
    AS $$ SELECT lock_and_count_seats(program, counted) $$;

-- Existing programs: not kept (NULL) until their first counted check, which counts them
-- once under the lock. This migration cannot tell which programs have a capacity (the
-- catalog knows), and keeping a number for a program without one would make its writers
-- wait for each other for nothing.
