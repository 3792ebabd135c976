-- Enrollments listed by program (alone, or within a provider's scope), newest first: the
-- partial seat-count index covers only seat-holding rows, a listing shows every status.
CREATE INDEX enrollments_program ON enrollments (program_id, created_at DESC, id DESC);
