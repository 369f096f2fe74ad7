// Integrations and their keys: the statements of both databases, written once; what differs (text[]
// casts on PostgreSQL, lists as JSON text on SQLite) comes from the database's fragments. A key's
// token row is an ordinary api_tokens row (app-scoped, never expiring, every capability) that names
// its integration, so authentication needs nothing new.
import { columns } from '../shared/columns.js';
import { postgres as pg, sqlite as lite, type SqlFragments } from '../shared/sql-fragments.js';

export const INTEGRATION_COLUMNS = ['id', 'app_id', 'name', 'feature_flags', 'key', 'created_at', 'updated_at'];
const INTEGRATION = columns(INTEGRATION_COLUMNS);

const statements = (f: SqlFragments, falseValue: string, lockRows: string) => ({
  insertIntegration: `
    INSERT INTO integrations (id, app_id, name, feature_flags, key, created_at, updated_at)
    VALUES (@id, @appId, @name, @featureFlags${f.cast('text[]')}, @key, @createdAt, @updatedAt)
    RETURNING ${INTEGRATION}`,
  insertIntegrationToken: `
    INSERT INTO api_tokens (id, token_hash, app_id, created_at, expires_at, read_only, capabilities, feature_flags, session_id, integration_id)
    VALUES (@id, @tokenHash, @appId, @createdAt, NULL, ${falseValue}, NULL, @featureFlags${f.cast('text[]')}, NULL, @integrationId)`,
  selectIntegration: `SELECT ${INTEGRATION} FROM integrations WHERE app_id = @appId AND id = @id`,
  listIntegrations: `
    SELECT ${INTEGRATION} FROM integrations
    WHERE app_id = @appId AND id {cmp} @cursor
    ORDER BY id {dir} LIMIT @limit`,
  updateIntegration: `
    UPDATE integrations SET name = @name, feature_flags = @featureFlags${f.cast('text[]')}, updated_at = @updatedAt
    WHERE app_id = @appId AND id = @id
    RETURNING ${INTEGRATION}`,
  // The key's token sees what the integration may see.
  updateIntegrationTokenFlags: `UPDATE api_tokens SET feature_flags = @featureFlags${f.cast('text[]')} WHERE integration_id = @id`,
  updateIntegrationKey: `
    UPDATE integrations SET key = @key, updated_at = @updatedAt
    WHERE app_id = @appId AND id = @id
    RETURNING ${INTEGRATION}`,
  // The previous key stops working at once (Svix: rotating revokes it immediately).
  deleteIntegrationTokens: `DELETE FROM api_tokens WHERE integration_id = @id`,
  // Its token row goes with it (ON DELETE CASCADE).
  deleteIntegration: `DELETE FROM integrations WHERE app_id = @appId AND id = @id`,
  // Resealing (see Store.resealIntegrationKeys): a batch of sealed keys, and rewriting one.
  selectIntegrationKeys: `
    SELECT id, key FROM integrations
    WHERE id > @afterId ORDER BY id LIMIT @limit${lockRows}`,
  updateSealedIntegrationKey: `UPDATE integrations SET key = @key WHERE id = @id`,
});

export const postgres = statements(pg, 'false', '\n    FOR UPDATE');
/** Lists are JSON text; booleans 0/1. */
export const sqlite = statements(lite, '0', '');
