-- 0014: `tapwire listen` sessions, the PostgreSQL twin of sqlite/migrations/0014_listen_sessions.sql.
-- A session is a developer's CLI connected over a WebSocket and attached as a temporary endpoint of
-- the application; the row names that endpoint, the hash of the token that opened it, and when a
-- server process holding its socket last said so (last_seen_at), so every process can list live
-- sessions and remove the endpoint of one whose process vanished. Deleting the application deletes
-- the row (ON DELETE CASCADE); endpoints are soft-deleted, so deleteEndpoint deletes it itself.
-- source_id: the ingest source listened to, NULL for an application. event_types: NULL = every type.
CREATE TABLE listen_sessions (
  id           text COLLATE "C" PRIMARY KEY,
  app_id       text COLLATE "C" NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
  endpoint_id  text COLLATE "C" NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
  source_id    text COLLATE "C" REFERENCES ingest_sources (id) ON DELETE CASCADE,
  token_hash   text NOT NULL,
  forward_to   text NOT NULL,
  event_types  text[],
  client       text NOT NULL,
  created_at   bigint NOT NULL,
  last_seen_at bigint NOT NULL,
  detached_at  bigint
);
CREATE INDEX listen_sessions_last_seen ON listen_sessions (last_seen_at);
CREATE INDEX listen_sessions_app ON listen_sessions (app_id, created_at);
CREATE INDEX listen_sessions_endpoint ON listen_sessions (endpoint_id);
CREATE INDEX listen_sessions_source ON listen_sessions (source_id) WHERE source_id IS NOT NULL;
