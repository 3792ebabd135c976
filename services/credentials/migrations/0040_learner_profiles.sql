-- What a learner chose to show on their credentials' pages: a display name, and their
-- consent to showing it. Kept apart from the signed credentials, which never change.
CREATE TABLE learner_profiles (
    learner_id   text PRIMARY KEY,
    display_name text NOT NULL DEFAULT '',
    show_name    boolean NOT NULL DEFAULT false,
    updated_at   timestamptz NOT NULL DEFAULT now()
);
