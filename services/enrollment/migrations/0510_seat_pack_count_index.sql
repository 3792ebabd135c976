-- Issue 12, round 10: the seat packs' share of the seat count (lock_and_count_seats,
-- migration 0310) from an index in every plan. As with enrollments_program_seats (0500),
-- the function passes the seat-holding pack states as a parameter, so the cached generic
-- plan it runs after a session's first five calls could not use this partial index (its
-- predicate names the states) and read seat_packs sequentially: every pack of every program
-- on each counted seat. This index holds the states and the seats in its entries. Same
-- name: the same queries use it.
DROP INDEX seat_packs_program_live;
CREATE INDEX seat_packs_program_live ON seat_packs (program_id, status) INCLUDE (seats);
