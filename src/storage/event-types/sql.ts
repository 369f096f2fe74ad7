// Event types (the catalogue of message types, shared by every application): the statements of both
// databases, side by side. A statement that reads the same on both is written once, in `both`.
import { columns, EVENT_TYPE_COLUMNS } from '../shared/columns.js';

const EVENT_TYPE = columns(EVENT_TYPE_COLUMNS);

const both = {
  selectEventType: `SELECT ${EVENT_TYPE} FROM event_types WHERE name = @name`,
  deleteEventType: `DELETE FROM event_types WHERE name = @name`,
};

export const postgres = {
  insertEventType: `
    INSERT INTO event_types (name, description, archived, deprecated, schemas, feature_flag, created_at, updated_at)
    VALUES (@name, @description, @archived, @deprecated, @schemas::json, @featureFlag, @createdAt, @updatedAt)
    RETURNING ${EVENT_TYPE}`,
  // "Replace" keeps the original creation time.
  upsertEventType: `
    INSERT INTO event_types (name, description, archived, deprecated, schemas, feature_flag, created_at, updated_at)
    VALUES (@name, @description, @archived, @deprecated, @schemas::json, @featureFlag, @createdAt, @updatedAt)
    ON CONFLICT (name) DO UPDATE SET
      description = excluded.description, archived = excluded.archived, deprecated = excluded.deprecated,
      schemas = excluded.schemas, feature_flag = excluded.feature_flag, updated_at = excluded.updated_at
    RETURNING ${EVENT_TYPE}`,
  selectEventType: both.selectEventType,
  deleteEventType: both.deleteEventType,
  listEventTypes: `
    SELECT ${EVENT_TYPE} FROM event_types
    WHERE (@includeArchived::boolean OR NOT archived) AND name {cmp} @cursor
    ORDER BY name {dir} LIMIT @limit`,
};

/** JSON is text, booleans 0/1. */
export const sqlite = {
  insertEventType: `
    INSERT INTO event_types (name, description, archived, deprecated, schemas, feature_flag, created_at, updated_at)
    VALUES (@name, @description, @archived, @deprecated, @schemas, @featureFlag, @createdAt, @updatedAt)
    RETURNING ${EVENT_TYPE}`,
  upsertEventType: `
    INSERT INTO event_types (name, description, archived, deprecated, schemas, feature_flag, created_at, updated_at)
    VALUES (@name, @description, @archived, @deprecated, @schemas, @featureFlag, @createdAt, @updatedAt)
    ON CONFLICT (name) DO UPDATE SET
      description = excluded.description, archived = excluded.archived, deprecated = excluded.deprecated,
      schemas = excluded.schemas, feature_flag = excluded.feature_flag, updated_at = excluded.updated_at
    RETURNING ${EVENT_TYPE}`,
  selectEventType: both.selectEventType,
  deleteEventType: both.deleteEventType,
  listEventTypes: `
    SELECT ${EVENT_TYPE} FROM event_types
    WHERE (@includeArchived = 1 OR archived = 0) AND name {cmp} @cursor
    ORDER BY name {dir} LIMIT @limit`,
} satisfies Record<keyof typeof postgres, string>;
