// Applications (tenants): the statements of both databases, side by side. A statement that reads
// the same on both is written once, in `both`.
import { APPLICATION_COLUMNS, columns } from '../shared/columns.js';

const APPLICATION = columns(APPLICATION_COLUMNS);

const both = {
  // An id match wins over a uid match, should some uid happen to equal another application's id.
  selectApplicationByIdOrUid: `
    SELECT ${APPLICATION} FROM applications WHERE id = @key OR uid = @key
    ORDER BY id = @key DESC LIMIT 1`,
  // Endpoints, messages, deliveries, attempts and tokens go with it through ON DELETE CASCADE.
  deleteApplication: `DELETE FROM applications WHERE id = @id`,
  listApplications: `
    SELECT ${APPLICATION} FROM applications WHERE id {cmp} @cursor ORDER BY id {dir} LIMIT @limit`,
};

export const postgres = {
  insertApplication: `
    INSERT INTO applications (id, uid, name, throttle_rate, metadata, created_at, updated_at)
    VALUES (@id, @uid, @name, @throttleRate, @metadata::json, @createdAt, @updatedAt)
    RETURNING ${APPLICATION}`,
  selectApplicationByIdOrUid: both.selectApplicationByIdOrUid,
  updateApplication: `
    UPDATE applications
    SET uid = @uid, name = @name, throttle_rate = @throttleRate, metadata = @metadata::json, updated_at = @updatedAt
    WHERE id = @id
    RETURNING ${APPLICATION}`,
  deleteApplication: both.deleteApplication,
  listApplications: both.listApplications,
};

/** JSON is text here: no casts. */
export const sqlite = {
  insertApplication: `
    INSERT INTO applications (id, uid, name, throttle_rate, metadata, created_at, updated_at)
    VALUES (@id, @uid, @name, @throttleRate, @metadata, @createdAt, @updatedAt)
    RETURNING ${APPLICATION}`,
  selectApplicationByIdOrUid: both.selectApplicationByIdOrUid,
  updateApplication: `
    UPDATE applications
    SET uid = @uid, name = @name, throttle_rate = @throttleRate, metadata = @metadata, updated_at = @updatedAt
    WHERE id = @id
    RETURNING ${APPLICATION}`,
  deleteApplication: both.deleteApplication,
  listApplications: both.listApplications,
} satisfies Record<keyof typeof postgres, string>;
