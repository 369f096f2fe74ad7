-- 0013: ingest sources, the PostgreSQL twin of sqlite/migrations/0013_ingest_sources.sql. A source
-- receives one provider's webhooks at a URL with an unguessable token and owns one application whose
-- endpoints are its ingest endpoints (accepted events are messages of it). config (the signing secret,
-- as JSON) and token are sealed with TAPWIRE_ENCRYPTION_KEY; token_hash finds the source from a
-- request; the previous token keeps working until previous_token_expires_at after a rotation.
CREATE TABLE ingest_sources (
  id                        text COLLATE "C" PRIMARY KEY,
  uid                       text COLLATE "C",
  name                      text NOT NULL,
  type                      text NOT NULL,
  config                    text NOT NULL,
  metadata                  text NOT NULL DEFAULT '{}',
  app_id                    text COLLATE "C" NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
  token                     text NOT NULL,
  token_hash                text NOT NULL,
  previous_token_hash       text,
  previous_token_expires_at bigint,
  created_at                bigint NOT NULL,
  updated_at                bigint NOT NULL
);
CREATE UNIQUE INDEX ingest_sources_uid ON ingest_sources (uid) WHERE uid IS NOT NULL;
CREATE UNIQUE INDEX ingest_sources_token ON ingest_sources (token_hash);
CREATE INDEX ingest_sources_previous_token ON ingest_sources (previous_token_hash) WHERE previous_token_hash IS NOT NULL;
CREATE INDEX ingest_sources_app ON ingest_sources (app_id);

-- forward_headers: the provider's headers an ingested event is delivered with (JSON object, names
-- lower-cased; an allow-list per source type, see services/ingest.ts). NULL for every other message.
ALTER TABLE messages ADD COLUMN forward_headers text;
