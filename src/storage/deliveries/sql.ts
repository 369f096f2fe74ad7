// The delivery queue (one row per message and endpoint: due time, lease, attempt count): queueing,
// recovery, when the next one is due, and the queue's size. Claims and completion have folders of
// their own. The statements of both databases, side by side.
import { columns, DELIVERY_COLUMNS } from '../shared/columns.js';
import { hasFifoHead, isFifoHead, isFifoHeld, joinsParkedQueue, lastFifoSeq, liveLeaseCount, parkedQueuesOf, postgres as pg, sqlite as lite, type SqlFragments } from '../shared/sql-fragments.js';

const DELIVERY = columns(DELIVERY_COLUMNS);

/** NOTIFY channel for "deliveries were queued". The payload is the schema, so listeners ignore other installations. */
export const DELIVERIES_CHANNEL = 'tapwire_deliveries';
const NOTIFY_DELIVERIES_QUEUED = `SELECT pg_notify('${DELIVERIES_CHANNEL}', current_schema())`;

/**
 * When the next delivery becomes claimable: min(max(next_attempt_at, locked_until)) over waiting
 * deliveries, without reading all of them. A row not leased beyond its due time is claimable at
 * next_attempt_at, and the first such row in deliveries_due order is the earliest; a row leased
 * beyond its due time can only come earlier if it is due before that one, and those (leased rows) are
 * few and at the front of the index. Parked deliveries count per endpoint, from when it may start
 * another attempt: a free slot (else its first lease end), its throttle's next start (throttle_tat
 * less the burst tolerance) and its application's. Without @now, from their due time. The databases differ only in
 * spelling: SQLite's MIN/MAX of several arguments and no NULL-skipping LEAST/GREATEST.
 */
const nextDueParts = (f: { parkedEndpoints: string }) => ({
  free: `free AS (
        SELECT next_attempt_at AS due FROM deliveries
        WHERE status IN ('pending', 'sending') AND next_attempt_at IS NOT NULL
          AND (locked_until IS NULL OR locked_until <= next_attempt_at)
        ORDER BY next_attempt_at LIMIT 1)`,
  headDue: `(SELECT min(h.parked_due_at) FROM deliveries h
           WHERE h.endpoint_id = e.id AND h.status IN ('pending', 'sending') AND h.parked_due_at IS NOT NULL)`,
  leasedCount: liveLeaseCount('e.id'),
  firstLeaseEnd: `(SELECT min(x.locked_until) FROM deliveries x
                     WHERE x.endpoint_id = e.id AND x.status IN ('pending', 'sending')
                       AND x.locked_until IS NOT NULL AND x.locked_until > @now)`,
  parkedEndpoints: f.parkedEndpoints,
});

const pgNext = nextDueParts(pg);
const liteNext = nextDueParts(lite);

/**
 * When the throttle of `t` (an endpoint's or an application's row alias) lets its next attempt
 * start: throttle_tat less the burst tolerance. Without @now or a throttle: NULL on PostgreSQL, 0 on
 * SQLite (each the value its GREATEST / MAX of the parts passes over).
 */
const pgThrottleStart = (t: string): string => `CASE WHEN @now IS NULL OR ${t}.throttle_rate IS NULL OR ${t}.throttle_tat IS NULL THEN NULL
               ELSE ceil(${t}.throttle_tat - (GREATEST(1, floor(${t}.throttle_rate * @burstMs::integer / 1000.0::float8)) - 1)
                                          * 1000.0::float8 / ${t}.throttle_rate)::bigint END`;
const liteThrottleStart = (t: string): string => `CASE WHEN @now IS NULL OR ${t}.throttle_rate IS NULL OR ${t}.throttle_tat IS NULL THEN 0
               ELSE CAST(ceil(${t}.throttle_tat - (MAX(1, floor(${t}.throttle_rate * @burstMs / 1000.0)) - 1) * 1000.0 / ${t}.throttle_rate) AS INTEGER)
          END`;

/**
 * A manual delivery is only queued when both the message and a live endpoint belong to the app. To
 * a FIFO endpoint it goes to the back of the line (docs/fifo.md): held when the line has a head.
 */
const insertManualDelivery = (f: SqlFragments): string => `
      INSERT INTO deliveries (id, msg_id, app_id, endpoint_id, status, trigger_type, attempt_count,
                              next_attempt_at, locked_until, created_at, updated_at, fifo_seq)
      SELECT @id, m.id, m.app_id, e.id, 'pending', 'manual', 0,
             CASE WHEN e.fifo AND ${hasFifoHead('e.id')} THEN NULL ELSE @now${f.cast('bigint')} END, NULL, @now, @now,
             CASE WHEN e.fifo THEN ${lastFifoSeq('e.id')} + 1 END
      FROM messages m JOIN endpoints e ON e.app_id = m.app_id
      WHERE m.id = @msgId AND m.app_id = @appId AND e.id = @endpointId AND e.deleted_at IS NULL
      RETURNING ${DELIVERY}`;

/** Messages whose latest delivery to the endpoint failed or was canceled, created in [since, until); `join` may narrow them. */
const selectRecoverableMessages = (f: SqlFragments, join: string): string => `
    SELECT d.msg_id FROM deliveries d
      JOIN messages m ON m.id = d.msg_id ${join}
    WHERE d.endpoint_id = @endpointId AND d.app_id = @appId
      AND m.created_at >= @since AND m.created_at < @until
      AND d.status IN ('fail', 'canceled')
      AND ${f.isLatestDelivery}
    ORDER BY d.msg_id`;

/** Both databases: the head of an endpoint's FIFO line (lowest place first) and its first failed attempt. */
const selectFifoHead = `
    SELECT d.id, d.msg_id, d.attempt_count,
           (SELECT MIN(a.attempted_at) FROM attempts a WHERE a.msg_id = d.msg_id AND a.delivery_id = d.id AND a.status = 'fail') AS blocked_since
    FROM deliveries d WHERE d.endpoint_id = @endpointId AND ${isFifoHead('d')}
    ORDER BY d.fifo_seq LIMIT 1`;

/** Both databases: how many deliveries wait behind an endpoint's FIFO head (deliveries_fifo_held). */
const countFifoHeld = `SELECT COUNT(*) AS held FROM deliveries d WHERE d.endpoint_id = @endpointId AND ${isFifoHeld('d')}`;

/** Both databases: live FIFO endpoints whose head has failed and waits for its retry (deliveries_fifo_head). */
const countBlockedFifoEndpoints = `
    SELECT COUNT(DISTINCT d.endpoint_id) AS blocked FROM deliveries d JOIN endpoints e ON e.id = d.endpoint_id
    WHERE ${isFifoHead('d')} AND d.attempt_count > 0 AND e.fifo AND e.deleted_at IS NULL`;

export const postgres = {
  selectFifoHead,
  countFifoHeld,
  countBlockedFifoEndpoints,
  /**
   * PostgreSQL only (SQLite: insertDelivery, one a statement). Fan-out, recover, replay: many
   * deliveries in one statement, one round trip. Ids are made by the caller
   * (time-sortable KSUIDs: "the latest delivery is the greatest id" must hold across both
   * databases). pg_notify is queued with the rows and sent when the transaction commits, so
   * listeners hear of deliveries only once they can be claimed; as an uncorrelated subquery it runs
   * once per statement (and PostgreSQL folds identical notifications of one transaction into one).
   */
  insertDeliveries: `
    WITH input AS MATERIALIZED (
      SELECT t.id, t.msg_id, t.endpoint_id FROM unnest(@ids::text[], @msgIds::text[], @endpointIds::text[]) AS t (id, msg_id, endpoint_id)
    ), queues AS MATERIALIZED (${parkedQueuesOf('input')}
    ), lines AS MATERIALIZED (
      SELECT e.id AS endpoint_id, ${lastFifoSeq('e.id')} AS last_seq, ${hasFifoHead('e.id')} AS busy
      FROM endpoints e WHERE e.id IN (SELECT endpoint_id FROM queues) AND e.fifo
    ), placed AS MATERIALIZED (
      SELECT t.id, l.last_seq + row_number() OVER (PARTITION BY t.endpoint_id ORDER BY t.msg_id, t.id) AS seq, l.last_seq, l.busy
      FROM input t JOIN lines l ON l.endpoint_id = t.endpoint_id
    ), inserted AS (
      INSERT INTO deliveries (id, msg_id, app_id, endpoint_id, status, trigger_type, attempt_count,
                              next_attempt_at, parked_due_at, locked_until, created_at, updated_at, fifo_seq)
      SELECT t.id, t.msg_id, @appId, t.endpoint_id, 'pending', @triggerType, 0,
             CASE WHEN p.busy OR p.seq > p.last_seq + 1 THEN NULL
                  WHEN @deliverAt::bigint IS NOT NULL THEN @deliverAt WHEN q.parked THEN NULL ELSE @now::bigint END,
             CASE WHEN p.busy OR p.seq > p.last_seq + 1 THEN NULL
                  WHEN @deliverAt::bigint IS NULL AND q.parked THEN @now::bigint END, NULL, @now, @now, p.seq
      FROM input t JOIN queues q ON q.endpoint_id = t.endpoint_id LEFT JOIN placed p ON p.id = t.id
      RETURNING ${DELIVERY}
    )
    SELECT inserted.*, (${NOTIFY_DELIVERIES_QUEUED}) AS notified FROM inserted`,
  /** With the wake-up, as insertDeliveries. */
  insertManualDelivery: `
    WITH inserted AS (${insertManualDelivery(pg)})
    SELECT inserted.*, (${NOTIFY_DELIVERIES_QUEUED}) AS notified FROM inserted`,
  /**
   * PostgreSQL only: two recovers of one endpoint at once would both see the same failures and queue
   * each twice; the second waits here, then (READ COMMITTED: a fresh snapshot per statement) sees the
   * first's. It also finds a deleted endpoint. SQLite's IMMEDIATE transaction keeps other writers out.
   */
  /**
   * PostgreSQL only: the FIFO endpoints among @ids, locked until the transaction ends, in id order
   * (so two transactions never wait on each other crosswise). Every statement that decides whether
   * a FIFO line has a head runs after this one in its transaction, so its snapshot sees what the
   * previous holder of the lock committed: two processes never make two heads (docs/fifo.md). Only
   * FIFO endpoints are locked; an endpoint that turned FIFO meanwhile is re-checked under the lock.
   */
  lockFifoEndpoints: `
    SELECT id FROM endpoints WHERE id = ANY (@ids::text[]) AND fifo ORDER BY id FOR NO KEY UPDATE`,
  lockEndpointForRecover: `
    SELECT id FROM endpoints WHERE id = @endpointId AND app_id = @appId AND deleted_at IS NULL
    FOR NO KEY UPDATE`,
  selectRecoverableMessages: selectRecoverableMessages(pg, ''),
  selectNextDueAt: `
    WITH RECURSIVE
      ${pgNext.parkedEndpoints},
      ${pgNext.free},
      parked AS (
        SELECT min(GREATEST(
          ${pgNext.headDue},
          CASE WHEN @now::bigint IS NULL OR ${pg.leaseBudget} IS NULL THEN NULL
               WHEN ${pgNext.leasedCount} < ${pg.leaseBudget} THEN NULL
               ELSE ${pgNext.firstLeaseEnd} END,
          ${pgThrottleStart('e')},
          ${pgThrottleStart('a')})) AS due
        FROM parked_endpoints p JOIN endpoints e ON e.id = p.endpoint_id JOIN applications a ON a.id = e.app_id
        -- A full application's deliveries wait for the worker, which claims again as its attempts end.
        WHERE NOT ${pg.appIsFull})
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
  /** PostgreSQL only: the accept's wake-up, sent after its commit (see QueuedAnnouncer). SQLite has one process and nobody to wake. */
  notifyDeliveriesQueued: NOTIFY_DELIVERIES_QUEUED,
};

export const sqlite = {
  selectFifoHead,
  countFifoHeld,
  countBlockedFifoEndpoints,
  /**
   * One delivery a statement: in process, cheaper than building lists, and nobody to notify.
   * @lockedUntil: handed off (see DeliveryHandoff), else NULL. @deliverAt: a scheduled message's
   * time, when it is due (never parked before it), else NULL.
   */
  insertDelivery: `
    INSERT INTO deliveries (id, msg_id, app_id, endpoint_id, status, trigger_type, attempt_count,
                            next_attempt_at, parked_due_at, locked_until, created_at, updated_at, fifo_seq)
    SELECT @id, @msgId, @appId, @endpointId, 'pending', @triggerType, 0,
           CASE WHEN q.held THEN NULL WHEN @deliverAt IS NOT NULL THEN @deliverAt WHEN q.parked THEN NULL ELSE @now END,
           CASE WHEN NOT q.held AND @deliverAt IS NULL AND q.parked THEN @now END,
           CASE WHEN q.held THEN NULL ELSE @lockedUntil END, @now, @now, q.fifo_seq
    FROM (SELECT parked, fifo_seq, fifo_seq IS NOT NULL AND ${hasFifoHead('@endpointId')} AS held
          FROM (SELECT ${joinsParkedQueue('@endpointId')} AS parked,
                       (SELECT ${lastFifoSeq('e.id')} + 1 FROM endpoints e WHERE e.id = @endpointId AND e.fifo = 1) AS fifo_seq)) q
    RETURNING ${DELIVERY}`,
  insertManualDelivery: insertManualDelivery(lite),
  /** Without PostgreSQL's lockEndpointForRecover, a join leaves a deleted endpoint out. */
  selectRecoverableMessages: selectRecoverableMessages(lite, 'JOIN endpoints e ON e.id = d.endpoint_id AND e.deleted_at IS NULL'),
  selectNextDueAt: `
    WITH RECURSIVE
      ${liteNext.parkedEndpoints},
      ${liteNext.free},
      leased AS (
        SELECT MIN(locked_until) AS due FROM deliveries
        WHERE status IN ('pending', 'sending') AND locked_until > next_attempt_at
          AND next_attempt_at < COALESCE((SELECT due FROM free), 9223372036854775807)),
      parked AS (
        SELECT MIN(MAX(
          ${liteNext.headDue},
          CASE WHEN @now IS NULL OR ${lite.leaseBudget} IS NULL THEN 0
               WHEN ${liteNext.leasedCount} < ${lite.leaseBudget} THEN 0
               ELSE ${liteNext.firstLeaseEnd} END,
          ${liteThrottleStart('e')},
          ${liteThrottleStart('a')})) AS due
        FROM parked_endpoints p JOIN endpoints e ON e.id = p.endpoint_id JOIN applications a ON a.id = e.app_id
        WHERE NOT ${lite.appIsFull})
    SELECT NULLIF(MIN(COALESCE((SELECT due FROM free), 9223372036854775807),
                      COALESCE((SELECT due FROM leased), 9223372036854775807),
                      COALESCE((SELECT due FROM parked), 9223372036854775807)), 9223372036854775807) AS due`,
  selectQueueSnapshot: `
    SELECT COUNT(*) AS pending,
           COALESCE(SUM(CASE WHEN COALESCE(next_attempt_at, parked_due_at) <= @now THEN 1 ELSE 0 END), 0) AS due,
           MIN(CASE WHEN COALESCE(next_attempt_at, parked_due_at) <= @now THEN COALESCE(next_attempt_at, parked_due_at) END) AS oldest
    FROM deliveries
    WHERE status IN ('pending', 'sending') AND (locked_until IS NULL OR locked_until <= @now)`,
  selectDelivery: postgres.selectDelivery,
};
