-- 0014: `tapwire listen` sessions (domain/listen.ts). A session is a developer's CLI connected over a
-- WebSocket and attached as a temporary endpoint of the application (uid listen-<id>), whose
-- deliveries are pushed down the socket. The row is shared state: it names the session's endpoint,
-- the hash of the token that opened it (only that token may attach again), and when a server process
-- holding its socket last said so (last_seen_at, a heartbeat), so any process can list the live
-- sessions and remove the endpoint of one whose process vanished (last_seen_at too old).
-- The id is chosen by the CLI and kept across its reconnects. Deleting the application deletes the
-- row (ON DELETE CASCADE, through the endpoint too); endpoints are soft-deleted, so deleteEndpoint
-- deletes the session row itself. source_id: the ingest source listened to, NULL for an application.
-- event_types: JSON array, NULL = every event type.
CREATE TABLE listen_sessions (
  id           TEXT PRIMARY KEY,
  app_id       TEXT NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
  endpoint_id  TEXT NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
  source_id    TEXT REFERENCES ingest_sources (id) ON DELETE CASCADE,
  token_hash   TEXT NOT NULL,
  forward_to   TEXT NOT NULL,
  event_types  TEXT,
  client       TEXT NOT NULL,
  created_at   INTEGER NOT NULL,
  last_seen_at INTEGER NOT NULL,
  detached_at  INTEGER
);
-- The sweep of vanished sessions reads them by last_seen_at; the list is per application, newest first.
CREATE INDEX listen_sessions_last_seen ON listen_sessions (last_seen_at);
CREATE INDEX listen_sessions_app ON listen_sessions (app_id, created_at);
-- Deleting an endpoint or a source finds its session without a scan.
CREATE INDEX listen_sessions_endpoint ON listen_sessions (endpoint_id);
CREATE INDEX listen_sessions_source ON listen_sessions (source_id) WHERE source_id IS NOT NULL;
