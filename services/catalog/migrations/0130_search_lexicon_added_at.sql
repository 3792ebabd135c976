-- When each word entered the lexicon: a typo-tolerant search corrects words to the
-- lexicon as it was when its walk began (its page tokens carry that time), so a program
-- published mid-walk cannot change the corrections of the walk's later pages.
-- (ON CONFLICT DO NOTHING in programs_add_search_words keeps a word's first time.)
ALTER TABLE search_lexicon ADD COLUMN added_at timestamptz NOT NULL DEFAULT now();
