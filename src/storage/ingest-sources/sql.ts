// Ingest sources: the statements of both databases, written once (nothing in them differs).
import { columns } from '../shared/columns.js';

export const INGEST_SOURCE_COLUMNS = ['id', 'uid', 'name', 'type', 'config', 'metadata', 'app_id', 'token', 'created_at', 'updated_at'];
const SOURCE = columns(INGEST_SOURCE_COLUMNS);

const statements = (lockRows: string) => ({
  insertIngestSource: `
    INSERT INTO ingest_sources (id, uid, name, type, config, metadata, app_id, token, token_hash, created_at, updated_at)
    VALUES (@id, @uid, @name, @type, @config, @metadata, @appId, @token, @tokenHash, @createdAt, @updatedAt)
    RETURNING ${SOURCE}`,
  selectIngestSource: `SELECT ${SOURCE} FROM ingest_sources WHERE id = @idOrUid OR uid = @idOrUid`,
  // The current token, or the previous one while it is still honoured after a rotation.
  selectIngestSourceByToken: `
    SELECT ${SOURCE} FROM ingest_sources
    WHERE token_hash = @tokenHash OR (previous_token_hash = @tokenHash AND previous_token_expires_at > @now)`,
  listIngestSources: `
    SELECT ${SOURCE} FROM ingest_sources
    WHERE id {cmp} @cursor
    ORDER BY id {dir} LIMIT @limit`,
  updateIngestSource: `
    UPDATE ingest_sources SET uid = @uid, name = @name, type = @type, config = @config, metadata = @metadata, updated_at = @updatedAt
    WHERE id = @id
    RETURNING ${SOURCE}`,
  rotateIngestSourceToken: `
    UPDATE ingest_sources
    SET previous_token_hash = token_hash, previous_token_expires_at = @previousExpiresAt,
        token = @token, token_hash = @tokenHash, updated_at = @updatedAt
    WHERE id = @id
    RETURNING ${SOURCE}`,
  deleteIngestSource: `DELETE FROM ingest_sources WHERE id = @id`,
  selectIngestSourceSecrets: `
    SELECT id, config, token FROM ingest_sources
    WHERE id > @afterId ORDER BY id LIMIT @limit${lockRows}`,
  updateSealedIngestSource: `UPDATE ingest_sources SET config = @config, token = @token WHERE id = @id`,
});

export const postgres = statements('\n    FOR UPDATE');
export const sqlite = statements('');
