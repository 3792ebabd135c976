-- Public profiles (/u/{handle}): a learner's chosen address, whether it is on, and the
-- credentials it shows. A handle is unique however it is cased: the index decides a race
-- between two learners asking for the same one (the loser gets ALREADY_EXISTS).
ALTER TABLE learner_profiles
    ADD COLUMN handle text,
    ADD COLUMN public boolean NOT NULL DEFAULT false;

CREATE UNIQUE INDEX learner_profiles_handle ON learner_profiles (lower(handle));

-- The credentials a learner chose to show, in their order. Only their own (checked when
-- chosen; a credential never changes hands); a revoked one stays listed and shows REVOKED.
CREATE TABLE public_profile_credentials (
    learner_id    text NOT NULL REFERENCES learner_profiles (learner_id) ON DELETE CASCADE,
    credential_id uuid NOT NULL REFERENCES credentials (id),
    position      integer NOT NULL,
    PRIMARY KEY (learner_id, credential_id)
);
