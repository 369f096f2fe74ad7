// Background tasks (long operations such as replay-missing, run in leased batches by any process):
// the statements of both databases, side by side. A statement that reads the same on both is
// written once, in `both`.
import { BACKGROUND_TASK_COLUMNS, columns } from '../shared/columns.js';
import { postgres as pg, sqlite as lite, type SqlFragments } from '../shared/sql-fragments.js';

const BACKGROUND_TASK = columns(BACKGROUND_TASK_COLUMNS);

const both = {
  selectBackgroundTask: `SELECT ${BACKGROUND_TASK} FROM background_tasks WHERE id = @id`,
};

/**
 * The next messages of a replay window after the cursor, each with what the batch needs to know:
 * expired (no payload left) and missing (no delivery to this endpoint at all, and accepted by the
 * endpoint's filters as fan-out would now). deliveries_msg_endpoint answers "no delivery" per row.
 * Keyset by id from the window's id floor: ids never sort before their creation time. They may
 * sort after it (a clock stepping back), so there is no safe upper id bound: the last batch of a
 * window that ends in the past reads on through the application's later messages.
 */
const selectReplayCandidates = (accepts: string, cast: (type: string) => string): string => `
    SELECT m.id, m.payload IS NULL AS expired,
           ${accepts}
           AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.msg_id = m.id AND d.endpoint_id = e.id) AS missing
    FROM messages m JOIN endpoints e ON e.id = @endpointId
    WHERE m.app_id = @appId AND m.id > @cursor AND m.created_at >= @since${cast('bigint')} AND m.created_at < @until${cast('bigint')}
    ORDER BY m.id LIMIT @limit`;

/**
 * The next messages of a bulk-replay window after the cursor that were sent to the endpoint (have a
 * delivery to it), each with its latest delivery's status, the status code of its latest attempt to
 * the endpoint (NULL: never attempted, or the attempt was pruned), whether the message filters
 * (event types, channel) admit it, and whether its payload is gone. The caller applies the status
 * and status-code-class filters. Keyset by message id on deliveries_endpoint_msg, as replay's.
 */
const selectBulkReplayCandidates = (f: SqlFragments): string => `
    SELECT d.msg_id AS id, m.payload IS NULL AS expired, d.status,
           (SELECT a.response_status_code FROM attempts a
            WHERE a.msg_id = d.msg_id AND a.endpoint_id = d.endpoint_id ORDER BY a.id DESC LIMIT 1) AS latest_code,
           (1 = 1 ${f.messageFilters}) AS admitted
    FROM deliveries d JOIN messages m ON m.id = d.msg_id
    WHERE d.endpoint_id = @endpointId AND d.app_id = @appId AND d.msg_id > @cursor AND ${f.isLatestDelivery}
      AND m.created_at >= @since${f.cast('bigint')} AND m.created_at < @until${f.cast('bigint')}
    ORDER BY d.msg_id LIMIT @limit`;

/** The next messages of an application after the cursor created up to @until, for a purge batch. */
const selectPurgeBatch = (lockRows: string): string => `
    SELECT id, payload IS NOT NULL AS had_payload FROM messages
    WHERE app_id = @appId AND id > @cursor AND created_at <= @until
    ORDER BY id LIMIT @limit${lockRows}`;

/**
 * What the next applications used in a window (application.stats). Each count reads one index
 * range: messages_app and attempts_app from the window's id floor (ids never sort before their
 * creation time), deliveries_msg_endpoint per message of the window. A (message, endpoint) pair
 * with several deliveries (resent, recovered) counts once.
 */
const countApplicationUsage = (f: { cast: (type: string) => string }, onlyApps: string): string => `
    SELECT a.id AS app_id, a.uid AS app_uid,
      (SELECT count(*) FROM messages m
        WHERE m.app_id = a.id AND m.id >= @minMsgId AND m.created_at >= @since${f.cast('bigint')} AND m.created_at < @until${f.cast('bigint')}) AS messages,
      (SELECT count(DISTINCT d.msg_id || ' ' || d.endpoint_id) FROM messages m JOIN deliveries d ON d.msg_id = m.id
        WHERE m.app_id = a.id AND m.id >= @minMsgId AND m.created_at >= @since${f.cast('bigint')} AND m.created_at < @until${f.cast('bigint')}) AS destinations,
      (SELECT count(*) FROM attempts t
        WHERE t.app_id = a.id AND t.id >= @minAttemptId AND t.attempted_at >= @since${f.cast('bigint')} AND t.attempted_at < @until${f.cast('bigint')}) AS attempts
    FROM applications a
    WHERE a.id > @cursor AND ${onlyApps}
    ORDER BY a.id LIMIT @limit`;

/** The event-type filters of the live endpoints of the next applications (event-type.aggregate). */
const selectApplicationEndpointFilters = `
    SELECT a.id AS app_id, e.id AS endpoint_id, e.event_types
    FROM (SELECT id FROM applications WHERE id > @cursor ORDER BY id LIMIT @limit) a
    LEFT JOIN endpoints e ON e.app_id = a.id AND e.deleted_at IS NULL
    ORDER BY a.id, e.id`;

export const postgres = {
  insertBackgroundTask: `
    INSERT INTO background_tasks (id, app_id, task, status, data, cursor, lease_owner, locked_until, created_at, updated_at)
    VALUES (@id, @appId, @task, @status, @data::json, @cursor, @leaseOwner, @lockedUntil::bigint, @createdAt, @updatedAt)
    RETURNING ${BACKGROUND_TASK}`,
  selectBackgroundTask: both.selectBackgroundTask,
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
  // PostgreSQL's fan-out match is NULL for a message without channels meeting a channel endpoint.
  selectReplayCandidates: selectReplayCandidates(`COALESCE(${pg.endpointAccepts('m.event_type', 'm.channels')}, false)`, pg.cast),
  selectBulkReplayCandidates: selectBulkReplayCandidates(pg),
  // The batch's rows are held until the purge commits: a concurrent expunge or expiry waits.
  selectPurgeBatch: selectPurgeBatch('\n    FOR UPDATE'),
  purgePayloads: `UPDATE messages SET payload = NULL WHERE app_id = @appId AND id = ANY (@ids::text[])`,
  // Only the lease holder saves, and only while the task runs: one statement, so no lock to take first.
  saveBackgroundTaskProgress: `
    UPDATE background_tasks
    SET status = @status, data = @data::json, cursor = @cursor, locked_until = @lockedUntil::bigint, updated_at = @updatedAt
    WHERE id = @id AND status = 'running' AND lease_owner = @leaseOwner
    RETURNING ${BACKGROUND_TASK}`,
  countApplicationUsage: countApplicationUsage(pg, '(@appIds::text[] IS NULL OR a.id = ANY (@appIds))'),
  selectApplicationEndpointFilters,
};

/** JSON is text; the IMMEDIATE transaction of a batch keeps other writers out, so plain reads hold rows. */
export const sqlite = {
  insertBackgroundTask: `
    INSERT INTO background_tasks (id, app_id, task, status, data, cursor, lease_owner, locked_until, created_at, updated_at)
    VALUES (@id, @appId, @task, @status, @data, @cursor, @leaseOwner, @lockedUntil, @createdAt, @updatedAt)
    RETURNING ${BACKGROUND_TASK}`,
  selectBackgroundTask: both.selectBackgroundTask,
  lockBackgroundTask: both.selectBackgroundTask,
  listBackgroundTasks: `
    SELECT ${BACKGROUND_TASK} FROM background_tasks
    WHERE (@appId IS NULL OR app_id = @appId) AND (@status IS NULL OR status = @status) AND (@task IS NULL OR task = @task)
      AND id {cmp} @cursor
    ORDER BY id {dir} LIMIT @limit`,
  claimBackgroundTasks: `
    UPDATE background_tasks SET lease_owner = @leaseOwner, locked_until = @lockedUntil
    WHERE id IN (
      SELECT id FROM background_tasks
      WHERE status = 'running' AND (locked_until IS NULL OR locked_until <= @now)
      ORDER BY id LIMIT @limit)
    RETURNING ${BACKGROUND_TASK}`,
  saveBackgroundTask: `
    UPDATE background_tasks
    SET status = @status, data = @data, cursor = @cursor, locked_until = @lockedUntil, updated_at = @updatedAt
    WHERE id = @id`,
  lockEndpointForReplay: `SELECT app_id, disabled, deleted_at FROM endpoints WHERE id = @endpointId`,
  selectReplayCandidates: selectReplayCandidates(`(${lite.endpointAccepts('m.event_type', 'm.channels')})`, lite.cast),
  selectBulkReplayCandidates: selectBulkReplayCandidates(lite),
  selectPurgeBatch: selectPurgeBatch(''),
  purgePayloads: `UPDATE messages SET payload = NULL WHERE app_id = @appId AND id IN (SELECT value FROM json_each(@ids))`,
  saveBackgroundTaskProgress: `
    UPDATE background_tasks
    SET status = @status, data = @data, cursor = @cursor, locked_until = @lockedUntil, updated_at = @updatedAt
    WHERE id = @id AND status = 'running' AND lease_owner = @leaseOwner
    RETURNING ${BACKGROUND_TASK}`,
  countApplicationUsage: countApplicationUsage(lite, '(@appIds IS NULL OR a.id IN (SELECT value FROM json_each(@appIds)))'),
  selectApplicationEndpointFilters,
} satisfies Record<keyof typeof postgres, string>;
