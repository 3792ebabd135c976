-- Issue 12: a bought enrollment's seat lock, seat count and insert in one statement
-- (repository.add_in_seat), so the lock is held only while PostgreSQL runs that statement
-- and commits it, never across a round trip to the service (at 32 concurrent buyers of one
-- program, waiting for this lock was a third of all statement time).
--
-- The program's seat row (created on first use) is locked until commit: exclusively when
-- `counted` (the program has a capacity, or a seat pack is reserved in it), else shared,
-- so buyers of a program without a capacity do not wait for each other while a counting
-- transaction still waits for every one in flight. ON CONFLICT DO UPDATE locks an existing
-- row as an UPDATE would.
--
-- Counted: the seats taken, by a query run after the lock was granted. A VOLATILE
-- function takes a fresh snapshot for each query it runs (READ COMMITTED), so the count
-- sees what the lock's previous holders committed, which a sub-select of the calling
-- statement (its snapshot taken before it waited) would not. Taken: the seat-holding
-- enrollments bought one by one, plus every seat of the live seat packs, redeemed or not
-- (a pack reserves its seats at purchase; its sponsored enrollments sit in those seats;
-- once a pack is closed, its sponsored enrollments that still hold a seat count one by
-- one). Not counted: NULL.
CREATE FUNCTION lock_and_count_seats(
    program uuid, counted boolean, seat_states text[], pack_states text[]
) RETURNS bigint
    LANGUAGE plpgsql VOLATILE
    AS $$
BEGIN
    IF NOT counted THEN
        PERFORM 1 FROM program_seats WHERE program_id = program FOR SHARE;
        IF FOUND THEN
            RETURN NULL;
        END IF;
    END IF;
    INSERT INTO program_seats (program_id) VALUES (program)
        ON CONFLICT (program_id) DO UPDATE SET program_id = EXCLUDED.program_id;
    IF NOT counted THEN
        RETURN NULL;
    END IF;
    RETURN (SELECT count(*) FROM enrollments e
             WHERE e.program_id = program AND e.status = ANY (seat_states)
               AND (e.seat_pack_id IS NULL OR NOT EXISTS (
                   SELECT 1 FROM seat_packs p
                    WHERE p.id = e.seat_pack_id AND p.status = ANY (pack_states))))
         + (SELECT coalesce(sum(seats), 0) FROM seat_packs
             WHERE program_id = program AND status = ANY (pack_states));
END
$$;
