// Applications (tenants): the statements of both databases, written once; what differs (the JSON
// cast PostgreSQL needs, SQLite keeping JSON as text) comes from the database's fragments.
import { APPLICATION_COLUMNS, columns } from '../shared/columns.js';
import { postgres as pg, sqlite as lite, type SqlFragments } from '../shared/sql-fragments.js';

const APPLICATION = columns(APPLICATION_COLUMNS);

const statements = (f: SqlFragments) => ({
  insertApplication: `
    INSERT INTO applications (id, uid, name, throttle_rate, metadata, created_at, updated_at)
    VALUES (@id, @uid, @name, @throttleRate, @metadata${f.cast('json')}, @createdAt, @updatedAt)
    RETURNING ${APPLICATION}`,
  // An id match wins over a uid match, should some uid happen to equal another application's id.
  selectApplicationByIdOrUid: `
    SELECT ${APPLICATION} FROM applications WHERE id = @key OR uid = @key
    ORDER BY id = @key DESC LIMIT 1`,
  updateApplication: `
    UPDATE applications
    SET uid = @uid, name = @name, throttle_rate = @throttleRate, metadata = @metadata${f.cast('json')}, updated_at = @updatedAt
    WHERE id = @id
    RETURNING ${APPLICATION}`,
  // Endpoints, messages, deliveries, attempts and tokens go with it through ON DELETE CASCADE.
  deleteApplication: `DELETE FROM applications WHERE id = @id`,
  // The reserved operational application (@hiddenUid) is Tapwire's own: reachable by its uid, not listed.
  listApplications: `
    SELECT ${APPLICATION} FROM applications
    WHERE id {cmp} @cursor AND (uid IS NULL OR uid <> @hiddenUid)
      -- An ingest source's own application is reached through the source, not listed with the others.
      AND NOT EXISTS (SELECT 1 FROM ingest_sources s WHERE s.app_id = applications.id)
    ORDER BY id {dir} LIMIT @limit`,
});

export const postgres = statements(pg);
export const sqlite = statements(lite);
