// The shared Store for running many Tapwire processes on many machines: PostgreSQL through a pg
// connection pool. Claims use FOR UPDATE SKIP LOCKED with a lease, wake-ups LISTEN/NOTIFY; every
// method mirrors SqliteStore's semantics exactly, so one contract suite runs against both.
import pg from 'pg';
import type { ClientConfig, CustomTypesConfig, Notification, PoolClient, PoolConfig, QueryResult, QueryResultRow } from 'pg';

import { idFloorAt, newId } from '../../domain/ids.js';
import { advanceReplay, failTask, replayStopReason, replayWindowOf, type BackgroundTask, type BackgroundTaskKind, type BackgroundTaskStatus } from '../../domain/background-tasks.js';
import type {
  Application,
  Attempt,
  Delivery,
  Endpoint,
  EventType,
  Message,
  MessageStatusName,
  OldSecret,
  TriggerTypeName,
} from '../../domain/types.js';
import { TapwireError } from '../../errors/tapwire-error.js';
import {
  attemptParams,
  endpointConflicts,
  mapOrNull,
  onceById,
  readMigrations,
  toAttempt,
  toDateOrNull,
  toDelivery,
  type AttemptRow,
  type DeliveryRow,
  type IdempotencyRow,
  type TokenRow,
} from '../rows.js';
import { claimRoundParams, MAX_CLAIM_ROUNDS, retryBudgetOf, THROTTLE_BURST_MS, UNLIMITED_ROOM } from '../claim-rules.js';
import type {
  AttemptBucket,
  AttemptCountsInput,
  AttemptedMessage,
  AttemptListQuery,
  ClaimDeliveriesInput,
  CompleteAttemptInput,
  CompleteAttemptResult,
  DeliveryJob,
  EndpointLatency,
  EndpointStats,
  IdempotentResponse,
  ListQuery,
  MessageDestination,
  MessageListQuery,
  NextDueInput,
  Page,
  QueueMessagesOptions,
  Store,
  StoreHealth,
  StoredToken,
  StoreLogger,
} from '../store.js';
import type { BackgroundTaskLease, BackgroundTaskListQuery } from '../store.js';

export interface PostgresStoreOptions {
  /**
   * `postgres://user:password@host:port/database?…` (or `postgresql://`). Any libpq-style parameter
   * pg understands may be given (`sslmode`, `application_name`, `options`…). One of our own:
   * `schema=NAME` keeps Tapwire's tables in that schema (created by `migrate()`), so several
   * installations (or test runs) can share one database. NAME: lowercase letters, digits and `_`.
   */
  url: string;
  /** Receives one line per applied migration and connection trouble. Default: silent. */
  logger?: StoreLogger;
  /**
   * Most connections this process opens (the pool; the LISTEN connection and `migrate()` use one
   * more each). Default 10. Size it so processes × poolSize stays under the server's
   * max_connections (100 by default) with room for administration.
   */
  poolSize?: number;
  /** How long to wait for a new connection (or a free one when the pool is busy). Default 5000 ms. */
  connectionTimeoutMs?: number;
  /** Idle pooled connections are closed after this long. Default 30000 ms. */
  idleTimeoutMs?: number;
  /**
   * Server-side limit for one statement (`statement_timeout`); a statement cut off reports
   * `store_unavailable`. Every Store method is a handful of indexed statements, so this only fires
   * when the database is overloaded or locked. Default 10000 ms, so a request never waits long for
   * its 503 when the network to the database is gone. Migrations run without it.
   */
  statementTimeoutMs?: number;
  /** `application_name` shown in pg_stat_activity (the LISTEN connection adds `-listener`). Default `tapwire`. */
  applicationName?: string;
}

/** How long a health probe waits for PostgreSQL before reporting it unavailable. */
const PING_TIMEOUT_MS = 2_000;

/** Defaults of {@link PostgresStoreOptions}. */
export const POSTGRES_DEFAULTS = {
  poolSize: 10,
  /**
   * Connections of the delivery worker's own pool (claims, attempt records), opened on a worker's
   * first claim: its statements never queue behind the API's, so a busy API cannot starve delivery.
   */
  deliveryPoolSize: 4,
  connectionTimeoutMs: 5_000,
  idleTimeoutMs: 30_000,
  statementTimeoutMs: 10_000,
  applicationName: 'tapwire',
  /** A transaction left open this long by a stuck caller is ended by the server, releasing its locks. */
  idleInTransactionTimeoutMs: 60_000,
  /** Probe a quiet connection after this long, so a dead server or network is noticed. */
  keepAliveInitialDelayMs: 10_000,
} as const;

/** Where the numbered `.sql` files live; the build copies this folder next to the compiled file. */
const MIGRATIONS_DIR = new URL('./migrations/', import.meta.url);

/**
 * pg_advisory_lock key held for a whole `migrate()` run ("tapwire\0" as a 64-bit integer). One key
 * for every schema: migrations are short, and a per-schema key could not cover two URLs naming
 * the same schema differently (`?schema=public` and none).
 */
const MIGRATION_LOCK_KEY = '8386107639313097984';

/** NOTIFY channel for "deliveries were queued". The payload is the schema, so listeners ignore other installations. */
const DELIVERIES_CHANNEL = 'tapwire_deliveries';

/** Sorts after every key we issue (ids are COLLATE "C"), so "before the end" needs no special-case statement. */
const KEY_MAX = '\u{10FFFF}';

/** Reconnect delays of the LISTEN connection: doubling from the first to the last, with jitter. */
const LISTENER_BACKOFF_MS = { first: 100, max: 10_000 } as const;

/** Schema names we accept in the URL: they go into SQL and a startup option unquoted-safe. */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

// Rows as pg returns them (bigint parsed to number, json parsed, text[] as arrays) ----------------

interface ApplicationRow {
  id: string;
  uid: string | null;
  name: string;
  throttle_rate: number | null;
  metadata: Record<string, string>;
  created_at: number;
  updated_at: number;
}

interface EndpointRow {
  id: string;
  app_id: string;
  uid: string | null;
  url: string;
  description: string;
  disabled: boolean;
  event_types: string[] | null;
  channels: string[] | null;
  throttle_rate: number | null;
  concurrency_limit: number | null;
  version: number;
  metadata: Record<string, string>;
  secret: string;
  old_secrets: { secret: string; expiresAt: number }[];
  headers: Record<string, string>;
  created_at: number;
  updated_at: number;
  deleted_at: number | null;
  failing_since: number | null;
}

interface EventTypeRow {
  name: string;
  description: string;
  archived: boolean;
  deprecated: boolean;
  schemas: Record<string, unknown> | null;
  feature_flag: string | null;
  created_at: number;
  updated_at: number;
}

interface MessageRow {
  id: string;
  app_id: string;
  event_id: string | null;
  event_type: string;
  payload: string | null;
  channels: string[] | null;
  created_at: number;
  payload_expires_at: number;
}

// SQL ---------------------------------------------------------------------------------------------
// Parameters are written `@name` and compiled to `$1…$n` once per statement. Columns are listed,
// never `*`: statements are prepared per connection, and a later migration adding a column must not
// break running processes ("cached plan must not change result type"). List statements are written
// once with `{cmp}` / `{dir}` and prepared twice, scanning up (`> @cursor … ASC`) and down
// (`< @cursor … DESC`), exactly as in SqliteStore.

const APPLICATION_COLUMNS = ['id', 'uid', 'name', 'throttle_rate', 'metadata', 'created_at', 'updated_at'];
const ENDPOINT_COLUMNS = ['id', 'app_id', 'uid', 'url', 'description', 'disabled', 'event_types', 'channels', 'throttle_rate', 'version',
  'metadata', 'secret', 'old_secrets', 'headers', 'created_at', 'updated_at', 'deleted_at', 'failing_since', 'concurrency_limit'];
const EVENT_TYPE_COLUMNS = ['name', 'description', 'archived', 'deprecated', 'schemas', 'feature_flag', 'created_at', 'updated_at'];
const MESSAGE_COLUMNS = ['id', 'app_id', 'event_id', 'event_type', 'payload', 'channels', 'created_at', 'payload_expires_at'];
const DELIVERY_COLUMNS = ['id', 'msg_id', 'app_id', 'endpoint_id', 'status', 'trigger_type', 'attempt_count', 'next_attempt_at', 'locked_until',
  'created_at', 'updated_at', 'parked_due_at'];
const ATTEMPT_COLUMNS = ['id', 'delivery_id', 'msg_id', 'app_id', 'endpoint_id', 'url', 'response_status_code', 'response',
  'response_duration_ms', 'status', 'trigger_type', 'attempted_at'];

/** `a.x, a.y, …` for a column list, optionally qualified by a table alias. */
function columns(list: string[], alias?: string): string {
  return list.map((column) => (alias ? `${alias}.${column}` : column)).join(', ');
}

const APPLICATION = columns(APPLICATION_COLUMNS);
const ENDPOINT = columns(ENDPOINT_COLUMNS);
const EVENT_TYPE = columns(EVENT_TYPE_COLUMNS);
const MESSAGE = columns(MESSAGE_COLUMNS);
const DELIVERY = columns(DELIVERY_COLUMNS);
const ATTEMPT = columns(ATTEMPT_COLUMNS);
const BACKGROUND_TASK = columns(['id', 'app_id', 'task', 'status', 'data', 'cursor', 'lease_owner', 'locked_until', 'created_at', 'updated_at']);

/**
 * Fan-out matching, shared by fan-out and replay-missing: endpoint `e`'s event-type filter admits the
 * type of message `m` and its channel filter overlaps the message's channels. NULL (not false) when
 * the message has no channels and the endpoint has some: `&& NULL` is not true.
 */
function endpointAccepts(m: string): string {
  return `(e.event_types IS NULL OR ${m}.event_type = ANY (e.event_types))
               AND (e.channels IS NULL OR e.channels && ${m}.channels)`;
}

/**
 * The latest delivery of its (message, endpoint) pair; used wherever "current state" is shown.
 * An anti-join on deliveries_msg_endpoint (msg_id, endpoint_id, id): no newer row for the pair.
 */
const IS_LATEST_DELIVERY = `NOT EXISTS (
  SELECT 1 FROM deliveries d2 WHERE d2.msg_id = d.msg_id AND d2.endpoint_id = d.endpoint_id AND d2.id > d.id)`;

/**
 * "Deliveries were queued", sent on commit of the statement's transaction. The payload is the
 * schema, so a listener ignores installations that share the database under other schemas.
 */
/** Delivery ids made for a message before knowing how many endpoints match (see insertMessageWithFanOut). */
const MIN_DELIVERY_IDS = 4;

/**
 * A recursive CTE (inside WITH RECURSIVE) listing the endpoints that have parked deliveries: a loose
 * index scan of deliveries_parked, one probe per endpoint instead of reading every parked row.
 */
const PARKED_ENDPOINTS = `parked_endpoints (endpoint_id) AS (
        (SELECT endpoint_id FROM deliveries
         WHERE status IN ('pending', 'sending') AND parked_due_at IS NOT NULL
         ORDER BY endpoint_id LIMIT 1)
        UNION ALL
        SELECT (SELECT d.endpoint_id FROM deliveries d
                WHERE d.status IN ('pending', 'sending') AND d.parked_due_at IS NOT NULL AND d.endpoint_id > p.endpoint_id
                ORDER BY d.endpoint_id LIMIT 1)
        FROM parked_endpoints p WHERE p.endpoint_id IS NOT NULL)`;

const NOTIFY_DELIVERIES_QUEUED = `SELECT pg_notify('${DELIVERIES_CHANNEL}', current_schema())`;

/** Optional message filters shared by the message, attempt and attempted-message lists. */
const MESSAGE_FILTERS = `
  AND (@channel::text IS NULL OR @channel = ANY (m.channels))
  AND (@eventTypes::text[] IS NULL OR m.event_type = ANY (@eventTypes))`;

const SQL = {
  insertApplication: `
    INSERT INTO applications (id, uid, name, throttle_rate, metadata, created_at, updated_at)
    VALUES (@id, @uid, @name, @throttleRate, @metadata::json, @createdAt, @updatedAt)
    RETURNING ${APPLICATION}`,
  // An id match wins over a uid match, should some uid happen to equal another application's id.
  selectApplicationByIdOrUid: `
    SELECT ${APPLICATION} FROM applications WHERE id = @key OR uid = @key
    ORDER BY id = @key DESC LIMIT 1`,
  updateApplication: `
    UPDATE applications
    SET uid = @uid, name = @name, throttle_rate = @throttleRate, metadata = @metadata::json, updated_at = @updatedAt
    WHERE id = @id
    RETURNING ${APPLICATION}`,
  // Endpoints, messages, deliveries, attempts and tokens go with it through ON DELETE CASCADE.
  deleteApplication: `DELETE FROM applications WHERE id = @id`,
  // Messages queued with a state change check their application first: a deleted one drops them
  // instead of failing the change. KEY SHARE keeps it from being deleted until we commit.
  lockApplication: `SELECT id FROM applications WHERE id = @id FOR KEY SHARE`,
  listApplications: `
    SELECT ${APPLICATION} FROM applications WHERE id {cmp} @cursor ORDER BY id {dir} LIMIT @limit`,

  insertEndpoint: `
    INSERT INTO endpoints (id, app_id, uid, url, description, disabled, event_types, channels, throttle_rate,
                           concurrency_limit, version, metadata, secret, old_secrets, headers, created_at, updated_at)
    VALUES (@id, @appId, @uid, @url, @description, @disabled, @eventTypes::text[], @channels::text[], @throttleRate,
            @concurrencyLimit, @version, @metadata::json, @secret, @oldSecrets::json, @headers::json, @createdAt, @updatedAt)
    RETURNING ${ENDPOINT}`,
  selectEndpointByIdOrUid: `
    SELECT ${ENDPOINT} FROM endpoints
    WHERE app_id = @appId AND deleted_at IS NULL AND (id = @key OR uid = @key)
    ORDER BY id = @key DESC LIMIT 1`,
  /** Including deleted ones: a queued delivery must learn that its endpoint is gone. */
  selectEndpointsByIds: `SELECT ${ENDPOINT} FROM endpoints WHERE id = ANY (@ids::text[])`,
  updateEndpoint: `
    UPDATE endpoints
    SET uid = @uid, url = @url, description = @description, disabled = @disabled, event_types = @eventTypes::text[],
        channels = @channels::text[], throttle_rate = @throttleRate, concurrency_limit = @concurrencyLimit, version = @version,
        metadata = @metadata::json, secret = @secret, old_secrets = @oldSecrets::json, headers = @headers::json, updated_at = @updatedAt,
        -- Re-enabling starts health tracking afresh (SET reads the row's values before the update).
        failing_since = CASE WHEN disabled AND NOT @disabled THEN NULL ELSE failing_since END
    WHERE id = @id AND app_id = @appId AND deleted_at IS NULL
    RETURNING ${ENDPOINT}`,
  // Soft delete and failing the endpoint's open deliveries are one statement (one transaction).
  deleteEndpoint: `
    WITH deleted AS (
      UPDATE endpoints SET deleted_at = @now::bigint, uid = NULL, updated_at = @now
      WHERE id = @id AND app_id = @appId AND deleted_at IS NULL
      RETURNING id
    ), failed AS (
      UPDATE deliveries SET status = 'fail', next_attempt_at = NULL, locked_until = NULL, updated_at = @now
      WHERE endpoint_id IN (SELECT id FROM deleted) AND status IN ('pending', 'sending')
    )
    SELECT count(*) AS deleted FROM deleted`,
  listEndpoints: `
    SELECT ${ENDPOINT} FROM endpoints
    WHERE app_id = @appId AND deleted_at IS NULL AND id {cmp} @cursor
    ORDER BY id {dir} LIMIT @limit`,

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
  selectEventType: `SELECT ${EVENT_TYPE} FROM event_types WHERE name = @name`,
  deleteEventType: `DELETE FROM event_types WHERE name = @name`,
  listEventTypes: `
    SELECT ${EVENT_TYPE} FROM event_types
    WHERE (@includeArchived::boolean OR NOT archived) AND name {cmp} @cursor
    ORDER BY name {dir} LIMIT @limit`,

  // The message and, read in the same statement, the endpoints it fans out to: live, enabled
  // endpoints whose event-type filter admits the type and whose channel filter overlaps the
  // message's channels (a message without channels never reaches a channel endpoint: `&& NULL` is
  // not true). With @endpointIds (send-example) only those, still only live and enabled ones.
  insertMessage: `
    WITH inserted AS (
      INSERT INTO messages (id, app_id, event_id, event_type, payload, channels, created_at, payload_expires_at)
      VALUES (@id, @appId, @eventId, @eventType, @payload, @channels::text[], @createdAt, @payloadExpiresAt)
      RETURNING ${MESSAGE}
    )
    SELECT inserted.*, ARRAY(
      SELECT e.id FROM endpoints e
      WHERE e.app_id = inserted.app_id AND e.deleted_at IS NULL AND NOT e.disabled
        AND CASE WHEN @endpointIds::text[] IS NULL
              THEN ${endpointAccepts('inserted')}
              ELSE e.id = ANY (@endpointIds)
            END
      ORDER BY e.id) AS endpoint_ids
    FROM inserted`,
  // The usual accept in one round trip and one implicit transaction: the message and its
  // deliveries (the wake-up follows, see announceQueued). Delivery ids come pre-made in @deliveryIds (KSUIDs are made in Node); an
  // application with more matching endpoints than ids given makes the id NULL, the statement fails
  // with not_null_violation as a whole, and createMessage retries with exactly as many ids.
  insertMessageWithFanOut: `
    WITH inserted AS (
      INSERT INTO messages (id, app_id, event_id, event_type, payload, channels, created_at, payload_expires_at)
      VALUES (@id, @appId, @eventId, @eventType, @payload, @channels::text[], @createdAt, @payloadExpiresAt)
      RETURNING ${MESSAGE}
    ), targets AS (
      SELECT e.id AS endpoint_id, row_number() OVER (ORDER BY e.id) AS n
      FROM endpoints e, inserted
      WHERE e.app_id = inserted.app_id AND e.deleted_at IS NULL AND NOT e.disabled
        AND CASE WHEN @endpointIds::text[] IS NULL
              THEN ${endpointAccepts('inserted')}
              ELSE e.id = ANY (@endpointIds)
            END
    ), queued AS (
      INSERT INTO deliveries (id, msg_id, app_id, endpoint_id, status, trigger_type, attempt_count,
                              next_attempt_at, locked_until, created_at, updated_at)
      SELECT (@deliveryIds::text[])[t.n], inserted.id, inserted.app_id, t.endpoint_id, 'pending', 'scheduled', 0,
             @now::bigint, NULL, @now, @now
      FROM targets t, inserted
      RETURNING ${DELIVERY}
    )
    SELECT inserted.*,
      (SELECT coalesce(json_agg(q ORDER BY q.id), '[]'::json) FROM queued q) AS deliveries
    FROM inserted`,
  // Several accepts in one statement and one commit (see createMessage): the same as
  // insertMessageWithFanOut, for each row of a JSON array. Any failure (an eventId taken, an
  // application gone, too few delivery ids) fails all of them; createMessage then runs each alone.
  insertMessagesWithFanOut: `
    WITH input AS (
      SELECT * FROM json_to_recordset(@rows::json) AS x(
        id text, app_id text, event_id text, event_type text, payload text, channels text[],
        created_at bigint, payload_expires_at bigint, endpoint_ids text[], delivery_ids text[], now bigint)
    ), inserted AS (
      INSERT INTO messages (id, app_id, event_id, event_type, payload, channels, created_at, payload_expires_at)
      SELECT id, app_id, event_id, event_type, payload, channels, created_at, payload_expires_at FROM input
      RETURNING ${MESSAGE}
    ), targets AS (
      SELECT m.id AS msg_id, e.id AS endpoint_id, row_number() OVER (PARTITION BY m.id ORDER BY e.id) AS n
      FROM input m JOIN endpoints e ON e.app_id = m.app_id
      WHERE e.deleted_at IS NULL AND NOT e.disabled
        AND CASE WHEN m.endpoint_ids IS NULL
              THEN ${endpointAccepts('m')}
              ELSE e.id = ANY (m.endpoint_ids)
            END
    ), queued AS (
      INSERT INTO deliveries (id, msg_id, app_id, endpoint_id, status, trigger_type, attempt_count,
                              next_attempt_at, locked_until, created_at, updated_at)
      SELECT m.delivery_ids[t.n], m.id, m.app_id, t.endpoint_id, 'pending', 'scheduled', 0, m.now, NULL, m.now, m.now
      FROM targets t JOIN input m ON m.id = t.msg_id
      RETURNING ${DELIVERY}
    )
    SELECT inserted.*,
      (SELECT coalesce(json_agg(q ORDER BY q.id), '[]'::json) FROM queued q WHERE q.msg_id = inserted.id) AS deliveries
    FROM inserted`,
  // The accept's wake-up, sent after its commit (see announceQueued).
  notifyDeliveriesQueued: NOTIFY_DELIVERIES_QUEUED,
  selectMessageByIdOrEventId: `
    SELECT ${MESSAGE} FROM messages WHERE app_id = @appId AND (id = @key OR event_id = @key)
    ORDER BY id = @key DESC LIMIT 1`,
  selectMessagesByIds: `SELECT ${MESSAGE} FROM messages WHERE id = ANY (@ids::text[])`,
  listMessages: `
    SELECT ${columns(MESSAGE_COLUMNS, 'm')} FROM messages m
    WHERE m.app_id = @appId AND m.id {cmp} @cursor
      AND (@before::bigint IS NULL OR m.created_at < @before)
      AND (@after::bigint IS NULL OR m.created_at > @after)
      ${MESSAGE_FILTERS}
      AND (@status::text IS NULL OR EXISTS (
        SELECT 1 FROM deliveries d JOIN endpoints e ON e.id = d.endpoint_id
        WHERE d.msg_id = m.id AND d.status = @status AND e.deleted_at IS NULL AND ${IS_LATEST_DELIVERY}))
    ORDER BY m.id {dir} LIMIT @limit`,
  expungePayload: `UPDATE messages SET payload = NULL WHERE app_id = @appId AND id = @id`,
  // Retention works in bounded batches and skips rows another transaction holds, so it never
  // waits behind (or stalls) the API and the workers; what it skips, the next round takes.
  expirePayloads: `
    UPDATE messages SET payload = NULL
    WHERE id IN (
      SELECT id FROM messages WHERE payload IS NOT NULL AND payload_expires_at <= @now
      ORDER BY payload_expires_at LIMIT @limit
      FOR UPDATE SKIP LOCKED)`,
  pruneAttempts: `
    DELETE FROM attempts
    WHERE id IN (
      SELECT id FROM attempts WHERE attempted_at < @before
      ORDER BY attempted_at LIMIT @limit
      FOR UPDATE SKIP LOCKED)`,
  listMessageDestinations: `
    SELECT ${columns(DELIVERY_COLUMNS, 'd')} FROM deliveries d JOIN endpoints e ON e.id = d.endpoint_id
    WHERE d.msg_id = @msgId AND d.app_id = @appId AND e.deleted_at IS NULL
      AND ${IS_LATEST_DELIVERY}
      AND d.endpoint_id {cmp} @cursor
    ORDER BY d.endpoint_id {dir} LIMIT @limit`,
  listAttemptedMessages: `
    SELECT ${columns(DELIVERY_COLUMNS, 'd')} FROM deliveries d JOIN messages m ON m.id = d.msg_id
    WHERE d.endpoint_id = @endpointId AND d.app_id = @appId
      AND ${IS_LATEST_DELIVERY}
      AND d.msg_id {cmp} @cursor
      AND (@status::text IS NULL OR d.status = @status)
      AND (@before::bigint IS NULL OR m.created_at < @before)
      AND (@after::bigint IS NULL OR m.created_at > @after)
      ${MESSAGE_FILTERS}
    ORDER BY d.msg_id {dir} LIMIT @limit`,

  // Fan-out, recover: many deliveries in one statement. Ids are made by the caller (time-sortable
  // KSUIDs: "the latest delivery is the greatest id" must hold across both backends).
  // pg_notify is queued with the rows and sent when the transaction commits, so listeners hear of
  // deliveries only once they can be claimed; as an uncorrelated subquery it runs once per
  // statement (and PostgreSQL folds identical notifications of one transaction into one).
  insertDeliveries: `
    WITH inserted AS (
      INSERT INTO deliveries (id, msg_id, app_id, endpoint_id, status, trigger_type, attempt_count,
                              next_attempt_at, locked_until, created_at, updated_at)
      SELECT t.id, t.msg_id, @appId, t.endpoint_id, 'pending', @triggerType, 0, @now::bigint, NULL, @now, @now
      FROM unnest(@ids::text[], @msgIds::text[], @endpointIds::text[]) AS t (id, msg_id, endpoint_id)
      RETURNING ${DELIVERY}
    )
    SELECT inserted.*, (${NOTIFY_DELIVERIES_QUEUED}) AS notified FROM inserted`,
  // A manual delivery is only queued when both the message and a live endpoint belong to the app.
  insertManualDelivery: `
    WITH inserted AS (
      INSERT INTO deliveries (id, msg_id, app_id, endpoint_id, status, trigger_type, attempt_count,
                              next_attempt_at, locked_until, created_at, updated_at)
      SELECT @id, m.id, m.app_id, e.id, 'pending', 'manual', 0, @now::bigint, NULL, @now, @now
      FROM messages m JOIN endpoints e ON e.app_id = m.app_id
      WHERE m.id = @msgId AND m.app_id = @appId AND e.id = @endpointId AND e.deleted_at IS NULL
      RETURNING ${DELIVERY}
    )
    SELECT inserted.*, (${NOTIFY_DELIVERIES_QUEUED}) AS notified FROM inserted`,
  // Two recovers of one endpoint at once would both see the same failures and queue each twice;
  // the second waits here, then (READ COMMITTED: a fresh snapshot per statement) sees the first's.
  lockEndpointForRecover: `
    SELECT id FROM endpoints WHERE id = @endpointId AND app_id = @appId AND deleted_at IS NULL
    FOR NO KEY UPDATE`,
  selectRecoverableMessages: `
    SELECT d.msg_id FROM deliveries d
      JOIN messages m ON m.id = d.msg_id
    WHERE d.endpoint_id = @endpointId AND d.app_id = @appId
      AND m.created_at >= @since AND m.created_at < @until
      AND d.status = 'fail'
      AND ${IS_LATEST_DELIVERY}
    ORDER BY d.msg_id`,
  // One statement (one round trip) runs a claim round: it leases a batch, parks what must wait for
  // its endpoint and moves the endpoints' throttles on. SKIP LOCKED is what lets many workers on many
  // machines claim at once: a row another claimer (or a completing attempt) has locked is passed over
  // instead of waited on, so claimers never queue behind each other and never both take a row. A row
  // whose lease another claimer committed after our snapshot is re-checked under its lock (READ
  // COMMITTED re-evaluates the WHERE), sees the new locked_until and drops out.
  //
  // Candidates, oldest due first: a window of due deliveries (deliveries_due), the first attempts
  // (deliveries_first_due, read only when the retry budget may bind) and, for each endpoint with
  // parked deliveries and room, as many of those as it has room for. An endpoint's room is the least
  // of its free slots (its limit minus its leases, counted on deliveries_leased) and what its
  // throttle allows now (GCRA, see migration 0002). The lease count is read in this statement's
  // snapshot, so it only counts for an endpoint whose row we lock (SKIP LOCKED: one claimer at a
  // time per endpoint) and whose claim_seq is still the one in our snapshot: then no claim has
  // leased its deliveries since (every claim that takes some bumps it). Others wait for a later
  // claim. An endpoint without limits is neither locked nor bumped. Per endpoint, candidates past its room are parked; the others are taken in due order up
  // to @limit, retries only up to @maxRetries. Status is left alone; only completeAttempt moves it.
  // SqliteStore applies the same rules (claim-rules.ts) through smaller statements.
  claimDueDeliveries: `
    WITH RECURSIVE
      ${PARKED_ENDPOINTS},
      ready AS MATERIALIZED (
        SELECT id, endpoint_id, next_attempt_at AS due_at, attempt_count FROM deliveries
        WHERE status IN ('pending', 'sending') AND next_attempt_at <= @now::bigint
          AND (locked_until IS NULL OR locked_until <= @now)
        ORDER BY next_attempt_at, id LIMIT @window
        FOR UPDATE SKIP LOCKED),
      ready_first AS MATERIALIZED (
        SELECT id, endpoint_id, next_attempt_at AS due_at, attempt_count FROM deliveries
        WHERE status IN ('pending', 'sending') AND attempt_count = 0 AND next_attempt_at <= @now
          AND (locked_until IS NULL OR locked_until <= @now)
        ORDER BY next_attempt_at, id LIMIT @firstWindow
        FOR UPDATE SKIP LOCKED),
      seen_endpoints AS MATERIALIZED (
        SELECT id, claim_seq, throttle_rate, throttle_tat, COALESCE(concurrency_limit, @defaultConcurrency::integer) AS concurrency
        FROM endpoints
        WHERE id IN (SELECT endpoint_id FROM ready UNION SELECT endpoint_id FROM ready_first
                     UNION SELECT endpoint_id FROM parked_endpoints)),
      -- An endpoint without limits needs no lock (nor a claim_seq bump): any claimer may take its deliveries.
      locked_endpoints AS MATERIALIZED (
        SELECT id, claim_seq FROM endpoints
        WHERE id IN (SELECT id FROM seen_endpoints WHERE concurrency IS NOT NULL OR throttle_rate IS NOT NULL)
        FOR NO KEY UPDATE SKIP LOCKED),
      limits AS (
        SELECT id, throttle_rate, concurrency, GREATEST(COALESCE(throttle_tat, @now), @now) AS throttle_from,
               1000.0::float8 / throttle_rate AS interval_ms,
               (GREATEST(1, floor(throttle_rate * @burstMs::integer / 1000.0::float8)) - 1) * 1000.0::float8 / throttle_rate AS tolerance_ms
        FROM seen_endpoints s
        WHERE (concurrency IS NULL AND throttle_rate IS NULL)
           OR EXISTS (SELECT 1 FROM locked_endpoints l WHERE l.id = s.id AND l.claim_seq = s.claim_seq)),
      schedules AS MATERIALIZED (
        SELECT id, LEAST(
          CASE WHEN concurrency IS NULL THEN ${UNLIMITED_ROOM}
               ELSE GREATEST(0, concurrency - (SELECT count(*) FROM deliveries x
                                               WHERE x.endpoint_id = limits.id AND x.status IN ('pending', 'sending')
                                                 AND x.locked_until IS NOT NULL AND x.locked_until > @now))::integer END,
          CASE WHEN throttle_rate IS NULL THEN ${UNLIMITED_ROOM}
               WHEN @now + tolerance_ms < throttle_from THEN 0
               ELSE floor((@now + tolerance_ms - throttle_from) / interval_ms + 1e-9)::integer + 1 END) AS room
        FROM limits),
      heads AS (
        SELECT h.id, h.endpoint_id, h.due_at, h.attempt_count
        FROM schedules s
        CROSS JOIN LATERAL (
          SELECT d.id, d.endpoint_id, d.parked_due_at AS due_at, d.attempt_count FROM deliveries d
          WHERE d.endpoint_id = s.id AND d.status IN ('pending', 'sending') AND d.parked_due_at IS NOT NULL
          ORDER BY d.parked_due_at, d.id LIMIT LEAST(s.room, @limit::integer)
          FOR UPDATE SKIP LOCKED) h
        WHERE s.room > 0 AND s.id IN (SELECT endpoint_id FROM parked_endpoints)),
      candidates AS (
        SELECT id, endpoint_id, due_at, attempt_count, false AS parked FROM ready
        UNION SELECT id, endpoint_id, due_at, attempt_count, false FROM ready_first
        UNION ALL SELECT id, endpoint_id, due_at, attempt_count, true FROM heads),
      budgeted AS (
        SELECT *, CASE WHEN attempt_count > 0
                       THEN row_number() OVER (PARTITION BY attempt_count > 0 ORDER BY due_at, id) END AS retry_rank
        FROM candidates),
      ranked AS MATERIALIZED (
        SELECT b.id, b.endpoint_id, b.due_at, b.parked, s.room,
               row_number() OVER (PARTITION BY b.endpoint_id ORDER BY b.due_at, b.id) AS endpoint_rank
        FROM budgeted b JOIN schedules s ON s.id = b.endpoint_id
        WHERE b.retry_rank IS NULL OR b.retry_rank <= @maxRetries),
      chosen AS MATERIALIZED (
        SELECT id, endpoint_id FROM ranked WHERE endpoint_rank <= room
        ORDER BY due_at, id LIMIT @limit),
      claimed_endpoints AS (
        UPDATE endpoints e
        SET claim_seq = e.claim_seq + 1,
            throttle_tat = CASE WHEN e.throttle_rate IS NULL THEN e.throttle_tat
                                ELSE GREATEST(COALESCE(e.throttle_tat, @now), @now) + c.n * 1000.0::float8 / e.throttle_rate END
        FROM (SELECT endpoint_id, count(*) AS n FROM chosen GROUP BY endpoint_id) c
        WHERE e.id = c.endpoint_id AND e.id IN (SELECT id FROM locked_endpoints)),
      parked AS (
        UPDATE deliveries SET parked_due_at = next_attempt_at, next_attempt_at = NULL
        WHERE id IN (SELECT id FROM ranked WHERE NOT parked AND endpoint_rank > room)
        RETURNING id),
      leased AS (
        UPDATE deliveries
        SET locked_until = @lockedUntil, next_attempt_at = COALESCE(next_attempt_at, parked_due_at), parked_due_at = NULL
        WHERE id IN (SELECT id FROM chosen)
        RETURNING ${DELIVERY})
    SELECT leased.*, p.n AS parked_count FROM (SELECT count(*) AS n FROM parked) p LEFT JOIN leased ON true`,
  // The whole of completeAttempt is this one statement (one transaction, one round trip): record
  // the attempt, move the delivery, and on success end older waiting deliveries of the same message
  // to the same endpoint (a resend got through first; leased ones are left to their own attempt),
  // and track the endpoint's health. A missing delivery fails the attempt's foreign key → not_found.
  // Health writes only when something changes: a success clears failing_since, a failure sets it
  // when unset, and 410 (@disableEndpoint) or an endpoint still failing since the time the worker
  // found old enough disables it. Disabled and deleted endpoints are left alone, so an attempt that
  // ends after a disable cannot start a new streak. endpoint_disabled: this statement disabled it.
  completeAttempt: `
    WITH recorded AS (
      INSERT INTO attempts (id, delivery_id, msg_id, app_id, endpoint_id, url, response_status_code, response,
                            response_duration_ms, status, trigger_type, attempted_at)
      VALUES (@id, @deliveryId, @msgId, @appId, @endpointId, @url, @responseStatusCode, @response,
              @responseDurationMs, @attemptStatus, @triggerType, @attemptedAt)
      RETURNING id
    ), finished AS (
      UPDATE deliveries
      SET attempt_count = attempt_count + 1, status = @status::text, next_attempt_at = @nextAttemptAt::bigint,
          locked_until = NULL, updated_at = @now::bigint
      WHERE id = @deliveryId
      RETURNING id
    ), superseded AS (
      UPDATE deliveries
      SET status = 'success', next_attempt_at = NULL, updated_at = @now
      WHERE @status = 'success' AND msg_id = @msgId AND endpoint_id = @endpointId AND id < @deliveryId
        AND status IN ('pending', 'sending') AND (locked_until IS NULL OR locked_until <= @now)
    ), health AS (
      UPDATE endpoints
      SET failing_since = CASE WHEN @health::text = 'success' THEN NULL ELSE COALESCE(failing_since, @now) END,
          disabled = @disableEndpoint::boolean OR COALESCE(failing_since = @autoDisableFailingSince::bigint, false),
          updated_at = CASE WHEN @disableEndpoint OR COALESCE(failing_since = @autoDisableFailingSince, false)
                            THEN @now ELSE updated_at END
      WHERE id = @endpointId AND NOT disabled AND deleted_at IS NULL
        AND CASE @health
              WHEN 'success' THEN failing_since IS NOT NULL
              WHEN 'failure' THEN failing_since IS NULL OR @disableEndpoint OR COALESCE(failing_since = @autoDisableFailingSince, false)
              ELSE @disableEndpoint
            END
      RETURNING disabled
    )
    SELECT (SELECT count(*) FROM recorded) AS recorded, (SELECT count(*) FROM finished) AS finished,
           EXISTS (SELECT 1 FROM health WHERE disabled) AS endpoint_disabled`,
  // completeAttempt for many attempts in one statement (see completeAttempts): the same four
  // changes, from a JSON array of rows. Only attempts that queue nothing and cannot disable their
  // endpoint come here, and never a success and a failure of the same endpoint together, so the
  // health update is one per endpoint: a success clears the streak, failures start it at the first.
  // Every part reads the snapshot from before the statement, when the attempted deliveries are all
  // still leased: supersede (which skips leased rows) never touches a row "finished" updates.
  completeAttempts: `
    WITH input AS (
      SELECT * FROM json_to_recordset(@rows::json) AS x(
        id text, delivery_id text, msg_id text, app_id text, endpoint_id text, url text,
        response_status_code integer, response text, response_duration_ms integer, attempt_status text,
        trigger_type text, attempted_at bigint, status text, next_attempt_at bigint, health text, now bigint)
    ), recorded AS (
      INSERT INTO attempts (id, delivery_id, msg_id, app_id, endpoint_id, url, response_status_code, response,
                            response_duration_ms, status, trigger_type, attempted_at)
      SELECT id, delivery_id, msg_id, app_id, endpoint_id, url, response_status_code, response,
             response_duration_ms, attempt_status, trigger_type, attempted_at
      FROM input
      RETURNING id
    ), finished AS (
      UPDATE deliveries d
      SET attempt_count = d.attempt_count + 1, status = i.status, next_attempt_at = i.next_attempt_at,
          locked_until = NULL, updated_at = i.now
      FROM input i
      WHERE d.id = i.delivery_id
      RETURNING d.id
    ), superseded AS (
      UPDATE deliveries d
      SET status = 'success', next_attempt_at = NULL, updated_at = i.now
      FROM input i
      WHERE i.status = 'success' AND d.msg_id = i.msg_id AND d.endpoint_id = i.endpoint_id AND d.id < i.delivery_id
        AND d.status IN ('pending', 'sending') AND (d.locked_until IS NULL OR d.locked_until <= i.now)
    ), health AS (
      UPDATE endpoints e
      SET failing_since = CASE WHEN h.health = 'success' THEN NULL ELSE COALESCE(e.failing_since, h.first_at) END
      FROM (SELECT endpoint_id, min(health) AS health, min(now) AS first_at
            FROM input WHERE health <> 'none' GROUP BY endpoint_id) h
      WHERE e.id = h.endpoint_id AND NOT e.disabled AND e.deleted_at IS NULL
        AND CASE h.health WHEN 'success' THEN e.failing_since IS NOT NULL ELSE e.failing_since IS NULL END
    )
    SELECT id FROM finished`,
  // min(max(next_attempt_at, locked_until)) over waiting deliveries, without reading all of them:
  // a row not leased beyond its due time is claimable at next_attempt_at, and the first such row in
  // deliveries_due order is the earliest; a row leased beyond its due time can only come earlier if
  // it is due before that one, and those (leased rows) are few and at the front of the index.
  // Parked deliveries count per endpoint, from when it may start another attempt: a free slot (else
  // its first lease end) and its throttle's next start (throttle_tat less the burst tolerance).
  // Without @now, from their due time.
  selectNextDueAt: `
    WITH RECURSIVE
      ${PARKED_ENDPOINTS},
      free AS (
        SELECT next_attempt_at AS due FROM deliveries
        WHERE status IN ('pending', 'sending') AND next_attempt_at IS NOT NULL
          AND (locked_until IS NULL OR locked_until <= next_attempt_at)
        ORDER BY next_attempt_at LIMIT 1),
      parked AS (
        SELECT min(GREATEST(
          (SELECT min(h.parked_due_at) FROM deliveries h
           WHERE h.endpoint_id = e.id AND h.status IN ('pending', 'sending') AND h.parked_due_at IS NOT NULL),
          CASE WHEN @now::bigint IS NULL OR COALESCE(e.concurrency_limit, @defaultConcurrency::integer) IS NULL THEN NULL
               WHEN (SELECT count(*) FROM deliveries x
                     WHERE x.endpoint_id = e.id AND x.status IN ('pending', 'sending')
                       AND x.locked_until IS NOT NULL AND x.locked_until > @now)
                    < COALESCE(e.concurrency_limit, @defaultConcurrency) THEN NULL
               ELSE (SELECT min(x.locked_until) FROM deliveries x
                     WHERE x.endpoint_id = e.id AND x.status IN ('pending', 'sending')
                       AND x.locked_until IS NOT NULL AND x.locked_until > @now) END,
          CASE WHEN @now IS NULL OR e.throttle_rate IS NULL OR e.throttle_tat IS NULL THEN NULL
               ELSE ceil(e.throttle_tat - (GREATEST(1, floor(e.throttle_rate * @burstMs::integer / 1000.0::float8)) - 1)
                                          * 1000.0::float8 / e.throttle_rate)::bigint END)) AS due
        FROM parked_endpoints p JOIN endpoints e ON e.id = p.endpoint_id)
    SELECT LEAST(
      (SELECT due FROM free),
      (SELECT min(locked_until) FROM deliveries
       WHERE status IN ('pending', 'sending') AND locked_until > next_attempt_at
         AND next_attempt_at < COALESCE((SELECT due FROM free), 9223372036854775807)),
      (SELECT due FROM parked)) AS due`,
  selectQueueSnapshot: `
    SELECT count(*)::float8 AS pending,
           count(*) FILTER (WHERE COALESCE(next_attempt_at, parked_due_at) <= @now)::float8 AS due,
           min(COALESCE(next_attempt_at, parked_due_at)) FILTER (WHERE COALESCE(next_attempt_at, parked_due_at) <= @now) AS oldest
    FROM deliveries
    WHERE status IN ('pending', 'sending') AND (locked_until IS NULL OR locked_until <= @now)`,
  selectDelivery: `SELECT ${DELIVERY} FROM deliveries WHERE id = @id`,

  // Attempts are listed through whichever index matches the narrowest filter given.
  listAttemptsByApp: attemptListSql('a.app_id = @appId'),
  listAttemptsByMsg: attemptListSql('a.msg_id = @msgId AND a.app_id = @appId'),
  listAttemptsByEndpoint: attemptListSql('a.endpoint_id = @endpointId AND a.app_id = @appId'),
  selectAttempt: `SELECT ${ATTEMPT} FROM attempts WHERE id = @id AND msg_id = @msgId AND app_id = @appId`,
  countEndpointDeliveriesByStatus: `
    SELECT d.status AS status, count(*) AS n FROM deliveries d JOIN messages m ON m.id = d.msg_id
    WHERE d.endpoint_id = @endpointId AND d.app_id = @appId
      AND m.created_at >= @since AND m.created_at < @until
      AND ${IS_LATEST_DELIVERY}
    GROUP BY d.status`,

  insertToken: `
    INSERT INTO api_tokens (id, token_hash, app_id, created_at, expires_at)
    VALUES (@id, @tokenHash, @appId, @createdAt, @expiresAt)`,
  selectLiveToken: `
    SELECT id, app_id, expires_at FROM api_tokens
    WHERE token_hash = @tokenHash AND (expires_at IS NULL OR expires_at > @now)`,
  selectHasAdminToken: `SELECT EXISTS (SELECT 1 FROM api_tokens WHERE app_id IS NULL) AS present`,
  selectIdempotentResponse: `
    SELECT status_code, body, content_type FROM idempotency_responses
    WHERE key_hash = @keyHash AND expires_at > @now`,
  // The first response wins: a retry racing the original must replay what the original returned.
  insertIdempotentResponse: `
    INSERT INTO idempotency_responses (key_hash, status_code, body, content_type, expires_at)
    VALUES (@keyHash, @statusCode, @body, @contentType, @expiresAt)
    ON CONFLICT (key_hash) DO NOTHING`,
  pruneIdempotency: `
    DELETE FROM idempotency_responses
    WHERE key_hash IN (
      SELECT key_hash FROM idempotency_responses WHERE expires_at <= @now
      ORDER BY expires_at LIMIT @limit
      FOR UPDATE SKIP LOCKED)`,

  insertBackgroundTask: `
    INSERT INTO background_tasks (id, app_id, task, status, data, cursor, lease_owner, locked_until, created_at, updated_at)
    VALUES (@id, @appId, @task, @status, @data::json, @cursor, @leaseOwner, @lockedUntil::bigint, @createdAt, @updatedAt)
    RETURNING ${BACKGROUND_TASK}`,
  selectBackgroundTask: `SELECT ${BACKGROUND_TASK} FROM background_tasks WHERE id = @id`,
  // A batch or a release holds the task row while it runs, so it reads the lease its commit will replace.
  lockBackgroundTask: `SELECT ${BACKGROUND_TASK} FROM background_tasks WHERE id = @id FOR UPDATE`,
  listBackgroundTasks: `
    SELECT ${BACKGROUND_TASK} FROM background_tasks
    WHERE (@appId::text IS NULL OR app_id = @appId) AND (@status::text IS NULL OR status = @status)
      AND (@task::text IS NULL OR task = @task) AND id {cmp} @cursor
    ORDER BY id {dir} LIMIT @limit`,
  // Running tasks whose process stopped (its lease expired, or it gave the lease up on close).
  // Several processes resume at once: SKIP LOCKED passes over a task another claimer (or a batch
  // of its owner) holds, so one task is taken by one process.
  claimBackgroundTasks: `
    UPDATE background_tasks SET lease_owner = @leaseOwner, locked_until = @lockedUntil
    WHERE id IN (
      SELECT id FROM background_tasks
      WHERE status = 'running' AND (locked_until IS NULL OR locked_until <= @now::bigint)
      ORDER BY id LIMIT @limit
      FOR UPDATE SKIP LOCKED)
    RETURNING ${BACKGROUND_TASK}`,
  saveBackgroundTask: `
    UPDATE background_tasks
    SET status = @status, data = @data::json, cursor = @cursor, locked_until = @lockedUntil::bigint, updated_at = @updatedAt
    WHERE id = @id`,
  // Two replays (or a replay and a recover) of one endpoint at once would both see a message as
  // missing and queue it twice; the second waits here, then (READ COMMITTED: a fresh snapshot per
  // statement) sees the first one's deliveries. It also reads whether the endpoint may still receive.
  lockEndpointForReplay: `
    SELECT app_id, disabled, deleted_at FROM endpoints WHERE id = @endpointId FOR NO KEY UPDATE`,
  // The next messages of a replay window after the cursor, each with what the batch needs to know:
  // expired (no payload left) and missing (no delivery to this endpoint at all, and accepted by the
  // endpoint's filters as fan-out would now). deliveries_msg_endpoint answers "no delivery" per row.
  // Keyset by id from the window's id floor: ids never sort before their creation time. They may
  // sort after it (a clock stepping back), so there is no safe upper id bound: the last batch of a
  // window that ends in the past reads on through the application's later messages.
  selectReplayCandidates: `
    SELECT m.id, m.payload IS NULL AS expired,
           COALESCE(${endpointAccepts('m')}, false)
           AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.msg_id = m.id AND d.endpoint_id = e.id) AS missing
    FROM messages m JOIN endpoints e ON e.id = @endpointId
    WHERE m.app_id = @appId AND m.id > @cursor AND m.created_at >= @since::bigint AND m.created_at < @until::bigint
    ORDER BY m.id LIMIT @limit`,

  ping: `SELECT 1 AS one`,
  ...operatorHealthSql(),
} as const;

function attemptListSql(driver: string): string {
  return `
    SELECT ${columns(ATTEMPT_COLUMNS, 'a')} FROM attempts a JOIN messages m ON m.id = a.msg_id
    WHERE ${driver} AND a.id {cmp} @cursor
      AND (@msgId::text IS NULL OR a.msg_id = @msgId)
      AND (@endpointId::text IS NULL OR a.endpoint_id = @endpointId)
      AND (@status::text IS NULL OR a.status = @status)
      AND (@statusCodeClass::integer IS NULL
           OR (@statusCodeClass = 0 AND a.response_status_code = 0)
           OR (@statusCodeClass > 0 AND a.response_status_code >= @statusCodeClass
               AND a.response_status_code < @statusCodeClass + 100))
      AND (@before::bigint IS NULL OR a.attempted_at < @before)
      AND (@after::bigint IS NULL OR a.attempted_at > @after)
      ${MESSAGE_FILTERS}
    ORDER BY a.id {dir} LIMIT @limit`;
}

type StatementName = keyof typeof SQL;
type Scan = 'up' | 'down';

/** A statement compiled from `@name` to `$n` form, with the parameter names in `$n` order. */
interface CompiledStatement {
  /** Prepared-statement name, unique per (statement, scan direction). */
  name: string;
  text: string;
  params: string[];
}

const compiled = new Map<string, CompiledStatement>();

function compile(name: StatementName, scan?: Scan): CompiledStatement {
  const key = scan ? `${name}_${scan}` : name;
  let statement = compiled.get(key);
  if (!statement) {
    let sql: string = SQL[name];
    if (scan) sql = sql.replaceAll('{cmp}', scan === 'up' ? '>' : '<').replaceAll('{dir}', scan === 'up' ? 'ASC' : 'DESC');
    const params: string[] = [];
    // `@` followed by a letter is a parameter; PostgreSQL's own `@>` / `<@` operators never are.
    const text = sql.replace(/@([A-Za-z][A-Za-z0-9]*)/g, (_, param: string) => {
      let index = params.indexOf(param);
      if (index < 0) index = params.push(param) - 1;
      return `$${index + 1}`;
    });
    statement = { name: `tapwire_${key}`, text, params };
    compiled.set(key, statement);
  }
  return statement;
}

/** Something that runs queries: the pool, or one client inside a transaction. */
type Queryable = Pick<pg.Pool, 'query'> | PoolClient;

/** What a driver error means in the context of one method. */
interface ErrorContext {
  /** Conflict detail by `table.column`, the same keys SqliteStore uses. */
  conflicts?: Record<string, string>;
  /** Detail for a foreign key failure (a parent row that does not exist). */
  missingParent?: string;
}

/** Unique constraints and indexes of 0001_init.sql by the `table.column` they protect. */
const UNIQUE_CONSTRAINTS: Record<string, string> = {
  applications_pkey: 'applications.id',
  applications_uid_key: 'applications.uid',
  endpoints_pkey: 'endpoints.id',
  endpoints_app_uid: 'endpoints.uid',
  event_types_pkey: 'event_types.name',
  messages_pkey: 'messages.id',
  messages_app_event_id: 'messages.event_id',
  deliveries_pkey: 'deliveries.id',
  attempts_pkey: 'attempts.id',
  api_tokens_pkey: 'api_tokens.id',
  api_tokens_token_hash_key: 'api_tokens.token_hash',
  idempotency_responses_pkey: 'idempotency_responses.key_hash',
};

/**
 * int8 (bigint, count(*)) as a JS number instead of pg's default string. Safe here: every bigint
 * we store is epoch milliseconds or a row count, far below 2^53. Set per pool, not globally, so
 * other pg users in the same process are unaffected.
 */
const TYPES: CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === pg.types.builtins.INT8 ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format)) as CustomTypesConfig['getTypeParser'],
};

/**
 * A PostgreSQL-backed {@link Store}. Open with {@link PostgresStore.open}, then call `migrate()`
 * before use. Many processes may share one database: claims never hand a delivery out twice,
 * migrations are applied once, and `onDeliveriesQueued` wakes workers in every process.
 *
 * While PostgreSQL is unreachable every method rejects with TapwireError('store_unavailable')
 * (HTTP 503) and nothing crashes; once it is back, the next calls open fresh connections.
 * Connect directly or through a session-pooling proxy: LISTEN, prepared statements and the
 * `search_path` startup option need a session of their own.
 */
interface PendingAccept {
  message: Message;
  now: Date;
  endpointIds: string[] | undefined;
  resolve: (result: { message: Message; deliveries: Delivery[] }) => void;
  reject: (error: unknown) => void;
}

interface PendingAttempt {
  input: CompleteAttemptInput;
  resolve: (result: CompleteAttemptResult) => void;
  reject: (error: unknown) => void;
}

export class PostgresStore implements Store {
  readonly kind = 'postgres' as const;
  /** The schema from the URL's `schema` parameter, or null for the connection's default search_path. */
  readonly schema: string | null;
  private readonly pool: pg.Pool;
  private readonly poolConfig: PoolConfig;
  /** The delivery worker's pool (see POSTGRES_DEFAULTS.deliveryPoolSize); null until the first claim. */
  private deliveryPoolOrNull: pg.Pool | null = null;
  /** Connection settings shared by the pool, the LISTEN connection and migrations. */
  private readonly clientConfig: ClientConfig;
  private readonly logger: StoreLogger | undefined;
  private readonly listeners = new Set<DeliveriesListener>();
  /** Applications whose last message fanned out to more than MIN_DELIVERY_IDS endpoints, and to how many. */
  private readonly fanOutHint = new Map<string, number>();
  /** Attempts waiting to be recorded together at the end of this turn (see completeAttempt). */
  private attemptBatch: PendingAttempt[] = [];
  /** Messages waiting to be accepted together at the end of this turn (see createMessage). */
  private acceptBatch: PendingAccept[] = [];
  /** A wake-up NOTIFY is in flight, and whether another accept asked for one meanwhile (see announceQueued). */
  private announcing = false;
  private announceAgain = false;
  private closed = false;

  private constructor(pool: pg.Pool, poolConfig: PoolConfig, clientConfig: ClientConfig, schema: string | null, logger: StoreLogger | undefined) {
    this.pool = pool;
    this.poolConfig = poolConfig;
    this.clientConfig = clientConfig;
    this.schema = schema;
    this.logger = logger;
  }

  /**
   * Create the pool and check that the server answers (one `SELECT 1`). Does not migrate.
   * Throws TapwireError('store_unavailable') naming the server (never the password) when it cannot
   * connect, and TapwireError('generic_error') for a URL it cannot use.
   */
  static async open(options: PostgresStoreOptions): Promise<PostgresStore> {
    const { connectionString, schema } = parsePostgresUrl(options.url);
    const clientConfig: ClientConfig = {
      connectionString,
      application_name: options.applicationName ?? POSTGRES_DEFAULTS.applicationName,
      connectionTimeoutMillis: options.connectionTimeoutMs ?? POSTGRES_DEFAULTS.connectionTimeoutMs,
      keepAlive: true,
      keepAliveInitialDelayMillis: POSTGRES_DEFAULTS.keepAliveInitialDelayMs,
      types: TYPES,
    };
    const statementTimeoutMs = options.statementTimeoutMs ?? POSTGRES_DEFAULTS.statementTimeoutMs;
    const poolConfig: PoolConfig = {
      ...clientConfig,
      max: options.poolSize ?? POSTGRES_DEFAULTS.poolSize,
      idleTimeoutMillis: options.idleTimeoutMs ?? POSTGRES_DEFAULTS.idleTimeoutMs,
      statement_timeout: statementTimeoutMs,
      // The server's statement_timeout cannot fire when the network is what is gone.
      query_timeout: statementTimeoutMs + 2_000,
      idle_in_transaction_session_timeout: POSTGRES_DEFAULTS.idleInTransactionTimeoutMs,
    };
    const pool = new pg.Pool(poolConfig);
    // An idle pooled connection dropped by the server (restart, failover, pg_terminate_backend) is
    // reported here and removed from the pool; without a listener it would crash the process.
    pool.on('error', (error) => options.logger?.warn({ err: error }, 'postgres idle connection lost'));
    const store = new PostgresStore(pool, poolConfig, clientConfig, schema, options.logger);
    try {
      await pool.query(SQL.ping);
    } catch (error) {
      await pool.end().catch(() => undefined);
      throw new TapwireError('store_unavailable', {
        detail: `Cannot connect to PostgreSQL at ${serverOf(connectionString)}: ${reasonOf(error)}`,
        cause: error,
      });
    }
    return store;
  }

  async migrate(): Promise<{ applied: number[] }> {
    return this.guard(async () => {
      const applied: number[] = [];
      // One connection of its own for the whole run: the advisory lock belongs to the session, and
      // migrations (and waiting for another process's) must not be cut off by statement timeouts.
      const client = new pg.Client(this.clientConfig);
      client.on('error', (error) => this.logger?.warn({ err: error }, 'postgres migration connection lost'));
      await client.connect();
      try {
        await client.query('SET statement_timeout = 0');
        // Several processes starting at once queue here; each then sees what the first applied.
        await client.query(`SELECT pg_advisory_lock(${MIGRATION_LOCK_KEY})`);
        try {
          if (this.schema) {
            await client.query(`CREATE SCHEMA IF NOT EXISTS "${this.schema}"`).catch(explainFailure(`Cannot create the schema '${this.schema}'`));
          }
          await client.query(
            'CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
          );
          const done = new Set((await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version));
          const migrations = readMigrations(MIGRATIONS_DIR);
          const newest = Math.max(0, ...done);
          const known = migrations.at(-1)?.version ?? 0;
          if (newest > known) {
            throw new TapwireError('schema_too_new', {
              detail: `The database is at schema version ${newest}, but this version of Tapwire knows migrations up to ${known}; upgrade Tapwire`,
            });
          }
          for (const migration of migrations) {
            if (done.has(migration.version)) continue;
            // Each migration and its record commit together, or not at all.
            await client.query('BEGIN');
            try {
              await client.query(migration.sql);
              await client.query('INSERT INTO schema_migrations (version) VALUES ($1)', [migration.version]);
              await client.query('COMMIT');
            } catch (error) {
              await client.query('ROLLBACK').catch(() => undefined);
              explainFailure(`Migration ${migration.file} failed`)(error);
            }
            applied.push(migration.version);
            this.logger?.info({ version: migration.version, file: migration.file }, 'migration applied');
          }
        } finally {
          await client.query(`SELECT pg_advisory_unlock(${MIGRATION_LOCK_KEY})`).catch(() => undefined);
        }
      } finally {
        await client.end().catch(() => undefined);
      }
      return { applied };
    });
  }

  /**
   * A dedicated connection (not from the pool) runs `LISTEN tapwire_deliveries` and calls
   * `listener` for each notification from this schema. If that connection drops it reconnects with
   * backoff, and calls `listener` once when back (notifications sent meanwhile are lost). Never
   * throws for connection trouble: the worker's slow poll covers the gap.
   */
  async onDeliveriesQueued(listener: () => void): Promise<() => Promise<void>> {
    if (this.closed) throw new TapwireError('store_unavailable', { detail: 'The store is closed' });
    const subscription = new DeliveriesListener(
      { ...this.clientConfig, application_name: `${this.clientConfig.application_name}-listener` },
      listener,
      this.logger,
    );
    this.listeners.add(subscription);
    await subscription.start();
    return async () => {
      this.listeners.delete(subscription);
      await subscription.stop();
    };
  }

  async ping(): Promise<StoreHealth> {
    if (this.closed) return { ok: false, detail: 'The store is closed' };
    try {
      // Health must answer quickly even when the network to the database silently drops packets.
      // pg honours a per-query `query_timeout`, though its type definitions omit it.
      await this.pool.query({ text: SQL.ping, query_timeout: PING_TIMEOUT_MS } as pg.QueryConfig);
      return { ok: true };
    } catch (error) {
      return { ok: false, detail: reasonOf(error) };
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const listeners = [...this.listeners];
    this.listeners.clear();
    await Promise.all(listeners.map((listener) => listener.stop()));
    await Promise.all([this.pool.end(), this.deliveryPoolOrNull?.end()]);
  }

  /** The delivery worker's own pool, opened on first use (only processes that deliver need it). */
  private get deliveryPool(): pg.Pool {
    // Once closed, calls fail on the ended main pool (store_unavailable) instead of opening a new one.
    if (this.closed) return this.pool;
    if (!this.deliveryPoolOrNull) {
      const pool = new pg.Pool({
        ...this.poolConfig,
        connectionString: withSessionOptions(this.poolConfig.connectionString!, DELIVERY_SESSION_OPTIONS),
        max: POSTGRES_DEFAULTS.deliveryPoolSize,
      });
      pool.on('error', (error) => this.logger?.warn({ err: error }, 'postgres idle connection lost'));
      this.deliveryPoolOrNull = pool;
    }
    return this.deliveryPoolOrNull;
  }

  // Applications ----------------------------------------------------------------------------

  async createApplication(app: Application): Promise<Application> {
    return this.guard(async () => toApplication((await this.one<ApplicationRow>('insertApplication', applicationParams(app)))!), {
      conflicts: {
        'applications.uid': `An application with uid '${app.uid}' already exists`,
        'applications.id': `An application with id '${app.id}' already exists`,
      },
    });
  }

  async getApplication(idOrUid: string): Promise<Application | null> {
    return this.guard(async () => mapOrNull(await this.one<ApplicationRow>('selectApplicationByIdOrUid', { key: idOrUid }), toApplication));
  }

  async updateApplication(app: Application): Promise<Application> {
    return this.guard(
      async () => {
        const row = await this.one<ApplicationRow>('updateApplication', applicationParams(app));
        if (!row) throw new TapwireError('not_found', { detail: 'Application not found' });
        return toApplication(row);
      },
      { conflicts: { 'applications.uid': `An application with uid '${app.uid}' already exists` } },
    );
  }

  async deleteApplication(id: string): Promise<boolean> {
    return this.guard(async () => ((await this.run('deleteApplication', { id })).rowCount ?? 0) > 0);
  }

  async listApplications(query: ListQuery): Promise<Page<Application>> {
    return this.guard(() => this.page<ApplicationRow, Application>('listApplications', query, 'ascending', {}, (r) => r.id, toApplication));
  }

  // Endpoints -------------------------------------------------------------------------------

  async createEndpoint(endpoint: Endpoint, options: QueueMessagesOptions = {}): Promise<Endpoint> {
    return this.guard(
      () =>
        this.withMessages(options.messages, async (client) => toEndpoint((await this.one<EndpointRow>('insertEndpoint', endpointParams(endpoint), client))!)),
      { conflicts: endpointConflicts(endpoint), missingParent: 'Application not found' },
    );
  }

  async getEndpoint(appId: string, idOrUid: string): Promise<Endpoint | null> {
    return this.guard(async () => mapOrNull(await this.one<EndpointRow>('selectEndpointByIdOrUid', { appId, key: idOrUid }), toEndpoint));
  }

  async updateEndpoint(endpoint: Endpoint, options: QueueMessagesOptions = {}): Promise<Endpoint> {
    return this.guard(
      () =>
        this.withMessages(options.messages, async (client) => {
          const row = await this.one<EndpointRow>('updateEndpoint', endpointParams(endpoint), client);
          if (!row) throw new TapwireError('not_found', { detail: 'Endpoint not found' });
          return toEndpoint(row);
        }),
      { conflicts: endpointConflicts(endpoint) },
    );
  }

  async deleteEndpoint(appId: string, endpointId: string, now: Date, options: QueueMessagesOptions = {}): Promise<boolean> {
    return this.guard(() =>
      this.withMessages(
        options.messages,
        async (client) => (await this.one<{ deleted: number }>('deleteEndpoint', { id: endpointId, appId, now: now.getTime() }, client))!.deleted > 0,
        (deleted) => deleted,
      ),
    );
  }

  async listEndpoints(appId: string, query: ListQuery): Promise<Page<Endpoint>> {
    return this.guard(() => this.page<EndpointRow, Endpoint>('listEndpoints', query, 'descending', { appId }, (r) => r.id, toEndpoint));
  }

  // Event types -----------------------------------------------------------------------------

  async createEventType(eventType: EventType): Promise<EventType> {
    return this.guard(async () => toEventType((await this.one<EventTypeRow>('insertEventType', eventTypeParams(eventType)))!), {
      conflicts: { 'event_types.name': `An event type named '${eventType.name}' already exists` },
    });
  }

  async getEventType(name: string): Promise<EventType | null> {
    return this.guard(async () => mapOrNull(await this.one<EventTypeRow>('selectEventType', { name }), toEventType));
  }

  async saveEventType(eventType: EventType): Promise<EventType> {
    return this.guard(async () => toEventType((await this.one<EventTypeRow>('upsertEventType', eventTypeParams(eventType)))!));
  }

  async deleteEventType(name: string): Promise<boolean> {
    return this.guard(async () => ((await this.run('deleteEventType', { name })).rowCount ?? 0) > 0);
  }

  async listEventTypes(query: ListQuery & { includeArchived: boolean }): Promise<Page<EventType>> {
    return this.guard(() =>
      this.page<EventTypeRow, EventType>('listEventTypes', query, 'ascending', { includeArchived: query.includeArchived }, (r) => r.name, toEventType),
    );
  }

  // Messages and fan-out --------------------------------------------------------------------

  async createMessage(
    message: Message,
    now: Date,
    options: { endpointIds?: string[] } = {},
  ): Promise<{ message: Message; deliveries: Delivery[] }> {
    // Accepts made in the same turn of the event loop share one statement and one commit: each
    // commit waits for the disk, and one per message kept PostgreSQL busy serialising WAL flushes.
    return new Promise((resolve, reject) => {
      this.acceptBatch.push({ message, now, endpointIds: options.endpointIds, resolve, reject });
      if (this.acceptBatch.length === 1) setImmediate(() => void this.flushAcceptBatch());
    });
  }

  /** Accept the messages gathered by createMessage: all in one statement, else each alone. */
  private async flushAcceptBatch(): Promise<void> {
    const batch = this.acceptBatch;
    this.acceptBatch = [];
    // One by one and in the order they came, as they would have without the batch: of two
    // messages with the same eventId, the first gets it.
    const alone = async (items: PendingAccept[]): Promise<void> => {
      for (const item of items) await this.createOneMessage(item.message, item.now, item.endpointIds).then(item.resolve, item.reject);
    };
    if (batch.length === 1 || this.closed) return alone(batch);
    const ids = batch.map((item) => this.guessDeliveryIds(item.message.appId, item.now));
    const rows = batch.map(({ message, now, endpointIds }, index) => ({
      id: message.id,
      app_id: message.appId,
      event_id: message.eventId,
      event_type: message.eventType,
      payload: message.payload,
      channels: message.channels,
      created_at: message.createdAt.getTime(),
      payload_expires_at: message.payloadExpiresAt.getTime(),
      endpoint_ids: endpointIds ?? null,
      delivery_ids: ids[index],
      now: now.getTime(),
    }));
    let accepted: Map<string, MessageRow & { deliveries: DeliveryRow[] }>;
    try {
      const { rows: inserted } = await this.run<MessageRow & { deliveries: DeliveryRow[] }>('insertMessagesWithFanOut', { rows: json(rows) });
      accepted = new Map(inserted.map((row) => [row.id, row]));
    } catch {
      // Nothing of the batch was stored; each message gets its own answer.
      return alone(batch);
    }
    let queued = false;
    const missing: PendingAccept[] = [];
    for (const item of batch) {
      const row = accepted.get(item.message.id);
      if (!row) {
        missing.push(item);
        continue;
      }
      this.rememberFanOut(item.message.appId, row.deliveries.length);
      queued ||= row.deliveries.length > 0;
      item.resolve({ message: toMessage(row), deliveries: row.deliveries.map(toDelivery) });
    }
    if (queued) this.announceQueued();
    await alone(missing);
  }

  private async createOneMessage(
    message: Message,
    now: Date,
    endpointIds: string[] | undefined,
  ): Promise<{ message: Message; deliveries: Delivery[] }> {
    const options = { endpointIds };
    return this.guard(
      async () => {
        // Not enough ids guessed: the transaction below makes exactly as many as needed.
        const ids = this.guessDeliveryIds(message.appId, now);
        try {
          const row = (await this.one<MessageRow & { deliveries: DeliveryRow[] }>('insertMessageWithFanOut', {
            ...messageParams(message),
            endpointIds: options.endpointIds ?? null,
            deliveryIds: ids,
            now: now.getTime(),
          }))!;
          this.rememberFanOut(message.appId, row.deliveries.length);
          if (row.deliveries.length > 0) this.announceQueued();
          return { message: toMessage(row), deliveries: row.deliveries.map(toDelivery) };
        } catch (error) {
          if ((error as { code?: unknown }).code !== '23502' || (error as { column?: unknown }).column !== 'id') throw error;
        }
        return this.transaction(async (client) => {
          const row = (await this.one<MessageRow & { endpoint_ids: string[] }>(
            'insertMessage',
            { ...messageParams(message), endpointIds: options.endpointIds ?? null },
            client,
          ))!;
          const deliveries = await this.insertDeliveries(client, {
            appId: message.appId,
            triggerType: 'scheduled',
            now,
            targets: row.endpoint_ids.map((endpointId) => ({ msgId: message.id, endpointId })),
          });
          this.rememberFanOut(message.appId, deliveries.length);
          return { message: toMessage(row), deliveries };
        });
      },
      {
        conflicts: {
          'messages.event_id': `A message with eventId '${message.eventId}' already exists in this application`,
          'messages.id': `A message with id '${message.id}' already exists`,
        },
        missingParent: 'Application not found',
      },
    );
  }

  /**
   * Tell the workers of every process (LISTEN) that deliveries were queued, after the commit that
   * queued them, in a statement of its own, at most one at a time: accepts made meanwhile share the
   * next one. A commit that carries a NOTIFY takes a database-wide lock that serialises every such
   * commit, flush to disk included; sent with each accept, it kept PostgreSQL from committing
   * accepts in groups. It is only a wake-up: one lost (the connection failed) delays those
   * deliveries to the workers' next poll, and the worker in this process is woken directly.
   */
  private announceQueued(): void {
    if (this.closed) return;
    if (this.announcing) {
      this.announceAgain = true;
      return;
    }
    this.announcing = true;
    void Promise.resolve()
      .then(() => this.run('notifyDeliveriesQueued', {}))
      .catch(() => undefined)
      .finally(() => {
        this.announcing = false;
        if (this.announceAgain) {
          this.announceAgain = false;
          this.announceQueued();
        }
      });
  }

  async getMessage(appId: string, idOrEventId: string): Promise<Message | null> {
    return this.guard(async () => mapOrNull(await this.one<MessageRow>('selectMessageByIdOrEventId', { appId, key: idOrEventId }), toMessage));
  }

  async listMessages(appId: string, query: MessageListQuery): Promise<Page<Message>> {
    return this.guard(() =>
      this.page<MessageRow, Message>('listMessages', query, 'descending', { appId, status: query.status ?? null, ...messageFilterParams(query) }, (r) => r.id, toMessage),
    );
  }

  async expungeMessageContent(appId: string, msgId: string): Promise<boolean> {
    return this.guard(async () => ((await this.run('expungePayload', { appId, id: msgId })).rowCount ?? 0) > 0);
  }

  async expireMessagePayloads(now: Date, limit: number): Promise<number> {
    return this.guard(async () => (await this.run('expirePayloads', { now: now.getTime(), limit })).rowCount ?? 0);
  }

  async pruneAttempts(before: Date, limit: number): Promise<number> {
    return this.guard(async () => (await this.run('pruneAttempts', { before: before.getTime(), limit })).rowCount ?? 0);
  }

  async listMessageDestinations(appId: string, msgId: string, query: ListQuery): Promise<Page<MessageDestination>> {
    return this.guard(async () => {
      const page = await this.page<DeliveryRow, DeliveryRow>('listMessageDestinations', query, 'ascending', { appId, msgId }, (r) => r.endpoint_id, (r) => r);
      const endpoints = await this.byId<EndpointRow>('selectEndpointsByIds', page.data.map((r) => r.endpoint_id));
      return {
        ...page,
        // An endpoint can only vanish with its application (deleted between the two reads).
        data: page.data.flatMap((r) => {
          const endpoint = endpoints.get(r.endpoint_id);
          return endpoint ? [{ endpoint: toEndpoint(endpoint), delivery: toDelivery(r) }] : [];
        }),
      };
    });
  }

  async listAttemptedMessages(
    appId: string,
    endpointId: string,
    query: MessageListQuery & { status?: MessageStatusName | null },
  ): Promise<Page<AttemptedMessage>> {
    return this.guard(async () => {
      const page = await this.page<DeliveryRow, DeliveryRow>(
        'listAttemptedMessages',
        query,
        'descending',
        { appId, endpointId, status: query.status ?? null, ...messageFilterParams(query) },
        (r) => r.msg_id,
        (r) => r,
      );
      const messages = await this.byId<MessageRow>('selectMessagesByIds', page.data.map((r) => r.msg_id));
      return {
        ...page,
        data: page.data.flatMap((r) => {
          const message = messages.get(r.msg_id);
          return message ? [{ message: toMessage(message), delivery: toDelivery(r) }] : [];
        }),
      };
    });
  }

  // Queue -----------------------------------------------------------------------------------

  async createManualDelivery(input: { deliveryId: string; appId: string; msgId: string; endpointId: string; now: Date }): Promise<Delivery> {
    return this.guard(
      async () => {
        const row = await this.one<DeliveryRow>('insertManualDelivery', {
          id: input.deliveryId,
          appId: input.appId,
          msgId: input.msgId,
          endpointId: input.endpointId,
          now: input.now.getTime(),
        });
        if (!row) throw new TapwireError('not_found', { detail: 'Message or endpoint not found' });
        return toDelivery(row);
      },
      { conflicts: { 'deliveries.id': `A delivery with id '${input.deliveryId}' already exists` } },
    );
  }

  async recoverFailedDeliveries(input: { appId: string; endpointId: string; since: Date; until: Date; now: Date }): Promise<number> {
    return this.guard(() =>
      this.transaction(async (client) => {
        const { rowCount } = await this.run('lockEndpointForRecover', { appId: input.appId, endpointId: input.endpointId }, client);
        if (!rowCount) return 0;
        const { rows } = await this.run<{ msg_id: string }>(
          'selectRecoverableMessages',
          { appId: input.appId, endpointId: input.endpointId, since: input.since.getTime(), until: input.until.getTime() },
          client,
        );
        const deliveries = await this.insertDeliveries(client, {
          appId: input.appId,
          triggerType: 'manual',
          now: input.now,
          targets: rows.map(({ msg_id: msgId }) => ({ msgId, endpointId: input.endpointId })),
        });
        return deliveries.length;
      }),
    );
  }

  async claimDueDeliveries(input: ClaimDeliveriesInput): Promise<DeliveryJob[]> {
    return this.guard(async () => {
      const rows: DeliveryRow[] = [];
      let maxRetries = retryBudgetOf(input);
      // Each round is its own statement (and transaction): see MAX_CLAIM_ROUNDS.
      for (let round = 0; round < MAX_CLAIM_ROUNDS && rows.length < input.limit; round++) {
        const result = await this.run<DeliveryRow & { parked_count: number }>(
          'claimDueDeliveries',
          { ...claimRoundParams(input, round, input.limit - rows.length, maxRetries) },
          this.deliveryPool,
        );
        const leased = result.rows.filter((row) => row.id !== null);
        rows.push(...leased);
        maxRetries -= leased.filter((row) => row.attempt_count > 0).length;
        // Only parking uncovers more deliveries to look at; otherwise this round saw all there is.
        if (!(result.rows[0]?.parked_count > 0)) break;
      }
      if (rows.length === 0) return [];
      // RETURNING gives no order guarantee; hand the batch out oldest due first.
      rows.sort((a, b) => a.next_attempt_at! - b.next_attempt_at! || (a.id < b.id ? -1 : 1));
      // The lease is committed, so these reads need no transaction: two queries for the whole batch.
      const [messages, endpoints] = await Promise.all([
        this.byId<MessageRow>('selectMessagesByIds', rows.map((r) => r.msg_id), this.deliveryPool),
        this.byId<EndpointRow>('selectEndpointsByIds', rows.map((r) => r.endpoint_id), this.deliveryPool),
      ]);
      // Each endpoint converted once; the jobs of a batch share it (nothing downstream changes it).
      const endpointOf = onceById((id): Endpoint | null => {
        const row = endpoints.get(id);
        return row && row.deleted_at === null ? toEndpoint(row) : null;
      });
      return rows.flatMap((row) => {
        const message = messages.get(row.msg_id);
        // Gone only when its application was deleted since the claim, deliveries included.
        if (!message) return [];
        return [{ delivery: toDelivery(row), message: toMessage(message), endpoint: endpointOf(row.endpoint_id) }];
      });
    });
  }

  async completeAttempt(input: CompleteAttemptInput): Promise<CompleteAttemptResult> {
    // The usual attempt (nothing to queue, no disable) joins the others finished in this turn of
    // the event loop: one statement and one commit for all of them instead of one each.
    if (!input.messages?.length && !input.messagesIfEndpointDisabled?.length && !input.disableEndpoint && !input.autoDisableFailingSince) {
      return new Promise((resolve, reject) => {
        this.attemptBatch.push({ input, resolve, reject });
        if (this.attemptBatch.length === 1) setImmediate(() => void this.flushAttemptBatch());
      });
    }
    return this.completeOneAttempt(input);
  }

  /** Record the attempts gathered by completeAttempt, in one statement where the rows allow it. */
  private async flushAttemptBatch(): Promise<void> {
    const batch = this.attemptBatch;
    this.attemptBatch = [];
    const settleAlone = (item: PendingAttempt): Promise<void> => this.completeOneAttempt(item.input).then(item.resolve, item.reject);
    // A success and a failure of one endpoint in the same batch: their order decides its streak,
    // which one statement cannot keep; those go one by one, in order.
    const healthOf = new Map<string, string>();
    const mixed = new Set<string>();
    for (const { input } of batch) {
      const health = input.health ?? 'none';
      if (health === 'none') continue;
      const seen = healthOf.get(input.attempt.endpointId);
      if (seen !== undefined && seen !== health) mixed.add(input.attempt.endpointId);
      healthOf.set(input.attempt.endpointId, health);
    }
    const together = batch.filter((item) => !mixed.has(item.input.attempt.endpointId));
    const alone = batch.filter((item) => mixed.has(item.input.attempt.endpointId));
    if (together.length === 1) alone.unshift(together.pop()!);
    if (alone.length > 0) {
      void (async () => {
        for (const item of alone) await settleAlone(item);
      })();
    }
    if (together.length === 0) return;
    const rows = together.map(({ input }) => ({
      id: input.attempt.id,
      delivery_id: input.attempt.deliveryId,
      msg_id: input.attempt.msgId,
      app_id: input.attempt.appId,
      endpoint_id: input.attempt.endpointId,
      url: input.attempt.url,
      response_status_code: input.attempt.responseStatusCode,
      response: input.attempt.response,
      response_duration_ms: input.attempt.responseDurationMs,
      attempt_status: input.attempt.status,
      trigger_type: input.attempt.triggerType,
      attempted_at: input.attempt.timestamp.getTime(),
      status: input.outcome.status,
      next_attempt_at: input.outcome.status === 'sending' ? input.outcome.nextAttemptAt.getTime() : null,
      health: input.health ?? 'none',
      now: input.now.getTime(),
    }));
    let finished: Set<string>;
    try {
      const { rows: done } = await this.run<{ id: string }>('completeAttempts', { rows: json(rows) }, this.deliveryPool);
      finished = new Set(done.map((row) => row.id));
    } catch {
      // Something in the batch is off (a delivery gone, an id taken, text PostgreSQL refuses):
      // nothing of it was stored; each goes again alone and gets its own answer.
      for (const item of together) void settleAlone(item);
      return;
    }
    for (const item of together) {
      if (finished.has(item.input.attempt.deliveryId)) item.resolve({ endpointDisabled: false });
      // Unreachable while attempts reference their delivery (the insert fails first), kept as in completeOneAttempt.
      else item.reject(new TapwireError('not_found', { detail: 'Delivery not found' }));
    }
  }

  private async completeOneAttempt(input: CompleteAttemptInput): Promise<CompleteAttemptResult> {
    const { attempt, outcome } = input;
    const params = {
      ...attemptParams(attempt),
      attemptStatus: attempt.status,
      status: outcome.status,
      nextAttemptAt: outcome.status === 'sending' ? outcome.nextAttemptAt.getTime() : null,
      disableEndpoint: input.disableEndpoint,
      health: input.health ?? 'none',
      autoDisableFailingSince: input.autoDisableFailingSince?.getTime() ?? null,
      now: input.now.getTime(),
    };
    const complete = async (client?: PoolClient): Promise<CompleteAttemptResult> => {
      const result = await this.one<{ recorded: number; finished: number; endpoint_disabled: boolean }>('completeAttempt', params, client ?? this.deliveryPool);
      if (result!.finished === 0) throw new TapwireError('not_found', { detail: 'Delivery not found' });
      return { endpointDisabled: result!.endpoint_disabled };
    };
    return this.guard(
      async () => {
        // The usual attempt queues nothing: one statement, one round trip. Operational events
        // (rare: a streak of failures, exhaustion, a disable) need a transaction around it.
        if (!input.messages?.length && !input.messagesIfEndpointDisabled?.length) return complete();
        return this.transaction(async (client) => {
          const result = await complete(client);
          await this.queueMessages(client, input.messages);
          if (result.endpointDisabled) await this.queueMessages(client, input.messagesIfEndpointDisabled);
          return result;
        });
      },
      {
        conflicts: { 'attempts.id': `An attempt with id '${attempt.id}' already exists` },
        missingParent: 'Delivery not found',
      },
    );
  }

  async nextDueAt(input?: NextDueInput): Promise<Date | null> {
    return this.guard(async () => {
      const due = (await this.one<{ due: number | null }>('selectNextDueAt', {
        now: input?.now.getTime() ?? null,
        defaultConcurrency: input?.endpointConcurrency ?? null,
        burstMs: THROTTLE_BURST_MS,
      }))!.due;
      return due === null ? null : new Date(due);
    });
  }

  async queueSnapshot(now: Date): Promise<{ pending: number; due: number; oldestDueAt: Date | null }> {
    return this.guard(async () => {
      const row = (await this.one<{ pending: number; due: number; oldest: string | number | null }>('selectQueueSnapshot', { now: now.getTime() }))!;
      return { pending: row.pending, due: row.due, oldestDueAt: row.oldest === null ? null : new Date(Number(row.oldest)) };
    });
  }

  async getDelivery(id: string): Promise<Delivery | null> {
    return this.guard(async () => mapOrNull(await this.one<DeliveryRow>('selectDelivery', { id }), toDelivery));
  }

  // Attempts and stats ----------------------------------------------------------------------

  async listAttempts(appId: string, query: AttemptListQuery): Promise<Page<Attempt>> {
    const statement: StatementName = query.msgId ? 'listAttemptsByMsg' : query.endpointId ? 'listAttemptsByEndpoint' : 'listAttemptsByApp';
    const params = {
      appId,
      msgId: query.msgId ?? null,
      endpointId: query.endpointId ?? null,
      status: query.status ?? null,
      statusCodeClass: query.statusCodeClass ?? null,
      ...messageFilterParams(query),
    };
    return this.guard(() => this.page<AttemptRow, Attempt>(statement, query, 'descending', params, (r) => r.id, toAttempt));
  }

  async getAttempt(appId: string, msgId: string, attemptId: string): Promise<Attempt | null> {
    return this.guard(async () => mapOrNull(await this.one<AttemptRow>('selectAttempt', { appId, msgId, id: attemptId }), toAttempt));
  }

  async getEndpointStats(appId: string, endpointId: string, since: Date, until: Date): Promise<EndpointStats> {
    return this.guard(async () => {
      const stats: EndpointStats = { success: 0, pending: 0, sending: 0, fail: 0 };
      const { rows } = await this.run<{ status: MessageStatusName; n: number }>('countEndpointDeliveriesByStatus', {
        appId,
        endpointId,
        since: since.getTime(),
        until: until.getTime(),
      });
      for (const { status, n } of rows) stats[status] = n;
      return stats;
    });
  }

  // Auth and idempotency --------------------------------------------------------------------

  async createToken(input: { id: string; tokenHash: string; appId: string | null; createdAt: Date; expiresAt: Date | null }): Promise<void> {
    return this.guard(
      async () => {
        await this.run('insertToken', {
          id: input.id,
          tokenHash: input.tokenHash,
          appId: input.appId,
          createdAt: input.createdAt.getTime(),
          expiresAt: input.expiresAt?.getTime() ?? null,
        });
      },
      {
        conflicts: { 'api_tokens.token_hash': 'A token with this hash already exists', 'api_tokens.id': `A token with id '${input.id}' already exists` },
        missingParent: 'Application not found',
      },
    );
  }

  async findToken(tokenHash: string, now: Date): Promise<StoredToken | null> {
    return this.guard(async () =>
      mapOrNull(await this.one<TokenRow>('selectLiveToken', { tokenHash, now: now.getTime() }), (r) => ({
        id: r.id,
        appId: r.app_id,
        expiresAt: toDateOrNull(r.expires_at),
      })),
    );
  }

  async hasAdminToken(): Promise<boolean> {
    return this.guard(async () => (await this.one<{ present: boolean }>('selectHasAdminToken', {}))!.present);
  }

  async getIdempotentResponse(keyHash: string, now: Date): Promise<IdempotentResponse | null> {
    return this.guard(async () =>
      mapOrNull(await this.one<IdempotencyRow>('selectIdempotentResponse', { keyHash, now: now.getTime() }), (r) => ({
        statusCode: r.status_code,
        body: r.body,
        contentType: r.content_type,
      })),
    );
  }

  async saveIdempotentResponse(keyHash: string, response: IdempotentResponse, expiresAt: Date): Promise<void> {
    return this.guard(async () => {
      await this.run('insertIdempotentResponse', {
        keyHash,
        statusCode: response.statusCode,
        body: response.body,
        contentType: response.contentType,
        expiresAt: expiresAt.getTime(),
      });
    });
  }

  async pruneIdempotency(now: Date, limit: number): Promise<number> {
    return this.guard(async () => (await this.run('pruneIdempotency', { now: now.getTime(), limit })).rowCount ?? 0);
  }

  // Background tasks ------------------------------------------------------------------------

  async createBackgroundTask(task: BackgroundTask, lease: BackgroundTaskLease | null = null): Promise<BackgroundTask> {
    return this.guard(
      async () =>
        toBackgroundTask(
          (await this.one<BackgroundTaskRow>('insertBackgroundTask', {
            ...backgroundTaskParams(task),
            leaseOwner: lease?.owner ?? null,
            lockedUntil: lease?.until.getTime() ?? null,
          }))!,
        ),
      { conflicts: { 'background_tasks.id': `A background task with id '${task.id}' already exists` }, missingParent: 'Application not found' },
    );
  }

  async getBackgroundTask(id: string): Promise<BackgroundTask | null> {
    return this.guard(async () => mapOrNull(await this.one<BackgroundTaskRow>('selectBackgroundTask', { id }), toBackgroundTask));
  }

  async listBackgroundTasks(query: BackgroundTaskListQuery): Promise<Page<BackgroundTask>> {
    const params = { appId: query.appId ?? null, status: query.status ?? null, task: query.task ?? null };
    return this.guard(() => this.page<BackgroundTaskRow, BackgroundTask>('listBackgroundTasks', query, 'descending', params, (r) => r.id, toBackgroundTask));
  }

  async claimBackgroundTasks(input: { now: Date; leaseOwner: string; leaseMs: number; limit: number }): Promise<BackgroundTask[]> {
    return this.guard(async () => {
      const { rows } = await this.run<BackgroundTaskRow>('claimBackgroundTasks', {
        now: input.now.getTime(),
        leaseOwner: input.leaseOwner,
        lockedUntil: input.now.getTime() + input.leaseMs,
        limit: input.limit,
      });
      return rows.map(toBackgroundTask).sort((a, b) => (a.id < b.id ? -1 : 1));
    });
  }

  async runReplayMissingBatch(input: {
    taskId: string;
    leaseOwner: string;
    now: Date;
    leaseMs: number;
    limit: number;
  }): Promise<{ task: BackgroundTask; queued: number } | null> {
    const now = input.now.getTime();
    return this.guard(() =>
      this.transaction(async (client) => {
        const row = await this.one<BackgroundTaskRow>('lockBackgroundTask', { id: input.taskId }, client);
        if (!row || row.status !== 'running' || row.lease_owner !== input.leaseOwner) return null;
        const task = toBackgroundTask(row);
        const window = replayWindowOf(task);
        const endpoint = await this.one<{ app_id: string; disabled: boolean; deleted_at: number | null }>(
          'lockEndpointForReplay',
          { endpointId: window.endpointId },
          client,
        );
        const stopped = replayStopReason(endpoint && endpoint.app_id === task.appId ? { deleted: endpoint.deleted_at !== null, disabled: endpoint.disabled } : null);
        if (stopped) {
          const failed = failTask(task, stopped, input.now);
          await this.run('saveBackgroundTask', { ...backgroundTaskParams(failed), lockedUntil: null }, client);
          return { task: failed, queued: 0 };
        }
        const { rows: candidates } = await this.run<{ id: string; expired: boolean; missing: boolean }>(
          'selectReplayCandidates',
          {
            appId: task.appId,
            endpointId: window.endpointId,
            cursor: task.cursor ?? idFloorAt('msg', window.since.getTime()),
            since: window.since.getTime(),
            until: window.until.getTime(),
            limit: input.limit,
          },
          client,
        );
        const missing = candidates.filter((c) => c.missing);
        const targets = missing.filter((c) => !c.expired).map((c) => ({ msgId: c.id, endpointId: window.endpointId }));
        const deliveries = await this.insertDeliveries(client, { appId: task.appId, triggerType: 'manual', now: input.now, targets });
        const next = advanceReplay(
          task,
          {
            scanned: candidates.length,
            queued: deliveries.length,
            skippedExpired: missing.length - targets.length,
            lastMsgId: candidates.at(-1)?.id ?? null,
            done: candidates.length < input.limit,
          },
          input.now,
        );
        await this.run('saveBackgroundTask', { ...backgroundTaskParams(next), lockedUntil: next.status === 'running' ? now + input.leaseMs : null }, client);
        return { task: next, queued: deliveries.length };
      }),
    );
  }

  async releaseBackgroundTask(input: { id: string; leaseOwner: string; now: Date; error?: string | null }): Promise<boolean> {
    return this.guard(() =>
      this.transaction(async (client) => {
        const row = await this.one<BackgroundTaskRow>('lockBackgroundTask', { id: input.id }, client);
        if (!row || row.status !== 'running' || row.lease_owner !== input.leaseOwner) return false;
        const task = toBackgroundTask(row);
        const next = input.error ? failTask(task, input.error, input.now) : { ...task, updatedAt: input.now };
        await this.run('saveBackgroundTask', { ...backgroundTaskParams(next), lockedUntil: null }, client);
        return true;
      }),
    );
  }

  // Operator health (the dashboard) -----------------------------------------------------------

  async countAttemptsOverTime(input: AttemptCountsInput): Promise<AttemptBucket[]> {
    const statement: StatementName = input.endpointId ? 'countEndpointAttemptsOverTime' : input.appId ? 'countAppAttemptsOverTime' : 'countAttemptsOverTime';
    const params: Record<string, unknown> = {
      since: input.since.getTime(),
      until: input.until.getTime(),
      bucketMs: Math.max(1, Math.round(input.bucketMs)),
    };
    if (input.appId) {
      params.appId = input.appId;
      // Attempt ids start with their time (the worker makes both from one clock reading), so the
      // (app_id, id) and (endpoint_id, id) indexes give the window as a range.
      params.minId = idFloorAt('atmpt', input.since.getTime());
    }
    if (input.endpointId) params.endpointId = input.endpointId;
    return this.guard(async () => {
      const { rows } = await this.run<{ bucket: number; success: number; fail: number }>(statement, params);
      return rows.map((r) => ({ index: Number(r.bucket), success: r.success, fail: r.fail }));
    });
  }

  async listUnhealthyEndpoints(limit: number): Promise<{ failing: Endpoint[]; disabled: Endpoint[] }> {
    return this.guard(async () => {
      const [failing, disabled] = await Promise.all([
        this.run<EndpointRow>('selectFailingEndpoints', { limit }),
        this.run<EndpointRow>('selectDisabledEndpoints', { limit }),
      ]);
      return { failing: failing.rows.map(toEndpoint), disabled: disabled.rows.map(toEndpoint) };
    });
  }

  async listSlowestEndpoints(input: { since: Date; until: Date; limit: number }): Promise<EndpointLatency[]> {
    return this.guard(async () => {
      const { rows } = await this.run<{ endpoint_id: string; app_id: string; attempts: number; avg_ms: number; max_ms: number }>('selectSlowestEndpoints', {
        since: input.since.getTime(),
        until: input.until.getTime(),
        limit: input.limit,
      });
      return rows.map((r) => ({ endpointId: r.endpoint_id, appId: r.app_id, attempts: r.attempts, avgDurationMs: r.avg_ms, maxDurationMs: r.max_ms }));
    });
  }

  // Plumbing --------------------------------------------------------------------------------

  /** Run `work`, turning every driver error into a TapwireError (nothing from the driver leaks). */
  private async guard<T>(work: () => Promise<T>, context: ErrorContext = {}): Promise<T> {
    if (this.closed) throw new TapwireError('store_unavailable', { detail: 'The store is closed' });
    try {
      return await work();
    } catch (error) {
      throw translateError(error, context);
    }
  }

  /**
   * Run `work` in one transaction on one pooled connection. A connection that broke on the way
   * (the ROLLBACK fails, or it reported an error while checked out) is destroyed, not pooled again.
   */
  /** Remembers how many deliveries an application's last message made, for the next guess of ids. */
  /**
   * Delivery ids for a message of this application made before its fan-out is known. Most
   * applications have few endpoints per event type: guess generously from its last message.
   */
  private guessDeliveryIds(appId: string, now: Date): string[] {
    const guess = Math.max(MIN_DELIVERY_IDS, this.fanOutHint.get(appId) ?? 0);
    return Array.from({ length: guess }, () => newId('msgep', now.getTime()));
  }

  private rememberFanOut(appId: string, count: number): void {
    if (count <= MIN_DELIVERY_IDS) {
      this.fanOutHint.delete(appId);
      return;
    }
    // A bound on memory, not a cache policy: forgetting only costs one retried statement.
    if (this.fanOutHint.size >= 10_000) this.fanOutHint.clear();
    this.fanOutHint.set(appId, count);
  }

  private async transaction<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    // The pool listens for errors only on idle connections; one dropped while we hold it would
    // otherwise be an unhandled 'error' event.
    const onError = (error: Error): void => {
      broken = error;
    };
    client.on('error', onError);
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      try {
        await client.query('ROLLBACK');
      } catch (rollbackError) {
        broken ??= rollbackError as Error;
      }
      throw error;
    } finally {
      client.removeListener('error', onError);
      client.release(broken);
    }
  }

  /** Run a named statement (prepared once per connection) with named parameters. */
  private run<R extends QueryResultRow = QueryResultRow>(
    name: StatementName,
    params: Record<string, unknown>,
    on: Queryable = this.pool,
    scan?: Scan,
  ): Promise<QueryResult<R>> {
    const statement = compile(name, scan);
    const values = statement.params.map((param) => {
      if (!(param in params)) throw new Error(`Statement ${name} needs @${param}`);
      return params[param];
    });
    return (on as pg.Pool).query<R>({ name: statement.name, text: statement.text, values });
  }

  private async one<R extends QueryResultRow>(name: StatementName, params: Record<string, unknown>, on?: Queryable): Promise<R | undefined> {
    return (await this.run<R>(name, params, on)).rows[0];
  }

  /** Rows of an `id = ANY(@ids)` statement, by id. */
  private async byId<R extends QueryResultRow & { id: string }>(name: StatementName, ids: string[], on: Queryable = this.pool): Promise<Map<string, R>> {
    if (ids.length === 0) return new Map();
    const { rows } = await this.run<R>(name, { ids: [...new Set(ids)] }, on);
    return new Map(rows.map((row) => [row.id, row]));
  }

  /**
   * Run `change` alone when there are no messages to queue with it (one statement, no transaction),
   * else in one transaction with the messages queued after it when `shouldQueue(result)` holds.
   */
  private async withMessages<T>(
    messages: Message[] | undefined,
    change: (client?: PoolClient) => Promise<T>,
    shouldQueue: (result: T) => boolean = () => true,
  ): Promise<T> {
    if (!messages?.length) return change();
    return this.transaction(async (client) => {
      const result = await change(client);
      if (shouldQueue(result)) await this.queueMessages(client, messages);
      return result;
    });
  }

  /** Accept messages inside the caller's transaction (see QueueMessagesOptions), fanned out as createMessage does. */
  private async queueMessages(client: PoolClient, messages: Message[] | undefined): Promise<void> {
    for (const message of messages ?? []) {
      const { rowCount } = await this.run('lockApplication', { id: message.appId }, client);
      if (!rowCount) continue;
      const row = (await this.one<MessageRow & { endpoint_ids: string[] }>('insertMessage', { ...messageParams(message), endpointIds: null }, client))!;
      await this.insertDeliveries(client, {
        appId: message.appId,
        triggerType: 'scheduled',
        now: message.createdAt,
        targets: row.endpoint_ids.map((endpointId) => ({ msgId: message.id, endpointId })),
      });
    }
  }

  /** Insert one pending delivery per target in one statement, notifying listeners on commit. */
  private async insertDeliveries(
    client: PoolClient,
    input: { appId: string; triggerType: TriggerTypeName; now: Date; targets: { msgId: string; endpointId: string }[] },
  ): Promise<Delivery[]> {
    if (input.targets.length === 0) return [];
    const { rows } = await this.run<DeliveryRow>(
      'insertDeliveries',
      {
        appId: input.appId,
        triggerType: input.triggerType,
        now: input.now.getTime(),
        ids: input.targets.map(() => newId('msgep', input.now.getTime())),
        msgIds: input.targets.map((t) => t.msgId),
        endpointIds: input.targets.map((t) => t.endpointId),
      },
      client,
    );
    return rows.sort((a, b) => (a.id < b.id ? -1 : 1)).map(toDelivery);
  }

  /**
   * One cursor page (see {@link Page}): fetch limit+1 rows in scan order to learn whether more exist;
   * a `-key` iterator scans the other way from the key and the rows are flipped back into the
   * requested order.
   */
  private async page<R extends QueryResultRow, T>(
    name: StatementName,
    query: ListQuery,
    defaultOrder: 'ascending' | 'descending',
    params: Record<string, unknown>,
    keyOf: (row: R) => string,
    toItem: (row: R) => T,
  ): Promise<Page<T>> {
    const order = query.order ?? defaultOrder;
    const iterator = query.iterator || null;
    const backwards = iterator?.startsWith('-') ?? false;
    const key = iterator === null ? null : backwards ? iterator.slice(1) : iterator;
    const scanUp = (order === 'ascending') !== backwards;
    const cursor = key ?? (scanUp ? '' : KEY_MAX);
    const { rows } = await this.run<R>(name, { ...params, cursor, limit: query.limit + 1 }, this.pool, scanUp ? 'up' : 'down');
    const done = rows.length <= query.limit;
    const pageRows = rows.slice(0, query.limit);
    if (backwards) pageRows.reverse();
    const first = pageRows[0];
    const last = pageRows[pageRows.length - 1];
    return {
      data: pageRows.map(toItem),
      iterator: last === undefined ? null : keyOf(last),
      prevIterator: first === undefined ? null : `-${keyOf(first)}`,
      done,
    };
  }
}

// LISTEN ----------------------------------------------------------------------------------------

/** One `onDeliveriesQueued` subscription: a connection of its own that reconnects until stopped. */
class DeliveriesListener {
  private client: pg.Client | null = null;
  private stopped = false;
  private failures = 0;
  /** Connection attempts so far; every connect after the first reports once (see connect()). */
  private connectAttempts = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  /** The schema this store's tables live in; notifications from other schemas are not for us. */
  private schema: string | null = null;

  constructor(
    private readonly config: ClientConfig,
    private readonly listener: () => void,
    private readonly logger: StoreLogger | undefined,
  ) {}

  /** Connect once; on failure keep retrying in the background (never throws). */
  async start(): Promise<void> {
    await this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    this.connectAttempts++;
    const client = new pg.Client(this.config);
    let lost = false;
    const onLost = (error?: Error): void => {
      if (lost) return;
      lost = true;
      if (this.client === client) this.client = null;
      client.end().catch(() => undefined);
      if (this.stopped) return;
      this.logger?.warn({ err: error }, 'postgres listen connection lost; reconnecting');
      this.scheduleReconnect();
    };
    client.on('error', onLost);
    client.on('end', () => onLost());
    client.on('notification', (notification: Notification) => {
      if (notification.channel !== DELIVERIES_CHANNEL) return;
      if (this.schema !== null && notification.payload !== this.schema) return;
      this.notify();
    });
    try {
      await client.connect();
      const { rows } = await client.query<{ schema: string | null }>('SELECT current_schema() AS schema');
      this.schema = rows[0]?.schema ?? null;
      await client.query(`LISTEN ${DELIVERIES_CHANNEL}`);
    } catch (error) {
      onLost(error as Error);
      return;
    }
    if (lost) return;
    if (this.stopped) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.failures = 0;
    // Deliveries queued since the first attempt, while we were not listening, sent notifications
    // nobody heard.
    if (this.connectAttempts > 1) this.notify();
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.retryTimer) return;
    const base = Math.min(LISTENER_BACKOFF_MS.max, LISTENER_BACKOFF_MS.first * 2 ** this.failures);
    this.failures++;
    const delay = base / 2 + Math.random() * (base / 2);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.connect();
    }, delay);
    this.retryTimer.unref();
  }

  /** Call the listener; its errors are its own and must not kill the connection or the process. */
  private notify(): void {
    try {
      this.listener();
    } catch (error) {
      this.logger?.warn({ err: error }, 'deliveries-queued listener threw');
    }
  }
}

// Helpers -------------------------------------------------------------------------------------

/**
 * Split our own `schema` parameter off a PostgreSQL URL. The schema is applied to every connection
 * as a startup option (`-c search_path=NAME`), merged into any `options` the URL already has.
 */
export function parsePostgresUrl(url: string): { connectionString: string; schema: string | null } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (error) {
    throw new TapwireError('generic_error', { detail: 'The PostgreSQL URL cannot be parsed', cause: error });
  }
  const schema = parsed.searchParams.get('schema');
  if (schema === null) return { connectionString: url, schema: null };
  if (!SCHEMA_NAME.test(schema)) {
    throw new TapwireError('generic_error', {
      detail: `Invalid schema '${schema}' in the database URL: use lowercase letters, digits and '_' (at most 63, not starting with a digit)`,
    });
  }
  parsed.searchParams.delete('schema');
  const options = parsed.searchParams.get('options');
  parsed.searchParams.set('options', `${options ? `${options} ` : ''}-c search_path=${schema}`);
  return { connectionString: parsed.toString(), schema };
}

/**
 * Planner settings of the delivery worker's connections. Every statement they run (claims, the
 * reads after a claim, attempt records) finds its rows through an index by design, but the planner
 * only knows that once ANALYZE has seen the tables: on a fresh or fast-growing database it has no
 * statistics yet (autovacuum analyzes at most once a minute), estimates a handful of rows, and picks
 * a sequential scan or a bitmap scan plus a sort of every due delivery, which the prepared statement
 * then keeps. Such a plan costs time in proportion to the whole queue on every claim. Discouraging
 * those two scan kinds keeps the plans that are right at any size (an index scan costs little more
 * on a tiny table); a scan with no index to use still runs.
 */
const DELIVERY_SESSION_OPTIONS = '-c enable_seqscan=off -c enable_bitmapscan=off';

/** `connectionString` with `options` (startup `-c name=value` settings) added to any it already has. */
export function withSessionOptions(connectionString: string, options: string): string {
  const parsed = new URL(connectionString);
  const existing = parsed.searchParams.get('options');
  parsed.searchParams.set('options', existing ? `${existing} ${options}` : options);
  return parsed.toString();
}

/** `host:port/database` of a connection string, for messages (never the user or password). */
function serverOf(connectionString: string): string {
  try {
    const url = new URL(connectionString);
    return `${url.host || 'localhost'}${url.pathname}`;
  } catch {
    return 'the configured server';
  }
}

/** The driver's own words for an error (the first of a Node AggregateError's). */
function reasonOf(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) return reasonOf(error.errors[0]);
  const message = error instanceof Error ? error.message : String(error);
  return message || ((error as { code?: string })?.code ?? 'unknown error');
}

/** Node socket errors that mean "cannot reach the server". */
const NETWORK_ERROR_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH',
  'ENETUNREACH', 'ENETDOWN', 'EADDRNOTAVAIL',
]);

/**
 * SQLSTATEs that mean "the database cannot serve us right now", not "your request is wrong":
 * connection exceptions (08), shutdown and restart (57P01–57P03), statement timeout (57014),
 * insufficient resources (53: too many connections, disk full), authentication and a missing
 * database (28, 3D000: misconfiguration, but nothing a request can fix), transaction
 * conflicts that a retry resolves (40001 serialization, 40P01 deadlock), and a server that takes no
 * writes (25006: a hot standby, say, until a failover promotes it, or default_transaction_read_only).
 */
function isUnavailable(code: string): boolean {
  return (
    code.startsWith('08') || code.startsWith('53') || code.startsWith('28') ||
    ['57P01', '57P02', '57P03', '57014', '3D000', '40001', '40P01', '25006'].includes(code)
  );
}

/** pg and pg-pool report a lost or impossible connection with these messages (and no code). */
const CONNECTION_MESSAGES = /Connection terminated|timeout exceeded when trying to connect|connection timeout|Query read timeout|not queryable|Cannot use a pool after calling end/i;

function translateError(error: unknown, context: ErrorContext = {}): TapwireError {
  if (error instanceof TapwireError) return error;
  const first = error instanceof AggregateError && error.errors.length > 0 ? error.errors[0] : error;
  const { code = '', constraint } = (first ?? {}) as { code?: string; constraint?: string };
  const message = reasonOf(error);
  if (code === '23505') {
    const column = constraint ? UNIQUE_CONSTRAINTS[constraint] : undefined;
    const detail = column ? context.conflicts?.[column] : undefined;
    return new TapwireError('conflict', { detail: detail ?? `Already exists (${column ?? constraint ?? 'unique constraint'})`, cause: error });
  }
  if (code === '23503') {
    return new TapwireError('not_found', { detail: context.missingParent ?? 'A referenced entity was not found', cause: error });
  }
  if (code === '57014') {
    return new TapwireError('store_unavailable', { detail: 'The database did not answer in time; try again', cause: error });
  }
  if (isUnavailable(code) || NETWORK_ERROR_CODES.has(code) || CONNECTION_MESSAGES.test(message)) {
    return new TapwireError('store_unavailable', { cause: error });
  }
  // PostgreSQL text cannot hold U+0000 (SQLite can): refuse the value instead of failing with a 500.
  if (code === '22021' || code === '22P05') {
    return new TapwireError('generic_error', { detail: 'Text containing the NUL character (\\u0000) cannot be stored', cause: error });
  }
  return new TapwireError('server_error', { cause: error });
}

/**
 * Rethrow an error of a migration step; one that is neither a conflict nor an outage (say, no
 * permission to create the schema) keeps PostgreSQL's own words, which the operator needs.
 */
function explainFailure(what: string): (error: unknown) => never {
  return (error) => {
    const translated = translateError(error);
    if (translated.code !== 'server_error') throw translated;
    throw new TapwireError('server_error', { detail: `${what}: ${reasonOf(error)}`, cause: error });
  };
}

/** JSON text for a `@x::json` parameter (pg would turn a JS array into a PostgreSQL array literal). */
function json(value: unknown): string {
  return JSON.stringify(value);
}

function toApplication(r: ApplicationRow): Application {
  return {
    id: r.id,
    uid: r.uid,
    name: r.name,
    throttleRate: r.throttle_rate,
    metadata: r.metadata,
    createdAt: new Date(r.created_at),
    updatedAt: new Date(r.updated_at),
  };
}

function applicationParams(app: Application): Record<string, unknown> {
  return {
    id: app.id,
    uid: app.uid,
    name: app.name,
    throttleRate: app.throttleRate,
    metadata: json(app.metadata),
    createdAt: app.createdAt.getTime(),
    updatedAt: app.updatedAt.getTime(),
  };
}

function toEndpoint(r: EndpointRow): Endpoint {
  return {
    id: r.id,
    appId: r.app_id,
    uid: r.uid,
    url: r.url,
    description: r.description,
    disabled: r.disabled,
    eventTypes: r.event_types,
    channels: r.channels,
    throttleRate: r.throttle_rate,
    ...(r.concurrency_limit !== null ? { concurrencyLimit: r.concurrency_limit } : {}),
    version: r.version,
    metadata: r.metadata,
    secret: r.secret,
    oldSecrets: r.old_secrets.map((s): OldSecret => ({ secret: s.secret, expiresAt: new Date(s.expiresAt) })),
    headers: r.headers,
    ...(r.failing_since !== null ? { failingSince: new Date(r.failing_since) } : {}),
    createdAt: new Date(r.created_at),
    updatedAt: new Date(r.updated_at),
  };
}

function endpointParams(e: Endpoint): Record<string, unknown> {
  return {
    id: e.id,
    appId: e.appId,
    uid: e.uid,
    url: e.url,
    description: e.description,
    disabled: e.disabled,
    eventTypes: e.eventTypes,
    channels: e.channels,
    throttleRate: e.throttleRate,
    concurrencyLimit: e.concurrencyLimit ?? null,
    version: e.version,
    metadata: json(e.metadata),
    secret: e.secret,
    // Old secrets keep their expiry as epoch ms, like every other time in the database.
    oldSecrets: json(e.oldSecrets.map((s) => ({ secret: s.secret, expiresAt: s.expiresAt.getTime() }))),
    headers: json(e.headers),
    createdAt: e.createdAt.getTime(),
    updatedAt: e.updatedAt.getTime(),
  };
}

function toEventType(r: EventTypeRow): EventType {
  return {
    name: r.name,
    description: r.description,
    archived: r.archived,
    deprecated: r.deprecated,
    schemas: r.schemas,
    featureFlag: r.feature_flag,
    createdAt: new Date(r.created_at),
    updatedAt: new Date(r.updated_at),
  };
}

function eventTypeParams(t: EventType): Record<string, unknown> {
  return {
    name: t.name,
    description: t.description,
    archived: t.archived,
    deprecated: t.deprecated,
    schemas: t.schemas === null ? null : json(t.schemas),
    featureFlag: t.featureFlag,
    createdAt: t.createdAt.getTime(),
    updatedAt: t.updatedAt.getTime(),
  };
}

function toMessage(r: MessageRow): Message {
  return {
    id: r.id,
    appId: r.app_id,
    eventId: r.event_id,
    eventType: r.event_type,
    payload: r.payload,
    channels: r.channels,
    createdAt: new Date(r.created_at),
    payloadExpiresAt: new Date(r.payload_expires_at),
  };
}

function messageParams(m: Message): Record<string, unknown> {
  return {
    id: m.id,
    appId: m.appId,
    eventId: m.eventId,
    eventType: m.eventType,
    payload: m.payload,
    channels: m.channels,
    createdAt: m.createdAt.getTime(),
    payloadExpiresAt: m.payloadExpiresAt.getTime(),
  };
}

/** The optional message filters every message-shaped list accepts. */
function messageFilterParams(query: { before?: Date | null; after?: Date | null; channel?: string | null; eventTypes?: string[] | null }): Record<string, unknown> {
  return {
    before: query.before?.getTime() ?? null,
    after: query.after?.getTime() ?? null,
    channel: query.channel ?? null,
    eventTypes: query.eventTypes ?? null,
  };
}

interface BackgroundTaskRow {
  id: string;
  app_id: string;
  task: BackgroundTaskKind;
  status: BackgroundTaskStatus;
  data: Record<string, unknown>;
  cursor: string | null;
  lease_owner: string | null;
  locked_until: number | null;
  created_at: number;
  updated_at: number;
}

function toBackgroundTask(r: BackgroundTaskRow): BackgroundTask {
  return {
    id: r.id,
    appId: r.app_id,
    task: r.task,
    status: r.status,
    data: r.data,
    cursor: r.cursor,
    createdAt: new Date(r.created_at),
    updatedAt: new Date(r.updated_at),
  };
}

function backgroundTaskParams(t: BackgroundTask): Record<string, unknown> {
  return {
    id: t.id,
    appId: t.appId,
    task: t.task,
    status: t.status,
    data: JSON.stringify(t.data),
    cursor: t.cursor,
    createdAt: t.createdAt.getTime(),
    updatedAt: t.updatedAt.getTime(),
  };
}

/**
 * The dashboard's health statements (spread into SQL; a function so it can live down here). Each
 * reads a bounded window through an index: attempts_time for the whole server, attempts_app and
 * attempts_endpoint (with the window's first attempt id) for one application or endpoint. The
 * endpoint lists scan the endpoints table, one row per registered URL, with a LIMIT.
 */
function operatorHealthSql() {
  const buckets = (scope: string) => `
    SELECT (attempted_at - @since::bigint) / @bucketMs::bigint AS bucket,
           COUNT(*) FILTER (WHERE status = 'success') AS success, COUNT(*) FILTER (WHERE status = 'fail') AS fail
    FROM attempts
    WHERE ${scope} attempted_at >= @since AND attempted_at < @until::bigint
    GROUP BY bucket ORDER BY bucket`;
  return {
    countAttemptsOverTime: buckets(''),
    countAppAttemptsOverTime: buckets('app_id = @appId AND id >= @minId AND'),
    countEndpointAttemptsOverTime: buckets('endpoint_id = @endpointId AND app_id = @appId AND id >= @minId AND'),
    selectFailingEndpoints: `
      SELECT ${ENDPOINT} FROM endpoints
      WHERE deleted_at IS NULL AND NOT disabled AND failing_since IS NOT NULL
      ORDER BY failing_since, id LIMIT @limit`,
    selectDisabledEndpoints: `
      SELECT ${ENDPOINT} FROM endpoints
      WHERE deleted_at IS NULL AND disabled
      ORDER BY updated_at DESC, id LIMIT @limit`,
    selectSlowestEndpoints: `
      SELECT endpoint_id, app_id, COUNT(*) AS attempts,
             AVG(response_duration_ms)::float8 AS avg_ms, MAX(response_duration_ms) AS max_ms
      FROM attempts
      WHERE attempted_at >= @since::bigint AND attempted_at < @until::bigint
      GROUP BY endpoint_id, app_id
      ORDER BY avg_ms DESC, endpoint_id LIMIT @limit`,
  } as const;
}
