// The embedded Store: one SQLite file through better-sqlite3, no database server to run.
// better-sqlite3 is synchronous, so each method runs its whole transaction before it returns and
// two calls in one process never interleave; BEGIN IMMEDIATE orders writers across processes.
import { accessSync, constants as fsConstants, mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';

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
import {
  advancedThrottleTat,
  claimRoundParams,
  MAX_CLAIM_ROUNDS,
  planClaimRound,
  retryBudgetOf,
  roomOf,
  THROTTLE_BURST_MS,
  type ClaimCandidate,
  type ClaimRoundParams,
  type EndpointSchedule,
} from '../claim-rules.js';
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

export type { StoreLogger } from '../store.js';

export interface SqliteStoreOptions {
  /** Database file, or `:memory:` for a private in-memory database. Parent directories are created. */
  path: string;
  /** Receives one line per applied migration and open-time warnings. Default: silent. */
  logger?: StoreLogger;
}

/** Where the numbered `.sql` files live; the build copies this folder next to the compiled file. */
const MIGRATIONS_DIR = new URL('./migrations/', import.meta.url);

/** Sorts after every key we issue, so "before the end" needs no special-case statement. */
const KEY_MAX = '\u{10FFFF}';

/** Driver error codes that mean "the database cannot be used right now", not "your request is wrong". */
const UNAVAILABLE_CODES = ['SQLITE_BUSY', 'SQLITE_LOCKED', 'SQLITE_IOERR', 'SQLITE_FULL', 'SQLITE_READONLY', 'SQLITE_CANTOPEN', 'SQLITE_CORRUPT', 'SQLITE_NOTADB', 'SQLITE_PROTOCOL'];

// Rows as SQLite returns them ------------------------------------------------------------------

interface ApplicationRow {
  id: string;
  uid: string | null;
  name: string;
  throttle_rate: number | null;
  metadata: string;
  created_at: number;
  updated_at: number;
}

interface EndpointRow {
  id: string;
  app_id: string;
  uid: string | null;
  url: string;
  description: string;
  disabled: number;
  event_types: string | null;
  channels: string | null;
  throttle_rate: number | null;
  concurrency_limit: number | null;
  version: number;
  metadata: string;
  secret: string;
  old_secrets: string;
  headers: string;
  created_at: number;
  updated_at: number;
  deleted_at: number | null;
  failing_since: number | null;
}

interface EventTypeRow {
  name: string;
  description: string;
  archived: number;
  deprecated: number;
  schemas: string | null;
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
  channels: string | null;
  created_at: number;
  payload_expires_at: number;
}

/** A delivery read by a claim round's window and parked-queue statements. */
interface ClaimWindowRow {
  id: string;
  endpoint_id: string;
  due_at: number;
  attempt_count: number;
}

// SQL ---------------------------------------------------------------------------------------------
// List statements are written once with `{cmp}` / `{dir}` and prepared twice: scanning up
// (`> @cursor ORDER BY … ASC`) and scanning down (`< @cursor ORDER BY … DESC`). Forward and backward
// pages in either order map onto one of the two, so every list is a plain index range scan.

/** The latest delivery of its (message, endpoint) pair; used wherever "current state" is shown. */
const IS_LATEST_DELIVERY = `d.id = (SELECT MAX(d2.id) FROM deliveries d2 WHERE d2.msg_id = d.msg_id AND d2.endpoint_id = d.endpoint_id)`;

/** Optional message filters shared by the message, attempt and attempted-message lists. */
const MESSAGE_FILTERS = `
  AND (@channel IS NULL OR EXISTS (SELECT 1 FROM json_each(m.channels) WHERE value = @channel))
  AND (@eventTypes IS NULL OR m.event_type IN (SELECT value FROM json_each(@eventTypes)))`;

/**
 * Fan-out matching, shared by fan-out and replay-missing: endpoint `e`'s event-type filter admits the
 * type and its channel filter overlaps the channels (JSON text; a message without channels never
 * reaches a channel endpoint). The arguments are SQL expressions for the type and the channels.
 */
function endpointAccepts(eventType: string, channels: string): string {
  return `(e.event_types IS NULL OR EXISTS (SELECT 1 FROM json_each(e.event_types) WHERE value = ${eventType}))
      AND (e.channels IS NULL OR EXISTS (
        SELECT 1 FROM json_each(e.channels) ec JOIN json_each(${channels}) mc ON mc.value = ec.value))`;
}

const SQL = {
  insertApplication: `
    INSERT INTO applications (id, uid, name, throttle_rate, metadata, created_at, updated_at)
    VALUES (@id, @uid, @name, @throttleRate, @metadata, @createdAt, @updatedAt)
    RETURNING *`,
  // An id match wins over a uid match, should some uid happen to equal another application's id.
  selectApplicationByIdOrUid: `
    SELECT * FROM applications WHERE id = @key OR uid = @key
    ORDER BY id = @key DESC LIMIT 1`,
  updateApplication: `
    UPDATE applications
    SET uid = @uid, name = @name, throttle_rate = @throttleRate, metadata = @metadata, updated_at = @updatedAt
    WHERE id = @id
    RETURNING *`,
  // Endpoints, messages, deliveries, attempts and tokens go with it through ON DELETE CASCADE.
  deleteApplication: `DELETE FROM applications WHERE id = @id`,
  selectApplicationExists: `SELECT 1 AS present FROM applications WHERE id = @id`,
  listApplications: `
    SELECT * FROM applications WHERE id {cmp} @cursor ORDER BY id {dir} LIMIT @limit`,

  insertEndpoint: `
    INSERT INTO endpoints (id, app_id, uid, url, description, disabled, event_types, channels, throttle_rate,
                           concurrency_limit, version, metadata, secret, old_secrets, headers, created_at, updated_at)
    VALUES (@id, @appId, @uid, @url, @description, @disabled, @eventTypes, @channels, @throttleRate,
            @concurrencyLimit, @version, @metadata, @secret, @oldSecrets, @headers, @createdAt, @updatedAt)
    RETURNING *`,
  selectEndpointByIdOrUid: `
    SELECT * FROM endpoints
    WHERE app_id = @appId AND deleted_at IS NULL AND (id = @key OR uid = @key)
    ORDER BY id = @key DESC LIMIT 1`,
  /** Including deleted ones: a queued delivery must learn that its endpoint is gone. */
  selectEndpointById: `SELECT * FROM endpoints WHERE id = @id`,
  updateEndpoint: `
    UPDATE endpoints
    SET uid = @uid, url = @url, description = @description, disabled = @disabled, event_types = @eventTypes,
        channels = @channels, throttle_rate = @throttleRate, concurrency_limit = @concurrencyLimit, version = @version,
        metadata = @metadata, secret = @secret, old_secrets = @oldSecrets, headers = @headers, updated_at = @updatedAt,
        -- Re-enabling starts health tracking afresh (SET reads the row's values before the update).
        failing_since = CASE WHEN disabled = 1 AND @disabled = 0 THEN NULL ELSE failing_since END
    WHERE id = @id AND app_id = @appId AND deleted_at IS NULL
    RETURNING *`,
  softDeleteEndpoint: `
    UPDATE endpoints SET deleted_at = @now, uid = NULL, updated_at = @now
    WHERE id = @id AND app_id = @appId AND deleted_at IS NULL`,
  failOpenDeliveriesOfEndpoint: `
    UPDATE deliveries SET status = 'fail', next_attempt_at = NULL, locked_until = NULL, updated_at = @now
    WHERE endpoint_id = @endpointId AND status IN ('pending', 'sending')`,
  // Endpoint health after an attempt, one statement that writes only when something changes: a
  // success clears failing_since, a failure sets it when unset, and 410 (@disable) or an endpoint
  // still failing since the time the worker found old enough disables it. Disabled (and deleted)
  // endpoints are left alone, so an attempt that ends after a disable cannot start a new streak.
  // RETURNING disabled = 1 means this statement disabled it.
  updateEndpointHealth: `
    UPDATE endpoints
    SET failing_since = CASE WHEN @health = 'success' THEN NULL ELSE COALESCE(failing_since, @now) END,
        disabled = CASE WHEN @disable = 1 OR failing_since = @autoDisableFailingSince THEN 1 ELSE disabled END,
        updated_at = CASE WHEN @disable = 1 OR failing_since = @autoDisableFailingSince THEN @now ELSE updated_at END
    WHERE id = @endpointId AND disabled = 0 AND deleted_at IS NULL
      AND CASE @health
            WHEN 'success' THEN failing_since IS NOT NULL
            WHEN 'failure' THEN failing_since IS NULL OR @disable = 1 OR failing_since = @autoDisableFailingSince
            ELSE @disable = 1
          END
    RETURNING disabled`,
  listEndpoints: `
    SELECT * FROM endpoints
    WHERE app_id = @appId AND deleted_at IS NULL AND id {cmp} @cursor
    ORDER BY id {dir} LIMIT @limit`,

  insertEventType: `
    INSERT INTO event_types (name, description, archived, deprecated, schemas, feature_flag, created_at, updated_at)
    VALUES (@name, @description, @archived, @deprecated, @schemas, @featureFlag, @createdAt, @updatedAt)
    RETURNING *`,
  // "Replace" keeps the original creation time.
  upsertEventType: `
    INSERT INTO event_types (name, description, archived, deprecated, schemas, feature_flag, created_at, updated_at)
    VALUES (@name, @description, @archived, @deprecated, @schemas, @featureFlag, @createdAt, @updatedAt)
    ON CONFLICT (name) DO UPDATE SET
      description = excluded.description, archived = excluded.archived, deprecated = excluded.deprecated,
      schemas = excluded.schemas, feature_flag = excluded.feature_flag, updated_at = excluded.updated_at
    RETURNING *`,
  selectEventType: `SELECT * FROM event_types WHERE name = @name`,
  deleteEventType: `DELETE FROM event_types WHERE name = @name`,
  listEventTypes: `
    SELECT * FROM event_types
    WHERE (@includeArchived = 1 OR archived = 0) AND name {cmp} @cursor
    ORDER BY name {dir} LIMIT @limit`,

  insertMessage: `
    INSERT INTO messages (id, app_id, event_id, event_type, payload, channels, created_at, payload_expires_at)
    VALUES (@id, @appId, @eventId, @eventType, @payload, @channels, @createdAt, @payloadExpiresAt)
    RETURNING *`,
  // Fan-out: live, enabled endpoints whose event-type filter admits the type and whose channel filter
  // overlaps the message's channels (a message without channels never reaches a channel endpoint).
  selectFanOutEndpoints: `
    SELECT id FROM endpoints e
    WHERE e.app_id = @appId AND e.deleted_at IS NULL AND e.disabled = 0
      AND ${endpointAccepts('@eventType', '@channels')}
    ORDER BY e.id`,
  // Targeted fan-out (send-example): only the named endpoints, still only live and enabled ones.
  selectTargetedEndpoints: `
    SELECT id FROM endpoints e
    WHERE e.app_id = @appId AND e.deleted_at IS NULL AND e.disabled = 0
      AND e.id IN (SELECT value FROM json_each(@endpointIds))
    ORDER BY e.id`,
  selectMessageByIdOrEventId: `
    SELECT * FROM messages WHERE app_id = @appId AND (id = @key OR event_id = @key)
    ORDER BY id = @key DESC LIMIT 1`,
  selectMessageById: `SELECT * FROM messages WHERE id = @id`,
  listMessages: `
    SELECT m.* FROM messages m
    WHERE m.app_id = @appId AND m.id {cmp} @cursor
      AND (@before IS NULL OR m.created_at < @before)
      AND (@after IS NULL OR m.created_at > @after)
      ${MESSAGE_FILTERS}
      AND (@status IS NULL OR EXISTS (
        SELECT 1 FROM deliveries d JOIN endpoints e ON e.id = d.endpoint_id
        WHERE d.msg_id = m.id AND d.status = @status AND e.deleted_at IS NULL AND ${IS_LATEST_DELIVERY}))
    ORDER BY m.id {dir} LIMIT @limit`,
  expungePayload: `UPDATE messages SET payload = NULL WHERE app_id = @appId AND id = @id`,
  pruneAttempts: `
    DELETE FROM attempts WHERE id IN (SELECT id FROM attempts WHERE attempted_at < @before ORDER BY attempted_at LIMIT @limit)`,
  expirePayloads: `
    UPDATE messages SET payload = NULL
    WHERE id IN (
      SELECT id FROM messages WHERE payload IS NOT NULL AND payload_expires_at <= @now LIMIT @limit)`,
  listMessageDestinations: `
    SELECT d.* FROM deliveries d JOIN endpoints e ON e.id = d.endpoint_id
    WHERE d.msg_id = @msgId AND d.app_id = @appId AND e.deleted_at IS NULL
      AND ${IS_LATEST_DELIVERY}
      AND d.endpoint_id {cmp} @cursor
    ORDER BY d.endpoint_id {dir} LIMIT @limit`,
  listAttemptedMessages: `
    SELECT d.* FROM deliveries d JOIN messages m ON m.id = d.msg_id
    WHERE d.endpoint_id = @endpointId AND d.app_id = @appId
      AND ${IS_LATEST_DELIVERY}
      AND d.msg_id {cmp} @cursor
      AND (@status IS NULL OR d.status = @status)
      AND (@before IS NULL OR m.created_at < @before)
      AND (@after IS NULL OR m.created_at > @after)
      ${MESSAGE_FILTERS}
    ORDER BY d.msg_id {dir} LIMIT @limit`,

  insertDelivery: `
    INSERT INTO deliveries (id, msg_id, app_id, endpoint_id, status, trigger_type, attempt_count,
                            next_attempt_at, locked_until, created_at, updated_at)
    VALUES (@id, @msgId, @appId, @endpointId, 'pending', @triggerType, 0, @now, NULL, @now, @now)
    RETURNING *`,
  // A manual delivery is only queued when both the message and a live endpoint belong to the app.
  insertManualDelivery: `
    INSERT INTO deliveries (id, msg_id, app_id, endpoint_id, status, trigger_type, attempt_count,
                            next_attempt_at, locked_until, created_at, updated_at)
    SELECT @id, m.id, m.app_id, e.id, 'pending', 'manual', 0, @now, NULL, @now, @now
    FROM messages m JOIN endpoints e ON e.app_id = m.app_id
    WHERE m.id = @msgId AND m.app_id = @appId AND e.id = @endpointId AND e.deleted_at IS NULL
    RETURNING *`,
  selectRecoverableMessages: `
    SELECT d.msg_id FROM deliveries d
      JOIN messages m ON m.id = d.msg_id
      JOIN endpoints e ON e.id = d.endpoint_id
    WHERE d.endpoint_id = @endpointId AND d.app_id = @appId AND e.deleted_at IS NULL
      AND m.created_at >= @since AND m.created_at < @until
      AND d.status = 'fail'
      AND ${IS_LATEST_DELIVERY}
    ORDER BY d.msg_id`,
  // A claim round: these small indexed statements gather the candidates and what limits their
  // endpoints, planClaimRound (claim-rules.ts) decides, and the updates below apply it, all in one
  // IMMEDIATE transaction, so two claimers (threads or processes) never both take a row: SQLite runs
  // writers one at a time. Candidates: a window of due deliveries in due order (deliveries_due),
  // the first attempts (deliveries_first_due, read only when the retry budget may bind), and the
  // parked deliveries of each endpoint with room, oldest first (deliveries_parked). Leases are
  // counted on deliveries_leased. PostgresStore does the same in one statement.
  selectReadyWindow: `
    SELECT id, endpoint_id, next_attempt_at AS due_at, attempt_count FROM deliveries
    WHERE status IN ('pending', 'sending') AND next_attempt_at <= @now
      AND (locked_until IS NULL OR locked_until <= @now)
    ORDER BY next_attempt_at, id LIMIT @window`,
  selectFirstAttemptWindow: `
    SELECT id, endpoint_id, next_attempt_at AS due_at, attempt_count FROM deliveries
    WHERE status IN ('pending', 'sending') AND attempt_count = 0 AND next_attempt_at <= @now
      AND (locked_until IS NULL OR locked_until <= @now)
    ORDER BY next_attempt_at, id LIMIT @window`,
  // A loose index scan: one probe per endpoint with parked deliveries.
  selectParkedEndpoints: `
    WITH RECURSIVE parked_endpoints (endpoint_id) AS (
      SELECT (SELECT endpoint_id FROM deliveries
              WHERE status IN ('pending', 'sending') AND parked_due_at IS NOT NULL
              ORDER BY endpoint_id LIMIT 1)
      UNION ALL
      SELECT (SELECT d.endpoint_id FROM deliveries d
              WHERE d.status IN ('pending', 'sending') AND d.parked_due_at IS NOT NULL AND d.endpoint_id > p.endpoint_id
              ORDER BY d.endpoint_id LIMIT 1)
      FROM parked_endpoints p WHERE p.endpoint_id IS NOT NULL)
    SELECT endpoint_id FROM parked_endpoints WHERE endpoint_id IS NOT NULL`,
  selectEndpointSchedules: `
    SELECT e.id, COALESCE(e.concurrency_limit, @defaultConcurrency) AS concurrency, e.throttle_rate, e.throttle_tat,
           CASE WHEN COALESCE(e.concurrency_limit, @defaultConcurrency) IS NULL THEN 0
                ELSE (SELECT COUNT(*) FROM deliveries x
                      WHERE x.endpoint_id = e.id AND x.status IN ('pending', 'sending')
                        AND x.locked_until IS NOT NULL AND x.locked_until > @now) END AS leased
    FROM endpoints e WHERE e.id IN (SELECT value FROM json_each(@ids))`,
  selectParkedHeads: `
    SELECT id, endpoint_id, parked_due_at AS due_at, attempt_count FROM deliveries
    WHERE endpoint_id = @endpointId AND status IN ('pending', 'sending') AND parked_due_at IS NOT NULL
    ORDER BY parked_due_at, id LIMIT @limit`,
  // Status is left alone; only completeAttempt moves it. A parked delivery gets its due time back.
  leaseDeliveries: `
    UPDATE deliveries
    SET locked_until = @lockedUntil, next_attempt_at = COALESCE(next_attempt_at, parked_due_at), parked_due_at = NULL
    WHERE id IN (SELECT value FROM json_each(@ids))
    RETURNING *`,
  parkDeliveries: `
    UPDATE deliveries SET parked_due_at = next_attempt_at, next_attempt_at = NULL
    WHERE id IN (SELECT value FROM json_each(@ids)) AND next_attempt_at IS NOT NULL`,
  setThrottleTat: `UPDATE endpoints SET throttle_tat = @tat WHERE id = @id`,
  insertAttempt: `
    INSERT INTO attempts (id, delivery_id, msg_id, app_id, endpoint_id, url, response_status_code, response,
                          response_duration_ms, status, trigger_type, attempted_at)
    VALUES (@id, @deliveryId, @msgId, @appId, @endpointId, @url, @responseStatusCode, @response,
            @responseDurationMs, @status, @triggerType, @attemptedAt)`,
  finishAttemptOnDelivery: `
    UPDATE deliveries
    SET attempt_count = attempt_count + 1, status = @status, next_attempt_at = @nextAttemptAt,
        locked_until = NULL, updated_at = @now
    WHERE id = @id`,
  // A success makes older deliveries of the same message to the same endpoint that are still
  // waiting to retry pointless (a resend got through first): they end as success, unattempted.
  // Leased ones are left alone; their own attempt is already under way.
  supersedeOlderDeliveries: `
    UPDATE deliveries
    SET status = 'success', next_attempt_at = NULL, updated_at = @now
    WHERE msg_id = @msgId AND endpoint_id = @endpointId AND id < @id
      AND status IN ('pending', 'sending') AND (locked_until IS NULL OR locked_until <= @now)`,
  // min(max(next_attempt_at, locked_until)) over waiting deliveries without reading all of them (as
  // in PostgresStore): the first row in deliveries_due order not leased beyond its due time, and the
  // leased ones due before it (few: they are the attempts in flight). Parked deliveries count per
  // endpoint, from when it may start another attempt: a free slot (else its first lease end) and
  // its throttle's next start (throttle_tat less the burst tolerance). Without @now, from their due time.
  selectNextDueAt: `
    WITH RECURSIVE
      parked_endpoints (endpoint_id) AS (
        SELECT (SELECT endpoint_id FROM deliveries
                WHERE status IN ('pending', 'sending') AND parked_due_at IS NOT NULL
                ORDER BY endpoint_id LIMIT 1)
        UNION ALL
        SELECT (SELECT d.endpoint_id FROM deliveries d
                WHERE d.status IN ('pending', 'sending') AND d.parked_due_at IS NOT NULL AND d.endpoint_id > p.endpoint_id
                ORDER BY d.endpoint_id LIMIT 1)
        FROM parked_endpoints p WHERE p.endpoint_id IS NOT NULL),
      free AS (
        SELECT next_attempt_at AS due FROM deliveries
        WHERE status IN ('pending', 'sending') AND next_attempt_at IS NOT NULL
          AND (locked_until IS NULL OR locked_until <= next_attempt_at)
        ORDER BY next_attempt_at LIMIT 1),
      leased AS (
        SELECT MIN(locked_until) AS due FROM deliveries
        WHERE status IN ('pending', 'sending') AND locked_until > next_attempt_at
          AND next_attempt_at < COALESCE((SELECT due FROM free), 9223372036854775807)),
      parked AS (
        SELECT MIN(MAX(
          (SELECT MIN(h.parked_due_at) FROM deliveries h
           WHERE h.endpoint_id = e.id AND h.status IN ('pending', 'sending') AND h.parked_due_at IS NOT NULL),
          CASE WHEN @now IS NULL OR COALESCE(e.concurrency_limit, @defaultConcurrency) IS NULL THEN 0
               WHEN (SELECT COUNT(*) FROM deliveries x
                     WHERE x.endpoint_id = e.id AND x.status IN ('pending', 'sending')
                       AND x.locked_until IS NOT NULL AND x.locked_until > @now)
                    < COALESCE(e.concurrency_limit, @defaultConcurrency) THEN 0
               ELSE (SELECT MIN(x.locked_until) FROM deliveries x
                     WHERE x.endpoint_id = e.id AND x.status IN ('pending', 'sending')
                       AND x.locked_until IS NOT NULL AND x.locked_until > @now) END,
          CASE WHEN @now IS NULL OR e.throttle_rate IS NULL OR e.throttle_tat IS NULL THEN 0
               ELSE CAST(ceil(e.throttle_tat - (MAX(1, floor(e.throttle_rate * @burstMs / 1000.0)) - 1) * 1000.0 / e.throttle_rate) AS INTEGER)
          END)) AS due
        FROM parked_endpoints p JOIN endpoints e ON e.id = p.endpoint_id)
    SELECT NULLIF(MIN(COALESCE((SELECT due FROM free), 9223372036854775807),
                      COALESCE((SELECT due FROM leased), 9223372036854775807),
                      COALESCE((SELECT due FROM parked), 9223372036854775807)), 9223372036854775807) AS due`,
  selectQueueSnapshot: `
    SELECT COUNT(*) AS pending,
           COALESCE(SUM(CASE WHEN COALESCE(next_attempt_at, parked_due_at) <= @now THEN 1 ELSE 0 END), 0) AS due,
           MIN(CASE WHEN COALESCE(next_attempt_at, parked_due_at) <= @now THEN COALESCE(next_attempt_at, parked_due_at) END) AS oldest
    FROM deliveries
    WHERE status IN ('pending', 'sending') AND (locked_until IS NULL OR locked_until <= @now)`,
  selectDelivery: `SELECT * FROM deliveries WHERE id = @id`,

  // Attempts are listed through whichever index matches the narrowest filter given.
  listAttemptsByApp: attemptListSql('a.app_id = @appId'),
  listAttemptsByMsg: attemptListSql('a.msg_id = @msgId AND a.app_id = @appId'),
  listAttemptsByEndpoint: attemptListSql('a.endpoint_id = @endpointId AND a.app_id = @appId'),
  selectAttempt: `SELECT * FROM attempts WHERE id = @id AND msg_id = @msgId AND app_id = @appId`,
  countEndpointDeliveriesByStatus: `
    SELECT d.status AS status, COUNT(*) AS n FROM deliveries d JOIN messages m ON m.id = d.msg_id
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
    INSERT OR IGNORE INTO idempotency_responses (key_hash, status_code, body, content_type, expires_at)
    VALUES (@keyHash, @statusCode, @body, @contentType, @expiresAt)`,
  pruneIdempotency: `
    DELETE FROM idempotency_responses
    WHERE key_hash IN (SELECT key_hash FROM idempotency_responses WHERE expires_at <= @now LIMIT @limit)`,

  insertBackgroundTask: `
    INSERT INTO background_tasks (id, app_id, task, status, data, cursor, lease_owner, locked_until, created_at, updated_at)
    VALUES (@id, @appId, @task, @status, @data, @cursor, @leaseOwner, @lockedUntil, @createdAt, @updatedAt)
    RETURNING *`,
  selectBackgroundTask: `SELECT * FROM background_tasks WHERE id = @id`,
  listBackgroundTasks: `
    SELECT * FROM background_tasks
    WHERE (@appId IS NULL OR app_id = @appId) AND (@status IS NULL OR status = @status) AND (@task IS NULL OR task = @task)
      AND id {cmp} @cursor
    ORDER BY id {dir} LIMIT @limit`,
  // Running tasks whose process stopped (its lease expired, or it gave the lease up on close).
  claimBackgroundTasks: `
    UPDATE background_tasks SET lease_owner = @leaseOwner, locked_until = @lockedUntil
    WHERE id IN (
      SELECT id FROM background_tasks
      WHERE status = 'running' AND (locked_until IS NULL OR locked_until <= @now)
      ORDER BY id LIMIT @limit)
    RETURNING *`,
  saveBackgroundTask: `
    UPDATE background_tasks
    SET status = @status, data = @data, cursor = @cursor, locked_until = @lockedUntil, updated_at = @updatedAt
    WHERE id = @id`,
  // The next messages of a replay window after the cursor, each with what the batch needs to know:
  // expired (no payload left) and missing (no delivery to this endpoint at all, and accepted by the
  // endpoint's filters as fan-out would now). deliveries_msg_endpoint answers "no delivery" per row.
  // Keyset by id from the window's id floor: ids never sort before their creation time. They may
  // sort after it (a clock stepping back), so there is no safe upper id bound: the last batch of a
  // window that ends in the past reads on through the application's later messages.
  selectReplayCandidates: `
    SELECT m.id, m.payload IS NULL AS expired,
           (${endpointAccepts('m.event_type', 'm.channels')})
           AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.msg_id = m.id AND d.endpoint_id = e.id) AS missing
    FROM messages m JOIN endpoints e ON e.id = @endpointId
    WHERE m.app_id = @appId AND m.id > @cursor AND m.created_at >= @since AND m.created_at < @until
    ORDER BY m.id LIMIT @limit`,

  ping: `SELECT 1 AS one`,
  ...operatorHealthSql(),
} as const;

function attemptListSql(driver: string): string {
  return `
    SELECT a.* FROM attempts a JOIN messages m ON m.id = a.msg_id
    WHERE ${driver} AND a.id {cmp} @cursor
      AND (@msgId IS NULL OR a.msg_id = @msgId)
      AND (@endpointId IS NULL OR a.endpoint_id = @endpointId)
      AND (@status IS NULL OR a.status = @status)
      AND (@statusCodeClass IS NULL
           OR (@statusCodeClass = 0 AND a.response_status_code = 0)
           OR (@statusCodeClass > 0 AND a.response_status_code >= @statusCodeClass
               AND a.response_status_code < @statusCodeClass + 100))
      AND (@before IS NULL OR a.attempted_at < @before)
      AND (@after IS NULL OR a.attempted_at > @after)
      ${MESSAGE_FILTERS}
    ORDER BY a.id {dir} LIMIT @limit`;
}

type StatementName = keyof typeof SQL;
type Statement = Database.Statement<unknown[], unknown>;

/** What a driver error means in the context of one method. */
/** Most writes one group commit takes; the rest go in the next transaction of the same flush. */
const GROUP_COMMIT_MAX = 256;
/** Unsynced writes (attempt records) wait up to this long for others to share their commit… */
const UNSYNCED_GATHER_MS = 1;
/** …unless this many are already waiting. */
const UNSYNCED_GATHER_TARGET = 32;

interface ErrorContext {
  /** Conflict detail by the column named in SQLite's "UNIQUE constraint failed: table.column". */
  conflicts?: Record<string, string>;
  /** Detail for a FOREIGN KEY failure (a parent row that does not exist). */
  missingParent?: string;
}

/**
 * A SQLite-backed {@link Store}. Open with {@link SqliteStore.open} (synchronous), then call
 * `migrate()` before use. Durability: WAL with `synchronous = FULL`, so a resolved write survives a
 * power cut — an accepted message is on disk before the API answers 202.
 */
export class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  /** The resolved database file, or `:memory:`. */
  readonly path: string;
  private readonly db: Database.Database;
  private readonly logger: StoreLogger | undefined;
  /** Writes waiting for the next group commit (see writeGrouped). */
  private readonly groupedWrites: { work: () => unknown; context: ErrorContext; synced: boolean; resolve: (value: unknown) => void; reject: (error: unknown) => void }[] = [];
  private groupFlushScheduled = false;
  private groupFlushTimer: NodeJS.Timeout | null = null;
  /**
   * Endpoints whose failure streak a success has cleared within the group commit running now (see
   * completeAttempt). Emptied whenever work may be rolled back, so it never outlives what it saw.
   */
  private readonly healthyInCommit = new Set<string>();
  /** Each statement is prepared on first use and reused; list statements once per scan direction. */
  private readonly prepared = new Map<string, Statement>();

  private constructor(db: Database.Database, path: string, logger: StoreLogger | undefined) {
    this.db = db;
    this.path = path;
    this.logger = logger;
  }

  /**
   * Open (creating if needed) the database file and its parent directory, and set the connection
   * up: WAL, `synchronous = FULL`, `busy_timeout = 5000`, foreign keys on. Does not migrate.
   * Throws TapwireError('store_unavailable') naming the path when the file cannot be opened.
   */
  static open(options: SqliteStoreOptions): SqliteStore {
    const inMemory = options.path === ':memory:';
    const path = inMemory ? options.path : resolve(options.path);
    if (!inMemory) ensureWritableDirectory(path);
    let db: Database.Database | undefined;
    try {
      db = new Database(path);
      const journalMode = db.pragma('journal_mode = WAL', { simple: true });
      if (!inMemory && journalMode !== 'wal') {
        options.logger?.warn({ path, journalMode }, 'sqlite WAL mode unavailable');
      }
      // FULL: a commit is fsynced before it returns; NORMAL could lose the last commits on power loss.
      db.pragma('synchronous = FULL');
      db.pragma('busy_timeout = 5000');
      db.pragma('foreign_keys = ON');
      return new SqliteStore(db, path, options.logger);
    } catch (error) {
      db?.close();
      throw new TapwireError('store_unavailable', {
        detail: `Cannot open the SQLite database at '${path}': ${(error as Error).message}`,
        cause: error,
      });
    }
  }

  async migrate(): Promise<{ applied: number[] }> {
    return this.guard(() => {
      const applied: number[] = [];
      this.db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)');
      const isApplied = this.db.prepare('SELECT 1 FROM schema_migrations WHERE version = ?');
      const record = this.db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)');
      const migrations = readMigrations(MIGRATIONS_DIR);
      const newest = (this.db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number | null }).v ?? 0;
      const known = migrations.at(-1)?.version ?? 0;
      if (newest > known) {
        throw new TapwireError('schema_too_new', {
          detail: `The database is at schema version ${newest}, but this version of Tapwire knows migrations up to ${known}; upgrade Tapwire`,
        });
      }
      for (const migration of migrations) {
        // Checked inside an IMMEDIATE transaction so two processes starting together apply it once.
        const didApply = this.db
          .transaction(() => {
            if (isApplied.get(migration.version)) return false;
            this.db.exec(migration.sql);
            record.run(migration.version, new Date().toISOString());
            return true;
          })
          .immediate();
        if (didApply) {
          applied.push(migration.version);
          this.logger?.info({ version: migration.version, file: migration.file }, 'migration applied');
        }
      }
      return { applied };
    });
  }

  async ping(): Promise<StoreHealth> {
    try {
      this.get('ping', {});
      return { ok: true };
    } catch (error) {
      return { ok: false, detail: (error as Error).message };
    }
  }

  async close(): Promise<void> {
    // Writes already handed to the group commit are committed (or fail) before the file closes.
    if (this.groupFlushTimer) clearTimeout(this.groupFlushTimer);
    this.groupFlushTimer = null;
    this.flushGroupedWrites();
    if (this.db.open) this.db.close();
  }

  // Applications ----------------------------------------------------------------------------

  async createApplication(app: Application): Promise<Application> {
    return this.guard(() => toApplication(this.get<ApplicationRow>('insertApplication', applicationParams(app))!), {
      conflicts: {
        'applications.uid': `An application with uid '${app.uid}' already exists`,
        'applications.id': `An application with id '${app.id}' already exists`,
      },
    });
  }

  async getApplication(idOrUid: string): Promise<Application | null> {
    return this.guard(() => mapOrNull(this.get<ApplicationRow>('selectApplicationByIdOrUid', { key: idOrUid }), toApplication));
  }

  async updateApplication(app: Application): Promise<Application> {
    return this.guard(
      () => {
        const row = this.get<ApplicationRow>('updateApplication', applicationParams(app));
        if (!row) throw new TapwireError('not_found', { detail: 'Application not found' });
        return toApplication(row);
      },
      { conflicts: { 'applications.uid': `An application with uid '${app.uid}' already exists` } },
    );
  }

  async deleteApplication(id: string): Promise<boolean> {
    return this.guard(() => this.write(() => this.run('deleteApplication', { id }).changes > 0));
  }

  async listApplications(query: ListQuery): Promise<Page<Application>> {
    return this.guard(() => this.page<ApplicationRow, Application>('listApplications', query, 'ascending', {}, (r) => r.id, toApplication));
  }

  // Endpoints -------------------------------------------------------------------------------

  async createEndpoint(endpoint: Endpoint, options: QueueMessagesOptions = {}): Promise<Endpoint> {
    return this.guard(
      () =>
        this.write(() => {
          const row = this.get<EndpointRow>('insertEndpoint', endpointParams(endpoint))!;
          this.queueMessages(options.messages);
          return toEndpoint(row);
        }),
      { conflicts: endpointConflicts(endpoint), missingParent: 'Application not found' },
    );
  }

  async getEndpoint(appId: string, idOrUid: string): Promise<Endpoint | null> {
    return this.guard(() => mapOrNull(this.get<EndpointRow>('selectEndpointByIdOrUid', { appId, key: idOrUid }), toEndpoint));
  }

  async updateEndpoint(endpoint: Endpoint, options: QueueMessagesOptions = {}): Promise<Endpoint> {
    return this.guard(
      () =>
        this.write(() => {
          const row = this.get<EndpointRow>('updateEndpoint', endpointParams(endpoint));
          if (!row) throw new TapwireError('not_found', { detail: 'Endpoint not found' });
          this.queueMessages(options.messages);
          return toEndpoint(row);
        }),
      { conflicts: endpointConflicts(endpoint) },
    );
  }

  async deleteEndpoint(appId: string, endpointId: string, now: Date, options: QueueMessagesOptions = {}): Promise<boolean> {
    return this.guard(() =>
      this.write(() => {
        const deleted = this.run('softDeleteEndpoint', { id: endpointId, appId, now: now.getTime() }).changes > 0;
        if (deleted) {
          this.run('failOpenDeliveriesOfEndpoint', { endpointId, now: now.getTime() });
          this.queueMessages(options.messages);
        }
        return deleted;
      }),
    );
  }

  async listEndpoints(appId: string, query: ListQuery): Promise<Page<Endpoint>> {
    return this.guard(() => this.page<EndpointRow, Endpoint>('listEndpoints', query, 'descending', { appId }, (r) => r.id, toEndpoint));
  }

  // Event types -----------------------------------------------------------------------------

  async createEventType(eventType: EventType): Promise<EventType> {
    return this.guard(() => toEventType(this.get<EventTypeRow>('insertEventType', eventTypeParams(eventType))!), {
      conflicts: { 'event_types.name': `An event type named '${eventType.name}' already exists` },
    });
  }

  async getEventType(name: string): Promise<EventType | null> {
    return this.guard(() => mapOrNull(this.get<EventTypeRow>('selectEventType', { name }), toEventType));
  }

  async saveEventType(eventType: EventType): Promise<EventType> {
    return this.guard(() => toEventType(this.get<EventTypeRow>('upsertEventType', eventTypeParams(eventType))!));
  }

  async deleteEventType(name: string): Promise<boolean> {
    return this.guard(() => this.run('deleteEventType', { name }).changes > 0);
  }

  async listEventTypes(query: ListQuery & { includeArchived: boolean }): Promise<Page<EventType>> {
    return this.guard(() =>
      this.page<EventTypeRow, EventType>('listEventTypes', query, 'ascending', { includeArchived: query.includeArchived ? 1 : 0 }, (r) => r.name, toEventType),
    );
  }

  // Messages and fan-out --------------------------------------------------------------------

  async createMessage(
    message: Message,
    now: Date,
    options: { endpointIds?: string[] } = {},
  ): Promise<{ message: Message; deliveries: Delivery[] }> {
    return this.writeGrouped(() => this.insertMessageWithFanOut(message, now, options.endpointIds), {
        conflicts: {
          'messages.event_id': `A message with eventId '${message.eventId}' already exists in this application`,
          'messages.id': `A message with id '${message.id}' already exists`,
        },
        missingParent: 'Application not found',
      });
  }

  async getMessage(appId: string, idOrEventId: string): Promise<Message | null> {
    return this.guard(() => mapOrNull(this.get<MessageRow>('selectMessageByIdOrEventId', { appId, key: idOrEventId }), toMessage));
  }

  async listMessages(appId: string, query: MessageListQuery): Promise<Page<Message>> {
    return this.guard(() =>
      this.page<MessageRow, Message>('listMessages', query, 'descending', { appId, status: query.status ?? null, ...messageFilterParams(query) }, (r) => r.id, toMessage),
    );
  }

  async expungeMessageContent(appId: string, msgId: string): Promise<boolean> {
    return this.guard(() => this.run('expungePayload', { appId, id: msgId }).changes > 0);
  }

  async pruneAttempts(before: Date, limit: number): Promise<number> {
    return this.guard(() => this.run('pruneAttempts', { before: before.getTime(), limit }).changes);
  }

  /** One process owns a SQLite file, so there is nobody else to hear from: the worker polls. */
  async onDeliveriesQueued(_listener: () => void): Promise<() => Promise<void>> {
    return async () => undefined;
  }

  async expireMessagePayloads(now: Date, limit: number): Promise<number> {
    return this.guard(() => this.run('expirePayloads', { now: now.getTime(), limit }).changes);
  }

  async listMessageDestinations(appId: string, msgId: string, query: ListQuery): Promise<Page<MessageDestination>> {
    return this.guard(() =>
      this.read(() =>
        this.page<DeliveryRow, MessageDestination>('listMessageDestinations', query, 'ascending', { appId, msgId }, (r) => r.endpoint_id, (r) => ({
          endpoint: toEndpoint(this.get<EndpointRow>('selectEndpointById', { id: r.endpoint_id })!),
          delivery: toDelivery(r),
        })),
      ),
    );
  }

  async listAttemptedMessages(
    appId: string,
    endpointId: string,
    query: MessageListQuery & { status?: MessageStatusName | null },
  ): Promise<Page<AttemptedMessage>> {
    return this.guard(() =>
      this.read(() =>
        this.page<DeliveryRow, AttemptedMessage>(
          'listAttemptedMessages',
          query,
          'descending',
          { appId, endpointId, status: query.status ?? null, ...messageFilterParams(query) },
          (r) => r.msg_id,
          (r) => ({ message: toMessage(this.get<MessageRow>('selectMessageById', { id: r.msg_id })!), delivery: toDelivery(r) }),
        ),
      ),
    );
  }

  // Queue -----------------------------------------------------------------------------------

  async createManualDelivery(input: { deliveryId: string; appId: string; msgId: string; endpointId: string; now: Date }): Promise<Delivery> {
    return this.guard(
      () => {
        const row = this.get<DeliveryRow>('insertManualDelivery', {
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
      this.write(() => {
        const messages = this.all<{ msg_id: string }>('selectRecoverableMessages', {
          appId: input.appId,
          endpointId: input.endpointId,
          since: input.since.getTime(),
          until: input.until.getTime(),
        });
        for (const { msg_id: msgId } of messages) {
          this.run('insertDelivery', {
            id: newId('msgep', input.now.getTime()),
            msgId,
            appId: input.appId,
            endpointId: input.endpointId,
            triggerType: 'manual',
            now: input.now.getTime(),
          });
        }
        return messages.length;
      }),
    );
  }

  async claimDueDeliveries(input: ClaimDeliveriesInput): Promise<DeliveryJob[]> {
    return this.guard(() =>
      this.writeUnsynced(() => {
        const rows: DeliveryRow[] = [];
        let maxRetries = retryBudgetOf(input);
        for (let round = 0; round < MAX_CLAIM_ROUNDS && rows.length < input.limit; round++) {
          const params = claimRoundParams(input, round, input.limit - rows.length, maxRetries);
          const { take, park, schedules } = this.planClaimRound(params);
          if (park.length > 0) this.run('parkDeliveries', { ids: JSON.stringify(park.map((c) => c.id)) });
          if (take.length > 0) {
            const leased = this.all<DeliveryRow>('leaseDeliveries', { ids: JSON.stringify(take.map((c) => c.id)), lockedUntil: params.lockedUntil });
            const started = new Map<string, number>();
            for (const row of leased) started.set(row.endpoint_id, (started.get(row.endpoint_id) ?? 0) + 1);
            for (const [id, n] of started) {
              const schedule = schedules.get(id);
              if (schedule?.throttleRate) this.run('setThrottleTat', { id, tat: advancedThrottleTat(schedule.throttleRate, schedule.throttleTat, params.now, n) });
            }
            rows.push(...leased);
            maxRetries -= leased.filter((row) => row.attempt_count > 0).length;
          }
          // Only parking uncovers more deliveries to look at; otherwise this round saw all there is.
          if (park.length === 0) break;
        }
        // RETURNING gives no order guarantee; hand the batch out oldest due first.
        rows.sort((a, b) => a.next_attempt_at! - b.next_attempt_at! || (a.id < b.id ? -1 : 1));
        // Each endpoint read and converted once; the jobs share it (nothing downstream changes it).
        const endpointOf = onceById((id): Endpoint | null => {
          const row = this.get<EndpointRow>('selectEndpointById', { id });
          return row && row.deleted_at === null ? toEndpoint(row) : null;
        });
        return rows.map((row) => ({
          delivery: toDelivery(row),
          message: toMessage(this.get<MessageRow>('selectMessageById', { id: row.msg_id })!),
          endpoint: endpointOf(row.endpoint_id),
        }));
      }),
    );
  }

  /** Gather one claim round's candidates and their endpoints' limits, and plan it (inside the claim's transaction). */
  private planClaimRound(params: ClaimRoundParams): ReturnType<typeof planClaimRound> & { schedules: Map<string, EndpointSchedule> } {
    const candidate =
      (parked: boolean) =>
      (r: ClaimWindowRow): ClaimCandidate => ({ id: r.id, endpointId: r.endpoint_id, dueAt: r.due_at, attemptCount: r.attempt_count, parked });
    const candidates = this.all<ClaimWindowRow>('selectReadyWindow', { now: params.now, window: params.window }).map(candidate(false));
    if (params.firstWindow > 0) {
      candidates.push(...this.all<ClaimWindowRow>('selectFirstAttemptWindow', { now: params.now, window: params.firstWindow }).map(candidate(false)));
    }
    const parkedEndpoints = this.all<{ endpoint_id: string }>('selectParkedEndpoints', {}).map((r) => r.endpoint_id);
    const endpointIds = new Set([...candidates.map((c) => c.endpointId), ...parkedEndpoints]);
    const schedules = new Map<string, EndpointSchedule>();
    if (endpointIds.size === 0) return { take: [], park: [], schedules };
    const scheduleRows = this.all<{ id: string; concurrency: number | null; leased: number; throttle_rate: number | null; throttle_tat: number | null }>(
      'selectEndpointSchedules',
      { ids: JSON.stringify([...endpointIds]), now: params.now, defaultConcurrency: params.defaultConcurrency },
    );
    const rooms = new Map<string, number>();
    for (const r of scheduleRows) {
      const schedule = { concurrency: r.concurrency, leased: r.leased, throttleRate: r.throttle_rate, throttleTat: r.throttle_tat };
      schedules.set(r.id, schedule);
      rooms.set(r.id, roomOf(schedule, params.now, params.burstMs));
    }
    for (const endpointId of parkedEndpoints) {
      const room = rooms.get(endpointId) ?? 0;
      if (room === 0) continue;
      candidates.push(...this.all<ClaimWindowRow>('selectParkedHeads', { endpointId, limit: Math.min(room, params.limit) }).map(candidate(true)));
    }
    return { ...planClaimRound(candidates, rooms, params.limit, params.maxRetries), schedules };
  }

  async completeAttempt(input: CompleteAttemptInput): Promise<CompleteAttemptResult> {
    const { attempt, outcome } = input;
    const health = input.health ?? 'none';
    return this.writeGrouped(
        () => {
          this.run('insertAttempt', attemptParams(attempt));
          const now = input.now.getTime();
          const updated = this.run('finishAttemptOnDelivery', {
            id: attempt.deliveryId,
            status: outcome.status,
            nextAttemptAt: outcome.status === 'sending' ? outcome.nextAttemptAt.getTime() : null,
            now,
          });
          if (updated.changes === 0) throw new TapwireError('not_found', { detail: 'Delivery not found' });
          if (outcome.status === 'success') {
            this.run('supersedeOlderDeliveries', { id: attempt.deliveryId, msgId: attempt.msgId, endpointId: attempt.endpointId, now });
          }
          let endpointDisabled = false;
          // A success only clears a failure streak; once one success of this endpoint ran in this
          // commit, the next ones would find nothing to clear (unless a failure ran in between).
          const settled = health === 'success' && !input.disableEndpoint && this.healthyInCommit.has(attempt.endpointId);
          if ((health !== 'none' || input.disableEndpoint) && !settled) {
            const row = this.get<{ disabled: number }>('updateEndpointHealth', {
              endpointId: attempt.endpointId,
              health,
              disable: input.disableEndpoint ? 1 : 0,
              autoDisableFailingSince: input.autoDisableFailingSince?.getTime() ?? null,
              now,
            });
            endpointDisabled = row?.disabled === 1;
            if (health === 'success' && !input.disableEndpoint) this.healthyInCommit.add(attempt.endpointId);
            else this.healthyInCommit.delete(attempt.endpointId);
          }
          this.queueMessages(input.messages);
          if (endpointDisabled) this.queueMessages(input.messagesIfEndpointDisabled);
          return { endpointDisabled };
        },
      {
        conflicts: { 'attempts.id': `An attempt with id '${attempt.id}' already exists` },
        missingParent: 'Delivery not found',
      },
      // Recording an attempt need not wait for the disk: a power cut (not a crash: WAL survives
      // those) can only lose the newest records, whose deliveries then are still leased and are
      // attempted again when the lease ends; at least once, as always. The next synced commit (the
      // next accepted message) makes them durable, since WAL keeps commits in order.
      'unsynced',
    );
  }

  async nextDueAt(input?: NextDueInput): Promise<Date | null> {
    return this.guard(() => {
      const due = this.get<{ due: number | null }>('selectNextDueAt', {
        now: input?.now.getTime() ?? null,
        defaultConcurrency: input?.endpointConcurrency ?? null,
        burstMs: THROTTLE_BURST_MS,
      })!.due;
      return due === null ? null : new Date(due);
    });
  }

  async queueSnapshot(now: Date): Promise<{ pending: number; due: number; oldestDueAt: Date | null }> {
    return this.guard(() => {
      const row = this.get<{ pending: number; due: number; oldest: number | null }>('selectQueueSnapshot', { now: now.getTime() })!;
      return { pending: row.pending, due: row.due, oldestDueAt: row.oldest === null ? null : new Date(row.oldest) };
    });
  }

  async getDelivery(id: string): Promise<Delivery | null> {
    return this.guard(() => mapOrNull(this.get<DeliveryRow>('selectDelivery', { id }), toDelivery));
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
    return this.guard(() => mapOrNull(this.get<AttemptRow>('selectAttempt', { appId, msgId, id: attemptId }), toAttempt));
  }

  async getEndpointStats(appId: string, endpointId: string, since: Date, until: Date): Promise<EndpointStats> {
    return this.guard(() => {
      const stats: EndpointStats = { success: 0, pending: 0, sending: 0, fail: 0 };
      const rows = this.all<{ status: MessageStatusName; n: number }>('countEndpointDeliveriesByStatus', {
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
      () => {
        this.run('insertToken', {
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
    return this.guard(() =>
      mapOrNull(this.get<TokenRow>('selectLiveToken', { tokenHash, now: now.getTime() }), (r) => ({
        id: r.id,
        appId: r.app_id,
        expiresAt: toDateOrNull(r.expires_at),
      })),
    );
  }

  async hasAdminToken(): Promise<boolean> {
    return this.guard(() => this.get<{ present: number }>('selectHasAdminToken', {})!.present === 1);
  }

  async getIdempotentResponse(keyHash: string, now: Date): Promise<IdempotentResponse | null> {
    return this.guard(() =>
      mapOrNull(this.get<IdempotencyRow>('selectIdempotentResponse', { keyHash, now: now.getTime() }), (r) => ({
        statusCode: r.status_code,
        body: r.body,
        contentType: r.content_type,
      })),
    );
  }

  async saveIdempotentResponse(keyHash: string, response: IdempotentResponse, expiresAt: Date): Promise<void> {
    return this.guard(() => {
      this.run('insertIdempotentResponse', {
        keyHash,
        statusCode: response.statusCode,
        body: response.body,
        contentType: response.contentType,
        expiresAt: expiresAt.getTime(),
      });
    });
  }

  async pruneIdempotency(now: Date, limit: number): Promise<number> {
    return this.guard(() => this.run('pruneIdempotency', { now: now.getTime(), limit }).changes);
  }

  // Background tasks ------------------------------------------------------------------------

  async createBackgroundTask(task: BackgroundTask, lease: BackgroundTaskLease | null = null): Promise<BackgroundTask> {
    return this.guard(
      () =>
        toBackgroundTask(
          this.get<BackgroundTaskRow>('insertBackgroundTask', {
            ...backgroundTaskParams(task),
            leaseOwner: lease?.owner ?? null,
            lockedUntil: lease?.until.getTime() ?? null,
          })!,
        ),
      { conflicts: { 'background_tasks.id': `A background task with id '${task.id}' already exists` }, missingParent: 'Application not found' },
    );
  }

  async getBackgroundTask(id: string): Promise<BackgroundTask | null> {
    return this.guard(() => mapOrNull(this.get<BackgroundTaskRow>('selectBackgroundTask', { id }), toBackgroundTask));
  }

  async listBackgroundTasks(query: BackgroundTaskListQuery): Promise<Page<BackgroundTask>> {
    const params = { appId: query.appId ?? null, status: query.status ?? null, task: query.task ?? null };
    return this.guard(() => this.page<BackgroundTaskRow, BackgroundTask>('listBackgroundTasks', query, 'descending', params, (r) => r.id, toBackgroundTask));
  }

  async claimBackgroundTasks(input: { now: Date; leaseOwner: string; leaseMs: number; limit: number }): Promise<BackgroundTask[]> {
    return this.guard(() =>
      this.write(() =>
        this.all<BackgroundTaskRow>('claimBackgroundTasks', {
          now: input.now.getTime(),
          leaseOwner: input.leaseOwner,
          lockedUntil: input.now.getTime() + input.leaseMs,
          limit: input.limit,
        })
          .map(toBackgroundTask)
          .sort((a, b) => (a.id < b.id ? -1 : 1)),
      ),
    );
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
      this.write(() => {
        const row = this.get<BackgroundTaskRow>('selectBackgroundTask', { id: input.taskId });
        if (!row || row.status !== 'running' || row.lease_owner !== input.leaseOwner) return null;
        const task = toBackgroundTask(row);
        const window = replayWindowOf(task);
        const endpoint = this.get<EndpointRow>('selectEndpointById', { id: window.endpointId });
        const stopped = replayStopReason(endpoint && endpoint.app_id === task.appId ? { deleted: endpoint.deleted_at !== null, disabled: endpoint.disabled === 1 } : null);
        if (stopped) {
          const failed = failTask(task, stopped, input.now);
          this.run('saveBackgroundTask', { ...backgroundTaskParams(failed), lockedUntil: null });
          return { task: failed, queued: 0 };
        }
        const candidates = this.all<{ id: string; expired: number; missing: number }>('selectReplayCandidates', {
          appId: task.appId,
          endpointId: window.endpointId,
          cursor: task.cursor ?? idFloorAt('msg', window.since.getTime()),
          since: window.since.getTime(),
          until: window.until.getTime(),
          limit: input.limit,
        });
        let queued = 0;
        let skippedExpired = 0;
        for (const candidate of candidates) {
          if (candidate.missing !== 1) continue;
          if (candidate.expired === 1) {
            skippedExpired++;
            continue;
          }
          this.run('insertDelivery', {
            id: newId('msgep', now),
            msgId: candidate.id,
            appId: task.appId,
            endpointId: window.endpointId,
            triggerType: 'manual',
            now,
          });
          queued++;
        }
        const next = advanceReplay(
          task,
          { scanned: candidates.length, queued, skippedExpired, lastMsgId: candidates.at(-1)?.id ?? null, done: candidates.length < input.limit },
          input.now,
        );
        this.run('saveBackgroundTask', { ...backgroundTaskParams(next), lockedUntil: next.status === 'running' ? now + input.leaseMs : null });
        return { task: next, queued };
      }),
    );
  }

  async releaseBackgroundTask(input: { id: string; leaseOwner: string; now: Date; error?: string | null }): Promise<boolean> {
    return this.guard(() =>
      this.write(() => {
        const row = this.get<BackgroundTaskRow>('selectBackgroundTask', { id: input.id });
        if (!row || row.status !== 'running' || row.lease_owner !== input.leaseOwner) return false;
        const task = toBackgroundTask(row);
        const next = input.error ? failTask(task, input.error, input.now) : { ...task, updatedAt: input.now };
        this.run('saveBackgroundTask', { ...backgroundTaskParams(next), lockedUntil: null });
        return true;
      }),
    );
  }

  // Operator health (the dashboard) -----------------------------------------------------------

  async countAttemptsOverTime(input: AttemptCountsInput): Promise<AttemptBucket[]> {
    const statement: StatementName = input.endpointId ? 'countEndpointAttemptsOverTime' : input.appId ? 'countAppAttemptsOverTime' : 'countAttemptsOverTime';
    return this.guard(() =>
      this.all<{ bucket: number; success: number; fail: number }>(statement, {
        since: input.since.getTime(),
        until: input.until.getTime(),
        bucketMs: Math.max(1, Math.round(input.bucketMs)),
        appId: input.appId ?? null,
        endpointId: input.endpointId ?? null,
        // Attempt ids start with their time (the worker makes both from one clock reading), so the
        // (app_id, id) and (endpoint_id, id) indexes give the window as a range.
        minId: idFloorAt('atmpt', input.since.getTime()),
      }).map((r) => ({ index: r.bucket, success: r.success, fail: r.fail })),
    );
  }

  async listUnhealthyEndpoints(limit: number): Promise<{ failing: Endpoint[]; disabled: Endpoint[] }> {
    return this.guard(() =>
      this.read(() => ({
        failing: this.all<EndpointRow>('selectFailingEndpoints', { limit }).map(toEndpoint),
        disabled: this.all<EndpointRow>('selectDisabledEndpoints', { limit }).map(toEndpoint),
      })),
    );
  }

  async listSlowestEndpoints(input: { since: Date; until: Date; limit: number }): Promise<EndpointLatency[]> {
    return this.guard(() =>
      this.all<{ endpoint_id: string; app_id: string; attempts: number; avg_ms: number; max_ms: number }>('selectSlowestEndpoints', {
        since: input.since.getTime(),
        until: input.until.getTime(),
        limit: input.limit,
      }).map((r) => ({ endpointId: r.endpoint_id, appId: r.app_id, attempts: r.attempts, avgDurationMs: r.avg_ms, maxDurationMs: r.max_ms })),
    );
  }

  // Plumbing --------------------------------------------------------------------------------

  /**
   * Insert the message and one scheduled delivery (due `now`) per endpoint it fans out to (or, with
   * `endpointIds`, per named live endpoint). Call inside a write transaction.
   */
  private insertMessageWithFanOut(message: Message, now: Date, endpointIds?: string[]): { message: Message; deliveries: Delivery[] } {
    const row = this.get<MessageRow>('insertMessage', messageParams(message))!;
    const endpoints = endpointIds
      ? this.all<{ id: string }>('selectTargetedEndpoints', { appId: message.appId, endpointIds: JSON.stringify(endpointIds) })
      : this.all<{ id: string }>('selectFanOutEndpoints', {
          appId: message.appId,
          eventType: message.eventType,
          channels: message.channels === null ? null : JSON.stringify(message.channels),
        });
    const deliveries = endpoints.map(({ id: endpointId }) =>
      toDelivery(
        this.get<DeliveryRow>('insertDelivery', {
          id: newId('msgep', now.getTime()),
          msgId: message.id,
          appId: message.appId,
          endpointId,
          triggerType: 'scheduled',
          now: now.getTime(),
        })!,
      ),
    );
    return { message: toMessage(row), deliveries };
  }

  /** Accept messages inside the caller's write transaction (see QueueMessagesOptions). */
  private queueMessages(messages: Message[] | undefined): void {
    for (const message of messages ?? []) {
      if (!this.get('selectApplicationExists', { id: message.appId })) continue;
      this.insertMessageWithFanOut(message, message.createdAt);
    }
  }

  /** Run `work`, turning every driver error into a TapwireError (nothing from the driver leaks). */
  private guard<T>(work: () => T, context: ErrorContext = {}): T {
    if (!this.db.open) throw new TapwireError('store_unavailable', { detail: 'The store is closed' });
    try {
      return work();
    } catch (error) {
      throw translateError(error, context);
    }
  }

  private write<T>(work: () => T): T {
    return this.db.transaction(work).immediate();
  }

  /**
   * Group commit for the hot writes (accepting a message, recording an attempt). Every call made in
   * the same turn of the event loop joins one IMMEDIATE transaction, each in a savepoint of its own,
   * so they share one fsync instead of paying one each; a call that fails rolls back only its own
   * savepoint and rejects only its own promise. Each promise settles after the COMMIT, so "resolved"
   * still means "on disk" (synchronous = FULL). Under load the batches grow by themselves: while one
   * commit waits for the disk, the requests that arrive meanwhile form the next batch.
   */
  private writeGrouped<T>(work: () => T, context: ErrorContext = {}, durability: 'synced' | 'unsynced' = 'synced'): Promise<T> {
    if (!this.db.open) return Promise.reject(new TapwireError('store_unavailable', { detail: 'The store is closed' }));
    return new Promise<T>((resolve, reject) => {
      this.groupedWrites.push({ work, context, synced: durability === 'synced', resolve: resolve as (value: unknown) => void, reject });
      this.scheduleGroupFlush(durability === 'synced' || this.groupedWrites.length >= UNSYNCED_GATHER_TARGET);
    });
  }

  /**
   * Flush at the end of this turn of the event loop when `now` (a synced write waits: an API client
   * is waiting for its 202, or the batch is big enough), else within UNSYNCED_GATHER_MS. Attempt
   * records finish one HTTP response at a time; gathering them for a millisecond makes one commit of
   * what would be several, and a commit costs about as much as the rows it writes.
   */
  private scheduleGroupFlush(now: boolean): void {
    if (this.groupFlushScheduled) return;
    if (now) {
      if (this.groupFlushTimer) clearTimeout(this.groupFlushTimer);
      this.groupFlushTimer = null;
      this.groupFlushScheduled = true;
      setImmediate(() => this.flushGroupedWrites());
    } else {
      this.groupFlushTimer ??= setTimeout(() => {
        this.groupFlushTimer = null;
        this.scheduleGroupFlush(true);
      }, UNSYNCED_GATHER_MS);
    }
  }

  private flushGroupedWrites(): void {
    this.groupFlushScheduled = false;
    while (this.groupedWrites.length > 0) {
      const batch = this.groupedWrites.splice(0, GROUP_COMMIT_MAX);
      if (!this.db.open) {
        for (const item of batch) item.reject(new TapwireError('store_unavailable', { detail: 'The store is closed' }));
        continue;
      }
      const outcomes: ({ ok: true; value: unknown } | { ok: false; error: unknown })[] = [];
      // A batch of attempt records only may skip the fsync (see completeAttempt); one accepted
      // message in it makes the whole commit synced.
      const synced = batch.some((item) => item.synced);
      try {
        if (!synced) this.db.pragma('synchronous = NORMAL');
        this.db
          .transaction(() => {
            // Nearly always every item succeeds: run them all in one SAVEPOINT (a nested
            // better-sqlite3 transaction), saving two statements per item. Should one throw, that
            // savepoint is undone and the items run again, each in a savepoint of its own, so a throw
            // undoes only its own item.
            try {
              const values = this.db.transaction(() => batch.map((item) => item.work()))();
              for (const value of values) outcomes.push({ ok: true, value });
              return;
            } catch {
              // Rerun one by one below.
            }
            for (const item of batch) {
              this.healthyInCommit.clear();
              try {
                outcomes.push({ ok: true, value: this.db.transaction(item.work)() });
              } catch (error) {
                outcomes.push({ ok: false, error });
              }
            }
          })
          .immediate();
      } catch (error) {
        // BEGIN or COMMIT failed (disk full, read-only file, locked): nothing of the batch is stored.
        for (const item of batch) item.reject(translateError(error, item.context));
        continue;
      } finally {
        this.healthyInCommit.clear();
        if (!synced && this.db.open) this.db.pragma('synchronous = FULL');
      }
      batch.forEach((item, index) => {
        const outcome = outcomes[index]!;
        if (outcome.ok) item.resolve(outcome.value);
        else item.reject(translateError(outcome.error, item.context));
      });
    }
  }

  /**
   * A write transaction whose commit does not wait for fsync (synchronous = NORMAL for it alone), for
   * writes that are safe to lose in a power cut: a claim's leases, parking and throttle times. Losing
   * them only makes deliveries claimable again (at least once, as after a crash) or lets a throttle
   * start one burst early. WAL keeps commits in order, so the next synced commit (every attempt's
   * record is one) makes them durable too. This keeps a claim from costing an fsync of its own.
   */
  private writeUnsynced<T>(work: () => T): T {
    this.db.pragma('synchronous = NORMAL');
    try {
      return this.write(work);
    } finally {
      this.db.pragma('synchronous = FULL');
    }
  }

  private read<T>(work: () => T): T {
    return this.db.transaction(work).deferred();
  }

  private run(name: StatementName, params: object): Database.RunResult {
    return this.statement(name).run(params);
  }

  private get<R>(name: StatementName, params: object): R | undefined {
    return this.statement(name).get(params) as R | undefined;
  }

  private all<R>(name: StatementName, params: object): R[] {
    return this.statement(name).all(params) as R[];
  }

  /** The named statement; list statements are asked for with their scan direction. */
  private statement(name: StatementName, scan?: 'up' | 'down'): Statement {
    const cacheKey = scan ? `${name}:${scan}` : name;
    let statement = this.prepared.get(cacheKey);
    if (!statement) {
      let sql: string = SQL[name];
      if (scan) sql = sql.replaceAll('{cmp}', scan === 'up' ? '>' : '<').replaceAll('{dir}', scan === 'up' ? 'ASC' : 'DESC');
      statement = this.db.prepare(sql);
      this.prepared.set(cacheKey, statement);
    }
    return statement;
  }

  /**
   * One cursor page (see {@link Page}): fetch limit+1 rows in scan order to learn whether more exist;
   * a `-key` iterator scans the other way from the key and the rows are flipped back into the
   * requested order.
   */
  private page<R, T>(
    name: StatementName,
    query: ListQuery,
    defaultOrder: 'ascending' | 'descending',
    params: Record<string, unknown>,
    keyOf: (row: R) => string,
    toItem: (row: R) => T,
  ): Page<T> {
    const order = query.order ?? defaultOrder;
    const iterator = query.iterator || null;
    const backwards = iterator?.startsWith('-') ?? false;
    const key = iterator === null ? null : backwards ? iterator.slice(1) : iterator;
    const scanUp = (order === 'ascending') !== backwards;
    const cursor = key ?? (scanUp ? '' : KEY_MAX);
    const rows = this.statement(name, scanUp ? 'up' : 'down').all({ ...params, cursor, limit: query.limit + 1 }) as R[];
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

// Helpers -------------------------------------------------------------------------------------

function ensureWritableDirectory(path: string): void {
  const dir = dirname(path);
  try {
    createDirectory(dir);
    accessSync(dir, fsConstants.W_OK);
  } catch (error) {
    throw new TapwireError('store_unavailable', {
      detail: `Cannot use '${path}' for the SQLite database: the directory '${dir}' cannot be created or written (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
      cause: error,
    });
  }
}

/**
 * mkdir -p, one level at a time. Not `mkdirSync(dir, { recursive: true })`: on Node 20 that spins
 * forever at 100 % CPU where a parent refuses creation with ENOENT (e.g. under /proc), so
 * `tapwire migrate --database-url /proc/x/y.db` hung instead of failing.
 */
function createDirectory(dir: string): void {
  try {
    if (statSync(dir).isDirectory()) return;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    const parent = dirname(dir);
    if (parent !== dir) createDirectory(parent);
    try {
      mkdirSync(dir);
    } catch (mkdirError) {
      // Another process may have created it between our stat and mkdir.
      if ((mkdirError as NodeJS.ErrnoException).code !== 'EEXIST' || !statSync(dir).isDirectory()) throw mkdirError;
    }
    return;
  }
  throw Object.assign(new Error(`'${dir}' is not a directory`), { code: 'ENOTDIR' });
}

function translateError(error: unknown, context: ErrorContext): TapwireError {
  if (error instanceof TapwireError) return error;
  const code = typeof (error as { code?: unknown })?.code === 'string' ? (error as { code: string }).code : '';
  const message = error instanceof Error ? error.message : String(error);
  if (code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
    const columns = message.replace(/^UNIQUE constraint failed: /, '');
    const match = Object.entries(context.conflicts ?? {}).find(([column]) => columns.includes(column));
    return new TapwireError('conflict', { detail: match?.[1] ?? `Already exists (${columns})`, cause: error });
  }
  if (code === 'SQLITE_CONSTRAINT_FOREIGNKEY') {
    return new TapwireError('not_found', { detail: context.missingParent ?? 'A referenced entity was not found', cause: error });
  }
  if (UNAVAILABLE_CODES.some((prefix) => code.startsWith(prefix))) {
    return new TapwireError('store_unavailable', { cause: error });
  }
  if (error instanceof TypeError && /database connection is not open/.test(message)) {
    return new TapwireError('store_unavailable', { detail: 'The store is closed', cause: error });
  }
  return new TapwireError('server_error', { cause: error });
}

function jsonOrNull<T>(text: string | null): T | null {
  return text === null ? null : (JSON.parse(text) as T);
}

function toApplication(r: ApplicationRow): Application {
  return {
    id: r.id,
    uid: r.uid,
    name: r.name,
    throttleRate: r.throttle_rate,
    metadata: JSON.parse(r.metadata) as Record<string, string>,
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
    metadata: JSON.stringify(app.metadata),
    createdAt: app.createdAt.getTime(),
    updatedAt: app.updatedAt.getTime(),
  };
}

function toEndpoint(r: EndpointRow): Endpoint {
  const oldSecrets = JSON.parse(r.old_secrets) as { secret: string; expiresAt: number }[];
  return {
    id: r.id,
    appId: r.app_id,
    uid: r.uid,
    url: r.url,
    description: r.description,
    disabled: r.disabled === 1,
    eventTypes: jsonOrNull<string[]>(r.event_types),
    channels: jsonOrNull<string[]>(r.channels),
    throttleRate: r.throttle_rate,
    ...(r.concurrency_limit !== null ? { concurrencyLimit: r.concurrency_limit } : {}),
    version: r.version,
    metadata: JSON.parse(r.metadata) as Record<string, string>,
    secret: r.secret,
    oldSecrets: oldSecrets.map((s): OldSecret => ({ secret: s.secret, expiresAt: new Date(s.expiresAt) })),
    headers: JSON.parse(r.headers) as Record<string, string>,
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
    disabled: e.disabled ? 1 : 0,
    eventTypes: e.eventTypes === null ? null : JSON.stringify(e.eventTypes),
    channels: e.channels === null ? null : JSON.stringify(e.channels),
    throttleRate: e.throttleRate,
    concurrencyLimit: e.concurrencyLimit ?? null,
    version: e.version,
    metadata: JSON.stringify(e.metadata),
    secret: e.secret,
    // Old secrets keep their expiry as epoch ms, like every other time in the database.
    oldSecrets: JSON.stringify(e.oldSecrets.map((s) => ({ secret: s.secret, expiresAt: s.expiresAt.getTime() }))),
    headers: JSON.stringify(e.headers),
    createdAt: e.createdAt.getTime(),
    updatedAt: e.updatedAt.getTime(),
  };
}

function toEventType(r: EventTypeRow): EventType {
  return {
    name: r.name,
    description: r.description,
    archived: r.archived === 1,
    deprecated: r.deprecated === 1,
    schemas: jsonOrNull<Record<string, unknown>>(r.schemas),
    featureFlag: r.feature_flag,
    createdAt: new Date(r.created_at),
    updatedAt: new Date(r.updated_at),
  };
}

function eventTypeParams(t: EventType): Record<string, unknown> {
  return {
    name: t.name,
    description: t.description,
    archived: t.archived ? 1 : 0,
    deprecated: t.deprecated ? 1 : 0,
    schemas: t.schemas === null ? null : JSON.stringify(t.schemas),
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
    channels: jsonOrNull<string[]>(r.channels),
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
    channels: m.channels === null ? null : JSON.stringify(m.channels),
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
    eventTypes: query.eventTypes ? JSON.stringify(query.eventTypes) : null,
  };
}

interface BackgroundTaskRow {
  id: string;
  app_id: string;
  task: BackgroundTaskKind;
  status: BackgroundTaskStatus;
  data: string;
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
    data: JSON.parse(r.data) as Record<string, unknown>,
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
    SELECT CAST((attempted_at - @since) / @bucketMs AS INTEGER) AS bucket,
           SUM(status = 'success') AS success, SUM(status = 'fail') AS fail
    FROM attempts
    WHERE ${scope} attempted_at >= @since AND attempted_at < @until
    GROUP BY bucket ORDER BY bucket`;
  return {
    countAttemptsOverTime: buckets(''),
    countAppAttemptsOverTime: buckets('app_id = @appId AND id >= @minId AND'),
    countEndpointAttemptsOverTime: buckets('endpoint_id = @endpointId AND app_id = @appId AND id >= @minId AND'),
    selectFailingEndpoints: `
      SELECT * FROM endpoints
      WHERE deleted_at IS NULL AND disabled = 0 AND failing_since IS NOT NULL
      ORDER BY failing_since, id LIMIT @limit`,
    selectDisabledEndpoints: `
      SELECT * FROM endpoints
      WHERE deleted_at IS NULL AND disabled = 1
      ORDER BY updated_at DESC, id LIMIT @limit`,
    selectSlowestEndpoints: `
      SELECT endpoint_id, app_id, COUNT(*) AS attempts,
             AVG(response_duration_ms) AS avg_ms, MAX(response_duration_ms) AS max_ms
      FROM attempts
      WHERE attempted_at >= @since AND attempted_at < @until
      GROUP BY endpoint_id, app_id
      ORDER BY avg_ms DESC, endpoint_id LIMIT @limit`,
  } as const;
}
