-- 0004: background tasks, the PostgreSQL twin of sqlite/migrations/0004_background_tasks.sql: work
-- an API request starts and the server finishes in batches after answering 202 (replay-missing),
-- with progress clients read through GET /api/v1/background-task. Svix's BackgroundTaskOut shape.
--
-- cursor:       the last message id a replay has dealt with (keyset pagination by message id),
--               committed with each batch, so a stopped task resumes where it stopped.
-- lease_owner,  the process running the task and until when it may. Several processes resume
-- locked_until: unfinished tasks; they lease them with FOR UPDATE SKIP LOCKED, so one task is
--               taken by one process, and each batch checks that its process still holds the lease.
-- data is json, not jsonb: an opaque progress document we never query inside.
CREATE TABLE background_tasks (
  id           text COLLATE "C" PRIMARY KEY,
  app_id       text COLLATE "C" NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
  task         text NOT NULL,
  status       text NOT NULL CHECK (status IN ('running', 'finished', 'failed')),
  data         json NOT NULL DEFAULT '{}',
  cursor       text COLLATE "C",
  lease_owner  text,
  locked_until bigint,
  created_at   bigint NOT NULL,
  updated_at   bigint NOT NULL
);
-- An application's tasks, newest first (app-scoped tokens list only their own).
CREATE INDEX background_tasks_app ON background_tasks (app_id, id);
-- Resuming looks only at running tasks, which are few.
CREATE INDEX background_tasks_running ON background_tasks (id) WHERE status = 'running';
