// Event types (the catalogue of message types, shared by every application): the statements of both
// databases, side by side. A statement written once takes the database's fragments (cast: JSON is
// text on SQLite, `json` on PostgreSQL; booleans differ in the archived filter). A type is behind
// feature flags when `feature_flags` (a list, migration 0009) holds any; a portal token sees it with
// at least one of them.
import { columns, EVENT_TYPE_COLUMNS } from '../shared/columns.js';
import { postgres as pg, sqlite as lite, type SqlFragments } from '../shared/sql-fragments.js';

const EVENT_TYPE = columns(EVENT_TYPE_COLUMNS);

const insertEventType = (f: SqlFragments): string => `
    INSERT INTO event_types (name, description, archived, deprecated, schemas, feature_flag, feature_flags, group_name, created_at, updated_at)
    VALUES (@name, @description, @archived, @deprecated, @schemas${f.cast('json')}, @featureFlag, @featureFlags${f.cast('text[]')}, @groupName,
            @createdAt, @updatedAt)`;

const statements = (f: SqlFragments, notArchived: string, inFlags: string) => ({
  insertEventType: `${insertEventType(f)}
    RETURNING ${EVENT_TYPE}`,
  // "Replace" keeps the original creation time.
  upsertEventType: `${insertEventType(f)}
    ON CONFLICT (name) DO UPDATE SET
      description = excluded.description, archived = excluded.archived, deprecated = excluded.deprecated,
      schemas = excluded.schemas, feature_flag = excluded.feature_flag,
      feature_flags = excluded.feature_flags, group_name = excluded.group_name, updated_at = excluded.updated_at
    RETURNING ${EVENT_TYPE}`,
  selectEventType: `SELECT ${EVENT_TYPE} FROM event_types WHERE name = @name`,
  deleteEventType: `DELETE FROM event_types WHERE name = @name`,
  listEventTypes: `
    SELECT ${EVENT_TYPE} FROM event_types
    WHERE (${notArchived}) AND name {cmp} @cursor
      AND (@featureFlags${f.cast('text[]')} IS NULL OR feature_flags IS NULL OR ${inFlags})
    ORDER BY name {dir} LIMIT @limit`,
});

export const postgres = statements(pg, '@includeArchived::boolean OR NOT archived', 'feature_flags && @featureFlags');

/** Booleans are 0/1; lists JSON text. */
export const sqlite = statements(
  lite,
  '@includeArchived = 1 OR archived = 0',
  'EXISTS (SELECT 1 FROM json_each(feature_flags) AS f WHERE f.value IN (SELECT value FROM json_each(@featureFlags)))',
);
