-- 0004: background tasks, work an API request starts and the server finishes in batches after
-- answering 202 (replay-missing), with progress clients read through GET /api/v1/background-task.
-- Svix's BackgroundTaskOut shape: task kind, status running|finished|failed, free-form JSON data.
--
-- cursor:       the last message id a replay has dealt with (keyset pagination by message id),
--               committed with each batch, so a stopped task resumes where it stopped.
-- lease_owner,  the process running the task and until when it may: a process that stops
-- locked_until: leaves a lease that expires, and another (or the restarted one) takes the task
--               over. Each batch checks that its process still holds the lease.
-- Tasks go with their application (ON DELETE CASCADE); recover leaves a finished row too.
CREATE TABLE background_tasks (
  id           TEXT PRIMARY KEY,
  app_id       TEXT NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
  task         TEXT NOT NULL,
  status       TEXT NOT NULL CHECK (status IN ('running', 'finished', 'failed')),
  data         TEXT NOT NULL DEFAULT '{}',
  cursor       TEXT,
  lease_owner  TEXT,
  locked_until INTEGER,
  created_at   INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL
);
-- An application's tasks, newest first (app-scoped tokens list only their own).
CREATE INDEX background_tasks_app ON background_tasks (app_id, id);
-- Resuming looks only at running tasks, which are few.
CREATE INDEX background_tasks_running ON background_tasks (id) WHERE status = 'running';
