-- One cluster, one database per service (never read across).
CREATE DATABASE upskill_catalog;
CREATE DATABASE upskill_enrollment;
CREATE DATABASE upskill_payments;
CREATE DATABASE upskill_credentials;
CREATE DATABASE keycloak;  -- the identity provider's own
