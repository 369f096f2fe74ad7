-- 0011: background tasks over the whole environment. The statistics operations
-- (POST /api/v1/stats/usage/app, PUT /api/v1/stats/usage/event-types) run as background tasks
-- that belong to no application, so app_id becomes nullable. SQLite cannot drop a NOT NULL
-- constraint in place: the table is rebuilt with the same columns, rows and indexes. Nothing
-- references background_tasks, so dropping the old table touches no other row.
CREATE TABLE background_tasks_0011 (
  id           TEXT PRIMARY KEY,
  app_id       TEXT REFERENCES applications (id) ON DELETE CASCADE,  -- NULL = every application
  task         TEXT NOT NULL,
  status       TEXT NOT NULL CHECK (status IN ('running', 'finished', 'failed')),
  data         TEXT NOT NULL DEFAULT '{}',
  cursor       TEXT,
  lease_owner  TEXT,
  locked_until INTEGER,
  created_at   INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL
);
INSERT INTO background_tasks_0011 (id, app_id, task, status, data, cursor, lease_owner, locked_until, created_at, updated_at)
  SELECT id, app_id, task, status, data, cursor, lease_owner, locked_until, created_at, updated_at FROM background_tasks;
DROP TABLE background_tasks;
ALTER TABLE background_tasks_0011 RENAME TO background_tasks;
CREATE INDEX background_tasks_app ON background_tasks (app_id, id);
CREATE INDEX background_tasks_running ON background_tasks (id) WHERE status = 'running';
