-- Finding programs by a word with a small typo: the search corrects each word to the
-- nearest words programs actually use, by trigram similarity (pg_trgm, a trusted extension
-- since PostgreSQL 13, so the database owner may create it), then searches those with the
-- full-text index. The lexicon is every lexeme of the programs' `search` text; a word
-- stays after its program changes (it then only offers a correction that finds nothing).
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE search_lexicon (word text PRIMARY KEY);
-- GiST: the nearest words by trigram distance come straight off the index (ORDER BY <->
-- ... LIMIT), however many words the lexicon holds.
CREATE INDEX search_lexicon_trgm ON search_lexicon USING gist (word gist_trgm_ops);

-- Words worth correcting to: of letters (numbers, codes and URLs are typed exactly or
-- not at all), 3 to 40 characters. Keeping numbers out also keeps the lexicon the size of
-- a vocabulary, not of the catalogue ("level 4242" on every program).
CREATE FUNCTION search_lexicon_words(search tsvector) RETURNS SETOF text
    LANGUAGE sql IMMUTABLE AS $$
    SELECT w FROM unnest(tsvector_to_array(search)) AS w
    WHERE length(w) BETWEEN 3 AND 40 AND w !~ '[^[:alpha:]]'
$$;

CREATE FUNCTION programs_add_search_words() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO search_lexicon (word)
    SELECT search_lexicon_words(NEW.search)
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;

CREATE TRIGGER programs_search_words
    AFTER INSERT OR UPDATE OF title, summary, description ON programs
    FOR EACH ROW EXECUTE FUNCTION programs_add_search_words();

INSERT INTO search_lexicon (word)
SELECT DISTINCT search_lexicon_words(search) FROM programs
ON CONFLICT DO NOTHING;

-- The studio's listing: one provider's programs, drafts included, newest first.
CREATE INDEX programs_by_provider ON programs (provider_id, created_at DESC, id DESC);
DROP INDEX programs_provider;
