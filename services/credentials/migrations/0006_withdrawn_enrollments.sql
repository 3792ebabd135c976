-- Enrollments whose payment came back (refunded, or a lost dispute): their credential is
-- revoked, and one that has not been issued yet never will be. Kept so that the order in
-- which EnrollmentRefunded and the issuing event arrive changes nothing.
CREATE TABLE withdrawn_enrollments (
    enrollment_id uuid PRIMARY KEY,
    reason        text NOT NULL,
    withdrawn_at  timestamptz NOT NULL DEFAULT now()
);
