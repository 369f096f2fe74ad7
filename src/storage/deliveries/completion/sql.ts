// Completion: recording an attempt and what follows from it (the delivery's next state, older
// waiting deliveries superseded by a success, the endpoint's health). The statements of both
// databases, side by side. PostgreSQL does all of it in one statement (one round trip), SQLite in
// four small ones inside the group commit.

import { hasFifoHead, isFifoHeld } from '../../shared/sql-fragments.js';

/**
 * Both databases (spelled each its way): the head of @endpointId's FIFO line ended, so the held
 * delivery with the lowest fifo_seq becomes due now (or at its message's deliverAt, if later), unless
 * the line has a head already (released by turning fifo off, or promoted by another path). Runs
 * after the head's change in the same transaction, on PostgreSQL under the endpoint's row lock
 * (lockFifoEndpoints), so it sees every delivery held behind the head.
 */
const promoteFifoHead = (greatest: string): string => `
    UPDATE deliveries SET next_attempt_at = ${greatest}(@now, COALESCE((SELECT m.deliver_at FROM messages m WHERE m.id = deliveries.msg_id), 0)),
                          updated_at = @now
    WHERE id = (SELECT h.id FROM deliveries h WHERE h.endpoint_id = @endpointId AND ${isFifoHeld('h')} ORDER BY h.fifo_seq LIMIT 1)
      AND NOT ${hasFifoHead('@endpointId')}
    RETURNING id`;

export const postgres = {
  promoteFifoHead: promoteFifoHead('GREATEST').replace('GREATEST(@now,', 'GREATEST(@now::bigint,'),
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
  // The `= ANY (ARRAY(…))` conditions hand each table's index the keys to probe. Without them the
  // planner, which guesses 100 input rows and sees a young table as small, may join by hashing a
  // full scan of deliveries, and the prepared statement keeps that plan: a scan of every delivery
  // ever made per batch, growing with the table.
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
      WHERE d.id = ANY (ARRAY(SELECT delivery_id FROM input)) AND d.id = i.delivery_id
      RETURNING d.id
    ), superseded AS (
      UPDATE deliveries d
      SET status = 'success', next_attempt_at = NULL, updated_at = i.now
      FROM input i
      WHERE d.msg_id = ANY (ARRAY(SELECT msg_id FROM input WHERE status = 'success'))
        AND i.status = 'success' AND d.msg_id = i.msg_id AND d.endpoint_id = i.endpoint_id AND d.id < i.delivery_id
        AND d.status IN ('pending', 'sending') AND (d.locked_until IS NULL OR d.locked_until <= i.now)
    ), health AS (
      UPDATE endpoints e
      SET failing_since = CASE WHEN h.health = 'success' THEN NULL ELSE COALESCE(e.failing_since, h.first_at) END
      FROM (SELECT endpoint_id, min(health) AS health, min(now) AS first_at
            FROM input WHERE health <> 'none' GROUP BY endpoint_id) h
      WHERE e.id = ANY (ARRAY(SELECT endpoint_id FROM input WHERE health <> 'none')) AND e.id = h.endpoint_id AND NOT e.disabled AND e.deleted_at IS NULL
        AND CASE h.health WHEN 'success' THEN e.failing_since IS NOT NULL ELSE e.failing_since IS NULL END
    )
    SELECT id FROM finished`,
};

/** Every key but promoteFifoHead is SQLite's only: the parts of PostgreSQL's completeAttempt, which has no data-modifying CTEs here. */
export const sqlite = {
  promoteFifoHead: promoteFifoHead('MAX'),
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
};
