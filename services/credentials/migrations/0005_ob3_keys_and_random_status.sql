-- Issue 9: keys of several types, scheduled rotation and withdrawal; per-issuer status
-- lists with random indexes.

-- alg: what the key signs (keys before this migration were all Ed25519).
-- signs_from: from when the key signs new credentials (`upskill keys schedule`); the newest
--   key whose moment has come signs.
-- withdrawn_at: a compromised key, kept out of the JWKS; what it signed no longer verifies.
-- legacy_kid: the key signed tokens whose kid is the bare thumbprint (the JWKS also lists
--   it under that kid, so verifiers holding such tokens still find it).
ALTER TABLE issuer_keys
    ADD COLUMN alg              text NOT NULL DEFAULT 'EdDSA',
    ADD COLUMN signs_from       timestamptz,
    ADD COLUMN withdrawn_at     timestamptz,
    ADD COLUMN withdrawn_reason text NOT NULL DEFAULT '',
    ADD COLUMN legacy_kid       boolean NOT NULL DEFAULT false;
UPDATE issuer_keys SET signs_from = created_at, legacy_kid = true;
ALTER TABLE issuer_keys
    ALTER COLUMN alg DROP DEFAULT,
    ALTER COLUMN signs_from SET NOT NULL,
    ALTER COLUMN signs_from SET DEFAULT now(),
    ADD CONSTRAINT issuer_keys_alg CHECK (alg IN ('ES256', 'RS256', 'EdDSA'));

-- Each list belongs to one issuer (the provider), so a verifier can require the list's
-- issuer to be the credential's. Lists from before (provider_id NULL) were the platform's
-- and used sequential indexes; they are closed (capacity = what they hold).
-- allocated: indexes handed out; capacity: how many the list takes before a new one opens
--   (half its bits, so a random draw finds a free index in two tries on average).
ALTER TABLE status_lists RENAME COLUMN next_index TO allocated;
ALTER TABLE status_lists
    ADD COLUMN provider_id uuid,
    ADD COLUMN issuer_name text NOT NULL DEFAULT 'Upskill',
    ADD COLUMN capacity    integer;
UPDATE status_lists SET capacity = allocated;
ALTER TABLE status_lists
    ALTER COLUMN issuer_name DROP DEFAULT,
    ALTER COLUMN capacity SET NOT NULL,
    ADD CONSTRAINT status_lists_capacity CHECK (capacity >= 0 AND capacity <= size);

CREATE INDEX status_lists_open ON status_lists (provider_id, created_at DESC)
    WHERE allocated < capacity;
