// API tokens (stored by hash only) and the idempotency cache: the statements of both databases, side
// by side. A statement that reads the same on both is written once, in `both`.

const both = {
  insertToken: `
    INSERT INTO api_tokens (id, token_hash, app_id, created_at, expires_at)
    VALUES (@id, @tokenHash, @appId, @createdAt, @expiresAt)`,
  selectLiveToken: `
    SELECT id, app_id, expires_at FROM api_tokens
    WHERE token_hash = @tokenHash AND (expires_at IS NULL OR expires_at > @now)`,
  selectHasAdminToken: `SELECT EXISTS (SELECT 1 FROM api_tokens WHERE app_id IS NULL) AS present`,
  selectIdempotentResponse: `
    SELECT status_code, body, content_type FROM idempotency_responses
    WHERE key_hash = @keyHash AND expires_at > @now`,
};

export const postgres = {
  ...both,
  // The first response wins: a retry racing the original must replay what the original returned.
  insertIdempotentResponse: `
    INSERT INTO idempotency_responses (key_hash, status_code, body, content_type, expires_at)
    VALUES (@keyHash, @statusCode, @body, @contentType, @expiresAt)
    ON CONFLICT (key_hash) DO NOTHING`,
};

export const sqlite = {
  ...both,
  insertIdempotentResponse: `
    INSERT OR IGNORE INTO idempotency_responses (key_hash, status_code, body, content_type, expires_at)
    VALUES (@keyHash, @statusCode, @body, @contentType, @expiresAt)`,
} satisfies Record<keyof typeof postgres, string>;
