// Listen sessions: the statements of both databases, written once; what differs (text[] casts and
// `= ANY` on PostgreSQL, lists as JSON text on SQLite) comes from the database's fragments.
import { columns } from '../shared/columns.js';
import { postgres as pg, sqlite as lite, type SqlFragments } from '../shared/sql-fragments.js';

export const LISTEN_SESSION_COLUMNS = ['id', 'app_id', 'endpoint_id', 'source_id', 'token_hash', 'forward_to', 'event_types', 'client',
  'created_at', 'last_seen_at', 'detached_at'];
const SESSION = columns(LISTEN_SESSION_COLUMNS);

const statements = (f: SqlFragments, idIn: string) => ({
  // A CLI reattaching with its id replaces what it said before, but the session began when it first came.
  saveListenSession: `
    INSERT INTO listen_sessions (id, app_id, endpoint_id, source_id, token_hash, forward_to, event_types, client, created_at, last_seen_at, detached_at)
    VALUES (@id, @appId, @endpointId, @sourceId, @tokenHash, @forwardTo, @eventTypes${f.cast('text[]')}, @client, @createdAt, @lastSeenAt, @detachedAt)
    ON CONFLICT (id) DO UPDATE
    SET app_id = excluded.app_id, endpoint_id = excluded.endpoint_id, source_id = excluded.source_id, token_hash = excluded.token_hash,
        forward_to = excluded.forward_to, event_types = excluded.event_types, client = excluded.client,
        last_seen_at = excluded.last_seen_at, detached_at = excluded.detached_at
    RETURNING ${SESSION}`,
  selectListenSession: `SELECT ${SESSION} FROM listen_sessions WHERE id = @id`,
  listListenSessions: `
    SELECT ${SESSION} FROM listen_sessions
    ORDER BY created_at DESC, id DESC LIMIT @limit`,
  listAppListenSessions: `
    SELECT ${SESSION} FROM listen_sessions
    WHERE app_id = @appId
    ORDER BY created_at DESC, id DESC LIMIT @limit`,
  touchListenSessions: `UPDATE listen_sessions SET last_seen_at = @now, detached_at = NULL WHERE ${idIn}`,
  markListenSessionDetached: `UPDATE listen_sessions SET last_seen_at = @now, detached_at = @now WHERE id = @id`,
  listExpiredListenSessions: `
    SELECT ${SESSION} FROM listen_sessions
    WHERE last_seen_at < @lastSeenBefore
    ORDER BY last_seen_at, id LIMIT @limit`,
  deleteListenSession: `DELETE FROM listen_sessions WHERE id = @id`,
});

export const postgres = statements(pg, 'id = ANY (@ids::text[])');
/** Lists are JSON text. */
export const sqlite = statements(lite, 'id IN (SELECT value FROM json_each(@ids))');
