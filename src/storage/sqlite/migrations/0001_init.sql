-- 0001: the first schema. Migrations are append-only: never edit a shipped file, add 0002_….sql.
-- Times are INTEGER milliseconds since the epoch; JSON fields (metadata, headers, eventTypes,
-- channels, oldSecrets, schemas) are TEXT holding JSON. Ids are time-sortable KSUIDs, so ORDER BY id
-- is creation order and "the latest delivery" is the one with the greatest id.

CREATE TABLE applications (
  id            TEXT PRIMARY KEY,
  uid           TEXT UNIQUE,
  name          TEXT NOT NULL,
  throttle_rate INTEGER,
  metadata      TEXT NOT NULL DEFAULT '{}',
  created_at    INTEGER NOT NULL,
  updated_at    INTEGER NOT NULL
);

-- Endpoints are soft-deleted (deleted_at set, uid cleared) so attempts keep pointing at them.
CREATE TABLE endpoints (
  id            TEXT PRIMARY KEY,
  app_id        TEXT NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
  uid           TEXT,
  url           TEXT NOT NULL,
  description   TEXT NOT NULL DEFAULT '',
  disabled      INTEGER NOT NULL DEFAULT 0,
  event_types   TEXT,          -- JSON array, NULL = every event type
  channels      TEXT,          -- JSON array, NULL = not restricted to channels
  throttle_rate INTEGER,
  version       INTEGER NOT NULL DEFAULT 1,
  metadata      TEXT NOT NULL DEFAULT '{}',
  secret        TEXT NOT NULL,
  old_secrets   TEXT NOT NULL DEFAULT '[]',
  headers       TEXT NOT NULL DEFAULT '{}',
  created_at    INTEGER NOT NULL,
  updated_at    INTEGER NOT NULL,
  deleted_at    INTEGER
);
-- A uid is unique among the live endpoints of one application; deleting an endpoint frees it.
CREATE UNIQUE INDEX endpoints_app_uid ON endpoints (app_id, uid)
  WHERE deleted_at IS NULL AND uid IS NOT NULL;
CREATE INDEX endpoints_app ON endpoints (app_id, id);

-- Event types are global to the server.
CREATE TABLE event_types (
  name         TEXT PRIMARY KEY,
  description  TEXT NOT NULL DEFAULT '',
  archived     INTEGER NOT NULL DEFAULT 0,
  deprecated   INTEGER NOT NULL DEFAULT 0,
  schemas      TEXT,
  feature_flag TEXT,
  created_at   INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL
);

CREATE TABLE messages (
  id                 TEXT PRIMARY KEY,
  app_id             TEXT NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
  event_id           TEXT,
  event_type         TEXT NOT NULL,
  payload            TEXT,     -- byte-for-byte as submitted; NULL once expunged or expired
  channels           TEXT,     -- JSON array or NULL
  created_at         INTEGER NOT NULL,
  payload_expires_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX messages_app_event_id ON messages (app_id, event_id) WHERE event_id IS NOT NULL;
CREATE INDEX messages_app ON messages (app_id, id);
CREATE INDEX messages_payload_expiry ON messages (payload_expires_at) WHERE payload IS NOT NULL;

-- The queue: one row per (message, endpoint) job. Fan-out adds scheduled ones; resend and
-- recover add manual ones, so a pair can have several rows and the greatest id is the current one.
CREATE TABLE deliveries (
  id              TEXT PRIMARY KEY,
  msg_id          TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
  app_id          TEXT NOT NULL,
  endpoint_id     TEXT NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
  status          TEXT NOT NULL CHECK (status IN ('success', 'pending', 'fail', 'sending')),
  trigger_type    TEXT NOT NULL CHECK (trigger_type IN ('scheduled', 'manual')),
  attempt_count   INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER,     -- NULL once final
  locked_until    INTEGER,     -- a worker's lease; expired leases are claimed again
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL
);
-- Claiming walks this index in due order; final deliveries (most rows) are not in it at all.
CREATE INDEX deliveries_due ON deliveries (next_attempt_at, id) WHERE status IN ('pending', 'sending');
CREATE INDEX deliveries_msg_endpoint ON deliveries (msg_id, endpoint_id, id);
CREATE INDEX deliveries_endpoint_msg ON deliveries (endpoint_id, msg_id, id);

CREATE TABLE attempts (
  id                   TEXT PRIMARY KEY,
  delivery_id          TEXT NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
  msg_id               TEXT NOT NULL,
  app_id               TEXT NOT NULL,
  endpoint_id          TEXT NOT NULL,
  url                  TEXT NOT NULL,
  response_status_code INTEGER NOT NULL,
  response             TEXT NOT NULL,
  response_duration_ms INTEGER NOT NULL,
  status               TEXT NOT NULL CHECK (status IN ('success', 'fail')),
  trigger_type         TEXT NOT NULL CHECK (trigger_type IN ('scheduled', 'manual')),
  attempted_at         INTEGER NOT NULL
);
CREATE INDEX attempts_app ON attempts (app_id, id);
CREATE INDEX attempts_msg ON attempts (msg_id, id);
CREATE INDEX attempts_endpoint ON attempts (endpoint_id, id);
-- Retention deletes the oldest attempts first.
CREATE INDEX attempts_time ON attempts (attempted_at);
CREATE INDEX attempts_delivery ON attempts (delivery_id);

-- Only the hash of a token is kept. app_id NULL = admin token.
CREATE TABLE api_tokens (
  id         TEXT PRIMARY KEY,
  token_hash TEXT NOT NULL UNIQUE,
  app_id     TEXT REFERENCES applications (id) ON DELETE CASCADE,
  created_at INTEGER NOT NULL,
  expires_at INTEGER
);
CREATE INDEX api_tokens_app ON api_tokens (app_id);

-- Cached 2xx responses keyed by the hash of (token, idempotency key).
CREATE TABLE idempotency_responses (
  key_hash     TEXT PRIMARY KEY,
  status_code  INTEGER NOT NULL,
  body         TEXT NOT NULL,
  content_type TEXT,
  expires_at   INTEGER NOT NULL
);
CREATE INDEX idempotency_responses_expiry ON idempotency_responses (expires_at);
