-- Credentials the credentials service revoked (upskill.credentials.credential_revoked),
-- as enrollment learned them: keyed by the credential, not the enrollment, so that a
-- revocation delivered before its CredentialIssued still wins once the credential is
-- attached, and a redelivered one changes nothing (the first recorded stays). What an
-- employer sees of them is decided in services/enrollment/employers.py (`seen_by`).
CREATE TABLE revoked_credentials (
    credential_id uuid PRIMARY KEY,
    -- The enrollment it was issued for; NULL for a pathway's credential.
    enrollment_id uuid,
    pathway_id    text NOT NULL DEFAULT '',
    reason        text NOT NULL DEFAULT '',
    revoked_at    timestamptz,
    recorded_at   timestamptz NOT NULL DEFAULT now()
);
