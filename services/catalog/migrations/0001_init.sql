CREATE TABLE providers (
    id         uuid PRIMARY KEY,
    name       text NOT NULL,
    website    text NOT NULL DEFAULT '',
    email      text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE programs (
    id             uuid PRIMARY KEY,
    provider_id    uuid NOT NULL REFERENCES providers (id),
    title          text NOT NULL,
    summary        text NOT NULL DEFAULT '',
    description    text NOT NULL DEFAULT '',
    skills         text[] NOT NULL DEFAULT '{}',
    duration_hours integer NOT NULL DEFAULT 0,
    price_minor    bigint NOT NULL CHECK (price_minor >= 0),
    currency       char(3) NOT NULL,
    capacity       integer CHECK (capacity IS NULL OR capacity > 0),
    credential     jsonb NOT NULL,
    status         text NOT NULL CHECK (status IN ('DRAFT', 'PUBLISHED', 'ARCHIVED')),
    version        bigint NOT NULL DEFAULT 1,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    search         tsvector GENERATED ALWAYS AS (
        to_tsvector('simple', title || ' ' || summary || ' ' || description)
    ) STORED
);

CREATE INDEX programs_listing ON programs (created_at DESC, id DESC) WHERE status = 'PUBLISHED';
CREATE INDEX programs_provider ON programs (provider_id);
CREATE INDEX programs_search ON programs USING gin (search);
CREATE INDEX programs_skills ON programs USING gin (skills);
