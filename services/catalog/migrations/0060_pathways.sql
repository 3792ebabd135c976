-- Issue 10: pathways (stackable credentials). A provider's named set of its own programs
-- whose credentials, all of them or `required_count` of them, earn the pathway's own
-- achievement. The credentials service learns of them from PathwayPublished/Archived.
CREATE TABLE pathways (
    id             uuid PRIMARY KEY,
    provider_id    uuid NOT NULL REFERENCES providers (id),
    title          text NOT NULL,
    description    text NOT NULL DEFAULT '',
    program_ids    uuid[] NOT NULL,
    -- 0: every program is required.
    required_count integer NOT NULL CHECK (required_count >= 0),
    achievement    jsonb NOT NULL,
    status         text NOT NULL CHECK (status IN ('DRAFT', 'PUBLISHED', 'ARCHIVED')),
    version        bigint NOT NULL DEFAULT 1,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CHECK (required_count <= cardinality(program_ids))
);

CREATE INDEX pathways_listing ON pathways (created_at DESC, id DESC) WHERE status = 'PUBLISHED';
CREATE INDEX pathways_provider ON pathways (provider_id, created_at DESC, id DESC);
