-- 0012: integrations (Svix's per-application integration keys). An integration is a named credential
-- of one application; its key is an API token scoped to that application, so it lives in api_tokens
-- (stored by hash, like every token) with integration_id set, and authenticates like any app token.
-- Svix returns the key again (GET …/integration/{id}/key), which a hash cannot do: the integration
-- row keeps the key sealed with TAPWIRE_ENCRYPTION_KEY (the secret box of endpoint secrets), and only
-- the API reading an integration opens it. Rotating replaces the token row (the old key dies at once);
-- deleting the integration deletes its token row with it (ON DELETE CASCADE), as does deleting the
-- application.
CREATE TABLE integrations (
  id            TEXT PRIMARY KEY,
  app_id        TEXT NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
  name          TEXT NOT NULL,
  feature_flags TEXT NOT NULL DEFAULT '[]',
  key           TEXT NOT NULL,
  created_at    INTEGER NOT NULL,
  updated_at    INTEGER NOT NULL
);
CREATE INDEX integrations_app ON integrations (app_id, id);

ALTER TABLE api_tokens ADD COLUMN integration_id TEXT REFERENCES integrations (id) ON DELETE CASCADE;
CREATE INDEX api_tokens_integration ON api_tokens (integration_id) WHERE integration_id IS NOT NULL;
