-- 0013: ingest sources (Svix's Ingest API). A source receives webhooks from one provider (Stripe,
-- GitHub…) at a URL carrying an unguessable token, and owns one application (app_id) whose endpoints
-- are the source's ingest endpoints: accepted events are messages of that application, so delivery,
-- retries, the attempt log and replay are the ordinary ones. The application goes with the source
-- (the service deletes it; ON DELETE CASCADE removes the source row with it).
-- config: the provider's settings as JSON (its signing secret), sealed with TAPWIRE_ENCRYPTION_KEY
-- like endpoint secrets. token: sealed too (GET shows the URL again); token_hash finds the source
-- from a request. After a rotation the previous token keeps working until previous_token_expires_at.
CREATE TABLE ingest_sources (
  id                        TEXT PRIMARY KEY,
  uid                       TEXT,
  name                      TEXT NOT NULL,
  type                      TEXT NOT NULL,
  config                    TEXT NOT NULL,
  metadata                  TEXT NOT NULL DEFAULT '{}',
  app_id                    TEXT NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
  token                     TEXT NOT NULL,
  token_hash                TEXT NOT NULL,
  previous_token_hash       TEXT,
  previous_token_expires_at INTEGER,
  created_at                INTEGER NOT NULL,
  updated_at                INTEGER NOT NULL
);
CREATE UNIQUE INDEX ingest_sources_uid ON ingest_sources (uid) WHERE uid IS NOT NULL;
CREATE UNIQUE INDEX ingest_sources_token ON ingest_sources (token_hash);
CREATE INDEX ingest_sources_previous_token ON ingest_sources (previous_token_hash) WHERE previous_token_hash IS NOT NULL;
CREATE INDEX ingest_sources_app ON ingest_sources (app_id);

-- forward_headers: the provider's headers an ingested event is delivered with (JSON object, names
-- lower-cased; an allow-list per source type, see services/ingest.ts). NULL for every other message.
ALTER TABLE messages ADD COLUMN forward_headers TEXT;
