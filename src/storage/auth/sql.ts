// API tokens (stored by hash only, with their scope) and the idempotency cache: the statements of
// both databases, written once; what differs (casts, lists as JSON text on SQLite and text[] on
// PostgreSQL, INSERT OR IGNORE) comes from the database's fragments.
import { columns, TOKEN_COLUMNS } from '../shared/columns.js';
import { postgres as pg, sqlite as lite, type SqlFragments } from '../shared/sql-fragments.js';

const TOKEN = columns(TOKEN_COLUMNS);

/** Neither expired nor revoked at @now. */
const LIVE = '(expires_at IS NULL OR expires_at > @now) AND (revoked_at IS NULL OR revoked_at > @now)';

/** What differs here besides the fragments: list membership, a boolean parameter, and ignoring a duplicate key. */
interface Spelling {
  inSessions: string;
  notAdminOnly: string;
  insertIgnoring: string;
  onConflictIgnore: string;
}

const statements = (f: SqlFragments, d: Spelling) => ({
  insertToken: `
    INSERT INTO api_tokens (id, token_hash, app_id, created_at, expires_at, read_only, capabilities, feature_flags, session_id)
    VALUES (@id, @tokenHash, @appId, @createdAt, @expiresAt, @readOnly, @capabilities${f.cast('text[]')}, @featureFlags${f.cast('text[]')}, @sessionId)`,
  selectLiveToken: `SELECT ${TOKEN} FROM api_tokens WHERE token_hash = @tokenHash AND ${LIVE}`,
  selectHasAdminToken: `SELECT EXISTS (SELECT 1 FROM api_tokens WHERE app_id IS NULL AND revoked_at IS NULL) AS present`,
  // An integration's key is listed and ended through its integration (see Store.createIntegration).
  listAppTokens: `SELECT ${TOKEN} FROM api_tokens WHERE app_id = @appId AND integration_id IS NULL AND ${LIVE} ORDER BY created_at DESC, id DESC LIMIT @limit`,
  listAdminTokens: `SELECT ${TOKEN} FROM api_tokens WHERE app_id IS NULL AND ${LIVE} ORDER BY created_at DESC, id DESC LIMIT @limit`,
  // A token revoked earlier keeps its earlier time: a later expire-all with a grace period never
  // brings a logged-out token back. Integration keys are left alone: they end by rotation or with
  // their integration, never through expire-all, logout or `tapwire token revoke`.
  revokeTokens: `
    UPDATE api_tokens SET revoked_at = @at
    WHERE (revoked_at IS NULL OR revoked_at > @at)
      AND integration_id IS NULL
      AND (@tokenHash${f.cast('text')} IS NULL OR token_hash = @tokenHash)
      AND (@id${f.cast('text')} IS NULL OR id = @id)
      AND (@appId${f.cast('text')} IS NULL OR app_id = @appId)
      AND (${d.notAdminOnly} OR app_id IS NULL)
      AND (@sessionIds${f.cast('text[]')} IS NULL OR ${d.inSessions})`,
  selectIdempotentResponse: `
    SELECT status_code, body, content_type FROM idempotency_responses
    WHERE key_hash = @keyHash AND expires_at > @now`,
  // The first response wins: a retry racing the original must replay what the original returned.
  insertIdempotentResponse: `
    ${d.insertIgnoring} INTO idempotency_responses (key_hash, status_code, body, content_type, expires_at)
    VALUES (@keyHash, @statusCode, @body, @contentType, @expiresAt)${d.onConflictIgnore}`,
});

export const postgres = statements(pg, {
  inSessions: 'session_id = ANY (@sessionIds)',
  notAdminOnly: 'NOT @adminOnly::boolean',
  insertIgnoring: 'INSERT',
  onConflictIgnore: '\n    ON CONFLICT (key_hash) DO NOTHING',
});

/** Lists are JSON text; booleans 0/1. */
export const sqlite = statements(lite, {
  inSessions: 'session_id IN (SELECT value FROM json_each(@sessionIds))',
  notAdminOnly: '@adminOnly = 0',
  insertIgnoring: 'INSERT OR IGNORE',
  onConflictIgnore: '',
});
