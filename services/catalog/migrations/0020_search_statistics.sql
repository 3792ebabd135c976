-- A search for a rare word (a name, a code) at 100,000 programs took 100-300 ms: with the
-- default statistics the planner guessed 500 matches for any word it had no statistics on,
-- so it walked the listing index in date order, filtering every row, to find the one match.
-- A longer most-common-lexeme list (10,000 lexemes instead of 1,000) lowers that guess to
-- a handful, and such searches use the GIN index (0.5-10 ms); common words keep the
-- listing index, which stops after one page. Measured by `make bench` (benchmarks/README.md).
ALTER TABLE programs ALTER COLUMN search SET STATISTICS 1000;
