-- 0001: the first schema, the PostgreSQL twin of sqlite/migrations/0001_init.sql (same number, same
-- tables, same columns). Migrations are append-only: never edit a shipped file, add 0002_….sql to
-- both backends.
--
-- Decisions:
-- - Times are bigint milliseconds since the epoch, as in SQLite: a Date round-trips to the
--   millisecond, comparisons are plain integer comparisons, and both backends map rows the same way.
-- - Ids and other sort keys are text COLLATE "C": ids are time-sortable KSUIDs in base62
--   (0-9A-Za-z), and pagination, "the latest delivery is the greatest id" and the `before/after`
--   id ranges all need byte order. A database created with a linguistic collation (en_US.UTF-8)
--   would otherwise sort 'a' before 'B' and break all three.
-- - Opaque JSON documents (metadata, headers, old secrets, schemas) are `json`, not `jsonb`: we never
--   query inside them, and `json` keeps them exactly as written (key order, `\u0000` escapes), like
--   SQLite's TEXT. The two lists we do filter on in SQL (event types and channels) are text[], so
--   fan-out matching is `= ANY(...)` / `&&`.
-- - The message payload is text: byte-for-byte as the sender submitted it.

CREATE TABLE applications (
  id            text COLLATE "C" PRIMARY KEY,
  uid           text COLLATE "C" UNIQUE,
  name          text NOT NULL,
  throttle_rate integer,
  metadata      json NOT NULL DEFAULT '{}',
  created_at    bigint NOT NULL,
  updated_at    bigint NOT NULL
);

-- Endpoints are soft-deleted (deleted_at set, uid cleared) so attempts keep pointing at them.
CREATE TABLE endpoints (
  id            text COLLATE "C" PRIMARY KEY,
  app_id        text COLLATE "C" NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
  uid           text COLLATE "C",
  url           text NOT NULL,
  description   text NOT NULL DEFAULT '',
  disabled      boolean NOT NULL DEFAULT false,
  event_types   text[],        -- NULL = every event type
  channels      text[],        -- NULL = not restricted to channels
  throttle_rate integer,
  version       integer NOT NULL DEFAULT 1,
  metadata      json NOT NULL DEFAULT '{}',
  secret        text NOT NULL,
  old_secrets   json NOT NULL DEFAULT '[]',  -- [{secret, expiresAt (epoch ms)}]
  headers       json NOT NULL DEFAULT '{}',  -- json keeps the order the headers are sent in
  created_at    bigint NOT NULL,
  updated_at    bigint NOT NULL,
  deleted_at    bigint
);
-- A uid is unique among the live endpoints of one application; deleting an endpoint frees it.
CREATE UNIQUE INDEX endpoints_app_uid ON endpoints (app_id, uid)
  WHERE deleted_at IS NULL AND uid IS NOT NULL;
-- Lists and fan-out read the endpoints of one application.
CREATE INDEX endpoints_app ON endpoints (app_id, id);

-- Event types are global to the server.
CREATE TABLE event_types (
  name         text COLLATE "C" PRIMARY KEY,
  description  text NOT NULL DEFAULT '',
  archived     boolean NOT NULL DEFAULT false,
  deprecated   boolean NOT NULL DEFAULT false,
  schemas      json,
  feature_flag text,
  created_at   bigint NOT NULL,
  updated_at   bigint NOT NULL
);

CREATE TABLE messages (
  id                 text COLLATE "C" PRIMARY KEY,
  app_id             text COLLATE "C" NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
  event_id           text COLLATE "C",
  event_type         text COLLATE "C" NOT NULL,
  payload            text,     -- byte-for-byte as submitted; NULL once expunged or expired
  channels           text[],
  created_at         bigint NOT NULL,
  payload_expires_at bigint NOT NULL
);
CREATE UNIQUE INDEX messages_app_event_id ON messages (app_id, event_id) WHERE event_id IS NOT NULL;
CREATE INDEX messages_app ON messages (app_id, id);
-- Payload expiry walks only the messages that still hold a payload, oldest expiry first.
CREATE INDEX messages_payload_expiry ON messages (payload_expires_at) WHERE payload IS NOT NULL;

-- The queue: one row per (message, endpoint) job. Fan-out adds scheduled ones; resend and
-- recover add manual ones, so a pair can have several rows and the greatest id is the current one.
--
-- fillfactor 80 leaves room on each page so that a claim (which only sets locked_until, a column
-- no index covers) is a HOT update: no new index entries for the hottest write of the system.
-- The table keeps every final delivery, so it grows large while the churn is at its small "open"
-- end; a lower autovacuum threshold keeps the dead row versions that claims leave behind in check.
CREATE TABLE deliveries (
  id              text COLLATE "C" PRIMARY KEY,
  msg_id          text COLLATE "C" NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
  app_id          text COLLATE "C" NOT NULL,
  endpoint_id     text COLLATE "C" NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
  status          text NOT NULL CHECK (status IN ('success', 'pending', 'fail', 'sending')),
  trigger_type    text NOT NULL CHECK (trigger_type IN ('scheduled', 'manual')),
  attempt_count   integer NOT NULL DEFAULT 0,
  next_attempt_at bigint,      -- NULL once final
  locked_until    bigint,      -- a worker's lease; expired leases are claimed again
  created_at      bigint NOT NULL,
  updated_at      bigint NOT NULL
) WITH (fillfactor = 80, autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02);
-- Claiming walks this index in due order (ORDER BY next_attempt_at, id … FOR UPDATE SKIP LOCKED);
-- final deliveries, which are most rows, are not in it at all, so it stays as small as the backlog.
-- locked_until is deliberately not indexed (see fillfactor above): leased rows are few and sit at
-- the front of this index, where the claim filters them out.
CREATE INDEX deliveries_due ON deliveries (next_attempt_at, id) WHERE status IN ('pending', 'sending');
-- "The latest delivery of each (message, endpoint)": destinations of a message, supersede on success.
CREATE INDEX deliveries_msg_endpoint ON deliveries (msg_id, endpoint_id, id);
-- The same, seen from the endpoint: attempted messages, stats, recover, failing an endpoint's deliveries.
CREATE INDEX deliveries_endpoint_msg ON deliveries (endpoint_id, msg_id, id);

CREATE TABLE attempts (
  id                   text COLLATE "C" PRIMARY KEY,
  delivery_id          text COLLATE "C" NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
  msg_id               text COLLATE "C" NOT NULL,
  app_id               text COLLATE "C" NOT NULL,
  endpoint_id          text COLLATE "C" NOT NULL,
  url                  text NOT NULL,
  response_status_code integer NOT NULL,
  response             text NOT NULL,
  response_duration_ms integer NOT NULL,
  status               text NOT NULL CHECK (status IN ('success', 'fail')),
  trigger_type         text NOT NULL CHECK (trigger_type IN ('scheduled', 'manual')),
  attempted_at         bigint NOT NULL
);
-- Attempt lists go through whichever of these matches the narrowest filter, newest id first.
CREATE INDEX attempts_app ON attempts (app_id, id);
CREATE INDEX attempts_msg ON attempts (msg_id, id);
CREATE INDEX attempts_endpoint ON attempts (endpoint_id, id);
-- Retention deletes the oldest attempts first, in small batches.
CREATE INDEX attempts_time ON attempts (attempted_at);
-- Deleting a delivery (application delete cascades) finds its attempts.
CREATE INDEX attempts_delivery ON attempts (delivery_id);

-- Only the hash of a token is kept. app_id NULL = admin token.
CREATE TABLE api_tokens (
  id         text COLLATE "C" PRIMARY KEY,
  token_hash text COLLATE "C" NOT NULL UNIQUE,
  app_id     text COLLATE "C" REFERENCES applications (id) ON DELETE CASCADE,
  created_at bigint NOT NULL,
  expires_at bigint
);
CREATE INDEX api_tokens_app ON api_tokens (app_id);

-- Cached 2xx responses keyed by the hash of (token, idempotency key).
CREATE TABLE idempotency_responses (
  key_hash     text COLLATE "C" PRIMARY KEY,
  status_code  integer NOT NULL,
  body         text NOT NULL,
  content_type text,
  expires_at   bigint NOT NULL
);
CREATE INDEX idempotency_responses_expiry ON idempotency_responses (expires_at);
