-- Finding programs by part of a word or with a small typo: trigram similarity (pg_trgm,
-- a trusted extension since PostgreSQL 13, so the database owner may create it) over the
-- lower-cased title and summary, beside the full-text index (whole words and prefixes).
CREATE EXTENSION IF NOT EXISTS pg_trgm;

ALTER TABLE programs ADD COLUMN search_words text
    GENERATED ALWAYS AS (lower(title || ' ' || summary)) STORED;

CREATE INDEX programs_search_trgm ON programs USING gin (search_words gin_trgm_ops);

-- The studio's listing: one provider's programs, drafts included, newest first.
CREATE INDEX programs_by_provider ON programs (provider_id, created_at DESC, id DESC);
DROP INDEX programs_provider;
