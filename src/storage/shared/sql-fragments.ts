// Pieces of SQL that several subjects' statements share, both databases side by side. Each says the
// same thing on both; where the text differs, the comment says why.

/** Both databases: endpoints with parked deliveries, by a loose index scan of deliveries_parked (one probe per endpoint). */
function parkedEndpoints(firstProbe: string): string {
  return `parked_endpoints (endpoint_id) AS (
        ${firstProbe}
        UNION ALL
        SELECT (SELECT d.endpoint_id FROM deliveries d
                WHERE d.status IN ('pending', 'sending') AND d.parked_due_at IS NOT NULL AND d.endpoint_id > p.endpoint_id
                ORDER BY d.endpoint_id LIMIT 1)
        FROM parked_endpoints p WHERE p.endpoint_id IS NOT NULL)`;
}

const FIRST_PARKED = `FROM deliveries
         WHERE status IN ('pending', 'sending') AND parked_due_at IS NOT NULL
         ORDER BY endpoint_id LIMIT 1`;

/**
 * Both databases: a delivery queued now for endpoint `endpoint` (an SQL expression) joins the back of
 * that endpoint's parked queue when it has one (its deliveries wait for room), instead of the due
 * order, where the next claim would only park it after reading through everything due before it.
 * A tenant's backlog is then parked once, not re-read by claim after claim. One probe of
 * deliveries_parked.
 */
export function joinsParkedQueue(endpoint: string): string {
  return `EXISTS (SELECT 1 FROM deliveries p
                   WHERE p.endpoint_id = ${endpoint} AND p.status IN ('pending', 'sending') AND p.parked_due_at IS NOT NULL)`;
}

/**
 * Both databases: endpoint `endpoint`'s leases that have not run out at @now (its attempts in
 * flight and buffered, in any process), counted on deliveries_leased.
 */
export function liveLeaseCount(endpoint: string): string {
  return `(SELECT count(*) FROM deliveries x
           WHERE x.endpoint_id = ${endpoint} AND x.status IN ('pending', 'sending')
             AND x.locked_until IS NOT NULL AND x.locked_until > @now)`;
}

/**
 * PostgreSQL: the body of a MATERIALIZED CTE saying, for each endpoint of `rows` (a CTE or table
 * with an endpoint_id column), whether it has a parked queue (joinsParkedQueue). Probed once per
 * endpoint, not once or twice per row: a probe walks the index entries that unparked deliveries
 * leave behind until vacuum, which for a busy endpoint are many.
 */
export function parkedQueuesOf(rows: string): string {
  return `SELECT t.endpoint_id, ${joinsParkedQueue('t.endpoint_id')} AS parked FROM (SELECT DISTINCT endpoint_id FROM ${rows}) t`;
}

/**
 * Both databases: delivery `d` (a table alias) waits in its FIFO endpoint's line behind the head
 * (migration 0015): no due time, no parked time, no lease, so no claim ever reads it. Matches the
 * partial index deliveries_fifo_held.
 */
export function isFifoHeld(d: string): string {
  return `${d}.fifo_seq IS NOT NULL AND ${d}.status = 'pending' AND ${d}.next_attempt_at IS NULL AND ${d}.parked_due_at IS NULL AND ${d}.locked_until IS NULL`;
}

/** Both databases: delivery `d` is the head of its FIFO endpoint's line: unfinished and due, parked or leased (deliveries_fifo_head). */
export function isFifoHead(d: string): string {
  return `${d}.fifo_seq IS NOT NULL AND ${d}.status IN ('pending', 'sending')
                 AND (${d}.next_attempt_at IS NOT NULL OR ${d}.parked_due_at IS NOT NULL OR ${d}.locked_until IS NOT NULL)`;
}

/**
 * Both databases: endpoint `endpoint` (an SQL expression) has a head in its FIFO line, so a
 * delivery queued for it now is held. On PostgreSQL only meaningful under the endpoint's row lock
 * (see lockFifoEndpoints), taken before the statement so that its snapshot sees every head.
 */
export function hasFifoHead(endpoint: string): string {
  return `EXISTS (SELECT 1 FROM deliveries fh WHERE fh.endpoint_id = ${endpoint} AND ${isFifoHead('fh')})`;
}

/** Both databases: the highest place taken in endpoint `endpoint`'s FIFO line, 0 for none (one probe of deliveries_fifo_seq). */
export function lastFifoSeq(endpoint: string): string {
  return `(SELECT COALESCE(MAX(fs.fifo_seq), 0) FROM deliveries fs WHERE fs.endpoint_id = ${endpoint} AND fs.fifo_seq IS NOT NULL)`;
}

/** SqlFragments.leaseBudget, from each database's spelling of its parts. */
function leaseBudget(appIsFull: string, budgetOfEndpoint: string, defaultConcurrency: string): string {
  return `CASE WHEN ${appIsFull} THEN 0
                     ELSE COALESCE(${budgetOfEndpoint}, e.concurrency_limit, ${defaultConcurrency}) END`;
}

const PG_APP_IS_FULL = `COALESCE(jsonb_exists(@fullApps::jsonb, e.app_id), false)`;
const LITE_APP_IS_FULL = `EXISTS (SELECT 1 FROM json_each(@fullApps) WHERE value = e.app_id)`;

/** What differs between the databases in a statement written once (see each subject's sql.ts). */
export interface SqlFragments {
  isLatestDelivery: string;
  messageFilters: string;
  endpointAccepts: (eventType: string, channels: string) => string;
  parkedEndpoints: string;
  /** A cast that types a parameter PostgreSQL cannot infer (a NULL one, say); SQLite needs none. */
  cast: (type: string) => string;
  /**
   * Endpoint `e`'s lease budget in a claim: 0 while its application is in @fullApps (a JSON array of
   * ids: the worker holds that application's share already), else its entry in @budgets (a JSON
   * object of endpoint id → leases, the worker's adaptive limits), else its own concurrency_limit,
   * else @defaultConcurrency. NULL = not limited.
   */
  leaseBudget: string;
  /** Endpoint `e`'s application is in @fullApps (a JSON array of ids, or NULL for none). */
  appIsFull: string;
}

export const postgres: SqlFragments = {
  /**
   * The latest delivery of its (message, endpoint) pair; used wherever "current state" is shown.
   * An anti-join on deliveries_msg_endpoint (msg_id, endpoint_id, id): no newer row for the pair.
   */
  isLatestDelivery: `NOT EXISTS (
  SELECT 1 FROM deliveries d2 WHERE d2.msg_id = d.msg_id AND d2.endpoint_id = d.endpoint_id AND d2.id > d.id)`,
  /**
   * Optional message filters shared by the message, attempt and attempted-message lists. A tag is
   * one probe of message_tags' primary key per row (the message list walks a tag's own index
   * instead, see listMessagesByTag).
   */
  messageFilters: `
  AND (@channel::text IS NULL OR @channel = ANY (m.channels))
  AND (@eventTypes::text[] IS NULL OR m.event_type = ANY (@eventTypes))
  AND (@tag::text IS NULL OR EXISTS (SELECT 1 FROM message_tags mt WHERE mt.msg_id = m.id AND mt.tag = @tag))`,
  /**
   * Fan-out matching, shared by fan-out and replay-missing: endpoint `e`'s event-type filter admits
   * the type and its channel filter overlaps the channels (SQL expressions of the message's type and
   * channels). NULL (not false)
   * when the message has no channels and the endpoint has some: `&& NULL` is not true.
   */
  endpointAccepts: (eventType: string, channels: string): string => `(e.event_types IS NULL OR ${eventType} = ANY (e.event_types))
               AND (e.channels IS NULL OR e.channels && ${channels})`,
  /** A recursive CTE (inside WITH RECURSIVE); PostgreSQL takes the first probe as a parenthesised query. */
  parkedEndpoints: parkedEndpoints(`(SELECT endpoint_id ${FIRST_PARKED})`),
  cast: (type) => `::${type}`,
  leaseBudget: leaseBudget(PG_APP_IS_FULL, `(@budgets::jsonb ->> e.id)::integer`, '@defaultConcurrency::integer'),
  appIsFull: PG_APP_IS_FULL,
};

export const sqlite: SqlFragments = {
  /**
   * As on PostgreSQL; SQLite answers the correlated MAX with one probe of deliveries_msg_endpoint,
   * where its planner would not turn NOT EXISTS into an anti-join.
   */
  isLatestDelivery: `d.id = (SELECT MAX(d2.id) FROM deliveries d2 WHERE d2.msg_id = d.msg_id AND d2.endpoint_id = d.endpoint_id)`,
  /** Channels and lists are JSON text here: json_each stands in for PostgreSQL's arrays. */
  messageFilters: `
  AND (@channel IS NULL OR EXISTS (SELECT 1 FROM json_each(m.channels) WHERE value = @channel))
  AND (@eventTypes IS NULL OR m.event_type IN (SELECT value FROM json_each(@eventTypes)))
  AND (@tag IS NULL OR EXISTS (SELECT 1 FROM message_tags mt WHERE mt.msg_id = m.id AND mt.tag = @tag))`,
  /**
   * As on PostgreSQL, the channels being JSON text; false, not NULL, when a message without channels
   * meets a channel endpoint.
   */
  endpointAccepts: (eventType: string, channels: string): string => `(e.event_types IS NULL OR EXISTS (SELECT 1 FROM json_each(e.event_types) WHERE value = ${eventType}))
      AND (e.channels IS NULL OR EXISTS (
        SELECT 1 FROM json_each(e.channels) ec JOIN json_each(${channels}) mc ON mc.value = ec.value))`,
  /** SQLite wants the first probe as a scalar subquery in a SELECT. */
  parkedEndpoints: parkedEndpoints(`SELECT (SELECT endpoint_id ${FIRST_PARKED})`),
  cast: () => '',
  /** As on PostgreSQL; ids are letters, digits and underscores, so they need no quoting in a JSON path. */
  leaseBudget: leaseBudget(LITE_APP_IS_FULL, `json_extract(@budgets, '$.' || e.id)`, '@defaultConcurrency'),
  appIsFull: LITE_APP_IS_FULL,
};
