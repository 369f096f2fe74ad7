-- 0005: scoped and revocable tokens, the PostgreSQL twin of sqlite/migrations/0005_token_scopes.sql.
-- A portal token carries what it may do (Svix's app-portal-access semantics): read_only,
-- capabilities (NULL = every capability, Svix's default when none are asked for), the feature flags
-- it may see, and the session it belongs to (expire-all can end one session's tokens). revoked_at
-- ends a token before it expires: logout sets it to now, expire-all to now or a little later; a token
-- is refused from revoked_at on. Adding columns with a constant default rewrites nothing, and
-- existing tokens keep every capability, as they had.
ALTER TABLE api_tokens ADD COLUMN read_only boolean NOT NULL DEFAULT false;
ALTER TABLE api_tokens ADD COLUMN capabilities text[];
ALTER TABLE api_tokens ADD COLUMN feature_flags text[] NOT NULL DEFAULT '{}';
ALTER TABLE api_tokens ADD COLUMN session_id text COLLATE "C";
ALTER TABLE api_tokens ADD COLUMN revoked_at bigint;
