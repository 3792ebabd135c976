-- Issue 10, editing a DRAFT pathway: a consent request whose program an edit takes out of
-- the pathway is CANCELLED by the requester (services/catalog/pathways.py holds the rule).
ALTER TABLE pathway_consents DROP CONSTRAINT pathway_consents_status_check;
ALTER TABLE pathway_consents ADD CONSTRAINT pathway_consents_status_check
    CHECK (status IN ('PENDING', 'GRANTED', 'REFUSED', 'WITHDRAWN', 'CANCELLED'));
