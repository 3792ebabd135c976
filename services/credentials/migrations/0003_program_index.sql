-- Credentials listed by program (alone, or within a learner's or provider's scope), newest
-- first: the same keyset order as the other listings.
CREATE INDEX credentials_program ON credentials (program_id, issued_at DESC, id DESC);
