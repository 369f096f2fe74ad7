-- 0011: background tasks over the whole environment, the PostgreSQL twin of
-- sqlite/migrations/0011_environment_tasks.sql. The statistics operations run as background tasks
-- that belong to no application: app_id becomes nullable (NULL = every application).
ALTER TABLE background_tasks ALTER COLUMN app_id DROP NOT NULL;
