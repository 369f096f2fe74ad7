-- 0005: scoped and revocable tokens. A portal token carries what it may do (Svix's app-portal-access
-- semantics): read_only, capabilities (a JSON list; NULL = every capability, Svix's default when none
-- are asked for), the feature flags it may see, and the session it belongs to (expire-all can end one
-- session's tokens). revoked_at ends a token before it expires: logout sets it to now, expire-all to
-- now or a little later; a token is refused from revoked_at on. Nothing is rewritten: existing
-- tokens keep every capability, as they had.
ALTER TABLE api_tokens ADD COLUMN read_only INTEGER NOT NULL DEFAULT 0;
ALTER TABLE api_tokens ADD COLUMN capabilities TEXT;
ALTER TABLE api_tokens ADD COLUMN feature_flags TEXT NOT NULL DEFAULT '[]';
ALTER TABLE api_tokens ADD COLUMN session_id TEXT;
ALTER TABLE api_tokens ADD COLUMN revoked_at INTEGER;
