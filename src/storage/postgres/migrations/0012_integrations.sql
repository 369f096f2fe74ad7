-- 0012: integrations, the PostgreSQL twin of sqlite/migrations/0012_integrations.sql. An integration
-- is a named credential of one application; its key is an API token scoped to that application, so it
-- lives in api_tokens (stored by hash) with integration_id set, and authenticates like any app token.
-- The integration row also keeps the key sealed with TAPWIRE_ENCRYPTION_KEY, so GET …/key can return
-- it as Svix does. Rotating replaces the token row; deleting the integration (or the application)
-- deletes its token row through ON DELETE CASCADE.
CREATE TABLE integrations (
  id            text COLLATE "C" PRIMARY KEY,
  app_id        text COLLATE "C" NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
  name          text NOT NULL,
  feature_flags text[] NOT NULL DEFAULT '{}',
  key           text NOT NULL,
  created_at    bigint NOT NULL,
  updated_at    bigint NOT NULL
);
CREATE INDEX integrations_app ON integrations (app_id, id);

ALTER TABLE api_tokens ADD COLUMN integration_id text COLLATE "C" REFERENCES integrations (id) ON DELETE CASCADE;
CREATE INDEX api_tokens_integration ON api_tokens (integration_id) WHERE integration_id IS NOT NULL;
