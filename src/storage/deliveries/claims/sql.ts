// Claims: leasing due deliveries, within each endpoint's concurrency limit and throttle. The
// statements of both databases, side by side. They differ in shape, not only in spelling: PostgreSQL
// runs a claim round as one statement (a round trip costs more than planning in SQL), SQLite as a few
// small indexed statements planned in rules.ts (in process, several times cheaper than one statement
// of CTEs and window functions). The contract suite holds both to the same behaviour.
import { columns, DELIVERY_COLUMNS } from '../../shared/columns.js';
import { liveLeaseCount, postgres as pg, sqlite as lite } from '../../shared/sql-fragments.js';
import { UNLIMITED_ROOM } from './rules.js';

const DELIVERY = columns(DELIVERY_COLUMNS);

/** PostgreSQL: how many attempts a GCRA throttle (rate, tat columns), an endpoint's or an application's, lets start now; see roomOf in rules.ts. */
function gcraRoom(rate: string, tat: string): string {
  const interval = `1000.0::float8 / ${rate}`;
  const tolerance = `(GREATEST(1, floor(${rate} * @burstMs::integer / 1000.0::float8)) - 1) * ${interval}`;
  const slack = `(@now::bigint + ${tolerance} - GREATEST(COALESCE(${tat}, @now), @now))`;
  return `CASE WHEN ${slack} < 0 THEN 0 ELSE floor(${slack} / (${interval}) + 1e-9)::integer + 1 END`;
}

export const postgres = {
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
  // claim. An endpoint without limits is neither locked nor bumped. A throttled application is
  // locked too, and its room is its GCRA's (migration 0007). Per endpoint, candidates past its
  // room are parked, and so are those past their application's room; the others are taken in due
  // order up to @limit, retries only up to
  // @maxRetries. Status is left alone; only completeAttempt moves it. SQLite applies the same rules
  // (rules.ts) through the smaller statements below.
  claimDueDeliveries: `
    WITH RECURSIVE
      ${pg.parkedEndpoints},
      ready AS MATERIALIZED (
        SELECT id, endpoint_id, app_id, next_attempt_at AS due_at, attempt_count FROM deliveries
        WHERE status IN ('pending', 'sending') AND next_attempt_at <= @now::bigint
          AND (locked_until IS NULL OR locked_until <= @now)
        ORDER BY next_attempt_at, id LIMIT @window
        FOR UPDATE SKIP LOCKED),
      ready_recent AS MATERIALIZED (
        SELECT id, endpoint_id, app_id, next_attempt_at AS due_at, attempt_count FROM deliveries
        WHERE status IN ('pending', 'sending') AND next_attempt_at <= @now
          AND (locked_until IS NULL OR locked_until <= @now)
        ORDER BY next_attempt_at DESC, id DESC LIMIT @recentWindow
        FOR UPDATE SKIP LOCKED),
      ready_first AS MATERIALIZED (
        SELECT id, endpoint_id, app_id, next_attempt_at AS due_at, attempt_count FROM deliveries
        WHERE status IN ('pending', 'sending') AND attempt_count = 0 AND next_attempt_at <= @now
          AND (locked_until IS NULL OR locked_until <= @now)
        ORDER BY next_attempt_at, id LIMIT @firstWindow
        FOR UPDATE SKIP LOCKED),
      seen_endpoints AS MATERIALIZED (
        SELECT e.id, e.app_id, e.claim_seq, e.throttle_rate, e.throttle_tat, ${pg.leaseBudget} AS concurrency, ${pg.appIsFull} AS app_full,
               a.throttle_rate IS NOT NULL AS app_throttled
        FROM endpoints e JOIN applications a ON a.id = e.app_id
        WHERE e.id IN (SELECT endpoint_id FROM ready UNION SELECT endpoint_id FROM ready_first
                     UNION SELECT endpoint_id FROM ready_recent UNION SELECT endpoint_id FROM parked_endpoints)),
      -- An endpoint without limits needs no lock (nor a claim_seq bump): any claimer may take its
      -- deliveries. One of a full application is not locked either: it drops out of limits below,
      -- so its deliveries are passed over, neither taken nor parked.
      locked_endpoints AS MATERIALIZED (
        SELECT id, claim_seq FROM endpoints
        WHERE id IN (SELECT id FROM seen_endpoints WHERE (concurrency IS NOT NULL OR throttle_rate IS NOT NULL) AND NOT app_full)
        FOR NO KEY UPDATE SKIP LOCKED),
      -- Throttled applications (see migration 0007), locked like endpoints; their throttle_tat is
      -- read from the locked row, which is the latest committed. One locked by another claimer
      -- drops out with its endpoints: its deliveries wait for a later claim.
      locked_apps AS MATERIALIZED (
        SELECT id, throttle_rate, throttle_tat FROM applications
        WHERE throttle_rate IS NOT NULL AND id IN (SELECT app_id FROM seen_endpoints WHERE app_throttled AND NOT app_full)
        FOR NO KEY UPDATE SKIP LOCKED),
      app_schedules AS MATERIALIZED (
        SELECT id, ${gcraRoom('throttle_rate', 'throttle_tat')} AS room FROM locked_apps),
      limits AS (
        SELECT id, app_id, throttle_rate, throttle_tat, concurrency
        FROM seen_endpoints s
        WHERE ((concurrency IS NULL AND throttle_rate IS NULL)
               OR EXISTS (SELECT 1 FROM locked_endpoints l WHERE l.id = s.id AND l.claim_seq = s.claim_seq))
          AND (NOT app_throttled OR EXISTS (SELECT 1 FROM app_schedules a WHERE a.id = s.app_id))),
      schedules AS MATERIALIZED (
        SELECT id, LEAST(
          CASE WHEN concurrency IS NULL THEN ${UNLIMITED_ROOM}
               ELSE GREATEST(0, concurrency - ${liveLeaseCount('limits.id')})::integer END,
          CASE WHEN throttle_rate IS NULL THEN ${UNLIMITED_ROOM} ELSE ${gcraRoom('throttle_rate', 'throttle_tat')} END) AS room
        FROM limits),
      heads AS (
        SELECT h.id, h.endpoint_id, h.app_id, h.due_at, h.attempt_count
        FROM schedules s
        CROSS JOIN LATERAL (
          SELECT d.id, d.endpoint_id, d.app_id, d.parked_due_at AS due_at, d.attempt_count FROM deliveries d
          WHERE d.endpoint_id = s.id AND d.status IN ('pending', 'sending') AND d.parked_due_at IS NOT NULL
          ORDER BY d.parked_due_at, d.id LIMIT LEAST(s.room, @limit::integer)
          FOR UPDATE SKIP LOCKED) h
        WHERE s.room > 0 AND s.id IN (SELECT endpoint_id FROM parked_endpoints)),
      candidates AS (
        SELECT id, endpoint_id, app_id, due_at, attempt_count, false AS parked FROM ready
        UNION SELECT id, endpoint_id, app_id, due_at, attempt_count, false FROM ready_first
        UNION SELECT id, endpoint_id, app_id, due_at, attempt_count, false FROM ready_recent
        UNION ALL SELECT id, endpoint_id, app_id, due_at, attempt_count, true FROM heads),
      budgeted AS (
        SELECT *, CASE WHEN attempt_count > 0
                       THEN row_number() OVER (PARTITION BY attempt_count > 0 ORDER BY due_at, id) END AS retry_rank
        FROM candidates),
      endpoint_ranked AS MATERIALIZED (
        SELECT b.id, b.endpoint_id, b.app_id, b.due_at, b.parked, s.room,
               row_number() OVER (PARTITION BY b.endpoint_id ORDER BY b.due_at, b.id) AS endpoint_rank
        FROM budgeted b JOIN schedules s ON s.id = b.endpoint_id
        WHERE b.retry_rank IS NULL OR b.retry_rank <= @maxRetries),
      -- Within a throttled application, those its endpoints would take are ranked again against
      -- the application's room; past it they are parked like those past their endpoint's room.
      ranked AS MATERIALIZED (
        SELECT r.id, r.endpoint_id, r.app_id, r.due_at, r.parked, r.room, r.endpoint_rank, a.room AS app_room,
               CASE WHEN a.id IS NOT NULL AND r.endpoint_rank <= r.room
                    THEN row_number() OVER (PARTITION BY r.app_id, r.endpoint_rank <= r.room ORDER BY r.due_at, r.id) END AS app_rank
        FROM endpoint_ranked r LEFT JOIN app_schedules a ON a.id = r.app_id),
      chosen AS MATERIALIZED (
        SELECT id, endpoint_id, app_id FROM ranked WHERE endpoint_rank <= room AND (app_room IS NULL OR app_rank <= app_room)
        ORDER BY due_at, id LIMIT @limit),
      claimed_endpoints AS (
        UPDATE endpoints e
        SET claim_seq = e.claim_seq + 1,
            throttle_tat = CASE WHEN e.throttle_rate IS NULL THEN e.throttle_tat
                                ELSE GREATEST(COALESCE(e.throttle_tat, @now), @now) + c.n * 1000.0::float8 / e.throttle_rate END
        FROM (SELECT endpoint_id, count(*) AS n FROM chosen GROUP BY endpoint_id) c
        WHERE e.id = c.endpoint_id AND e.id IN (SELECT id FROM locked_endpoints)),
      claimed_apps AS (
        UPDATE applications a
        SET throttle_tat = GREATEST(COALESCE(l.throttle_tat, @now), @now) + c.n * 1000.0::float8 / l.throttle_rate
        FROM (SELECT app_id, count(*) AS n FROM chosen GROUP BY app_id) c JOIN locked_apps l ON l.id = c.app_id
        WHERE a.id = c.app_id),
      parked AS (
        UPDATE deliveries SET parked_due_at = next_attempt_at, next_attempt_at = NULL
        WHERE id IN (SELECT id FROM ranked WHERE NOT parked AND (endpoint_rank > room OR app_rank > app_room))
        RETURNING id),
      leased AS (
        UPDATE deliveries
        SET locked_until = @lockedUntil, next_attempt_at = COALESCE(next_attempt_at, parked_due_at), parked_due_at = NULL
        WHERE id IN (SELECT id FROM chosen)
        RETURNING ${DELIVERY})
    SELECT leased.*, p.n AS parked_count FROM (SELECT count(*) AS n FROM parked) p LEFT JOIN leased ON true`,
  // A worker's buffered deliveries keep their leases, or give them back, only while each lease is
  // still the one it was given: one that ran out and was claimed again is someone else's now.
  // `= ANY (ARRAY(…))` makes it probe the primary key for each lease (see completeAttempts).
  renewLeases: `
    WITH l AS MATERIALIZED (SELECT x.id, x.locked_until FROM jsonb_to_recordset(@leases::jsonb) AS x(id text, locked_until bigint))
    UPDATE deliveries d SET locked_until = @lockedUntil::bigint
    FROM l
    WHERE d.id = ANY (ARRAY(SELECT id FROM l)) AND d.id = l.id AND d.locked_until = l.locked_until
      AND d.status IN ('pending', 'sending')
    RETURNING d.id`,
};

/** Every key is SQLite's only: the steps of PostgreSQL's one claimDueDeliveries statement, and renewLease (PostgreSQL's renewLeases, one lease a statement). */
export const sqlite = {
  // A claim round: these small indexed statements gather the candidates and what limits their
  // endpoints, planClaimRound (rules.ts) decides, and the updates below apply it, all in one
  // IMMEDIATE transaction, so two claimers (threads or processes) never both take a row: SQLite runs
  // writers one at a time. Candidates: a window of due deliveries in due order (deliveries_due),
  // the first attempts (deliveries_first_due, read only when the retry budget may bind), and the
  // parked deliveries of each endpoint with room, oldest first (deliveries_parked). Leases are
  // counted on deliveries_leased. PostgresStore does the same in one statement.
  selectReadyWindow: `
    SELECT id, endpoint_id, app_id, next_attempt_at AS due_at, attempt_count FROM deliveries
    WHERE status IN ('pending', 'sending') AND next_attempt_at <= @now
      AND (locked_until IS NULL OR locked_until <= @now)
    ORDER BY next_attempt_at, id LIMIT @window`,
  selectFirstAttemptWindow: `
    SELECT id, endpoint_id, app_id, next_attempt_at AS due_at, attempt_count FROM deliveries
    WHERE status IN ('pending', 'sending') AND attempt_count = 0 AND next_attempt_at <= @now
      AND (locked_until IS NULL OR locked_until <= @now)
    ORDER BY next_attempt_at, id LIMIT @window`,
  selectRecentWindow: `
    SELECT id, endpoint_id, app_id, next_attempt_at AS due_at, attempt_count FROM deliveries
    WHERE status IN ('pending', 'sending') AND next_attempt_at <= @now
      AND (locked_until IS NULL OR locked_until <= @now)
    ORDER BY next_attempt_at DESC, id DESC LIMIT @window`,
  // A loose index scan: one probe per endpoint with parked deliveries.
  selectParkedEndpoints: `
    WITH RECURSIVE ${lite.parkedEndpoints}
    SELECT endpoint_id FROM parked_endpoints WHERE endpoint_id IS NOT NULL`,
  selectEndpointSchedules: `
    SELECT e.id, e.app_id, ${lite.leaseBudget} AS concurrency, ${lite.appIsFull} AS app_full, e.throttle_rate, e.throttle_tat,
           a.throttle_rate AS app_throttle_rate, a.throttle_tat AS app_throttle_tat,
           CASE WHEN ${lite.leaseBudget} IS NULL THEN 0
                ELSE ${liveLeaseCount('e.id')} END AS leased
    FROM endpoints e JOIN applications a ON a.id = e.app_id WHERE e.id IN (SELECT value FROM json_each(@ids))`,
  selectParkedHeads: `
    SELECT id, endpoint_id, app_id, parked_due_at AS due_at, attempt_count FROM deliveries
    WHERE endpoint_id = @endpointId AND status IN ('pending', 'sending') AND parked_due_at IS NOT NULL
    ORDER BY parked_due_at, id LIMIT @limit`,
  // Status is left alone; only completeAttempt moves it. A parked delivery gets its due time back.
  leaseDeliveries: `
    UPDATE deliveries
    SET locked_until = @lockedUntil, next_attempt_at = COALESCE(next_attempt_at, parked_due_at), parked_due_at = NULL
    WHERE id IN (SELECT value FROM json_each(@ids))
    RETURNING ${DELIVERY}`,
  parkDeliveries: `
    UPDATE deliveries SET parked_due_at = next_attempt_at, next_attempt_at = NULL
    WHERE id IN (SELECT value FROM json_each(@ids)) AND next_attempt_at IS NOT NULL`,
  setThrottleTat: `UPDATE endpoints SET throttle_tat = @tat WHERE id = @id`,
  setAppThrottleTat: `UPDATE applications SET throttle_tat = @tat WHERE id = @id`,
  /** As on PostgreSQL, one lease a statement (in process, cheaper than unpacking a JSON list). */
  renewLease: `
    UPDATE deliveries SET locked_until = @lockedUntil
    WHERE id = @id AND locked_until = @previous AND status IN ('pending', 'sending')
    RETURNING id`,
};
