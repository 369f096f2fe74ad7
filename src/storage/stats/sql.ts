// Statistics: an endpoint's deliveries by status, and the operator's view (attempts over time, the
// endpoints in trouble, the slowest ones). The statements of both databases, side by side. Each
// reads a bounded window through an index: attempts_time for the whole server, attempts_app and
// attempts_endpoint (with the window's first attempt id) for one application or endpoint. The
// endpoint lists scan the endpoints table, one row per registered URL, with a LIMIT.
import { columns, ENDPOINT_COLUMNS } from '../shared/columns.js';
import { postgres as pg, sqlite as lite } from '../shared/sql-fragments.js';

const ENDPOINT = columns(ENDPOINT_COLUMNS);

/** Counts of an endpoint's latest deliveries by status, for messages created in a window. */
const countEndpointDeliveriesByStatus = (isLatestDelivery: string): string => `
    SELECT d.status AS status, count(*) AS n FROM deliveries d JOIN messages m ON m.id = d.msg_id
    WHERE d.endpoint_id = @endpointId AND d.app_id = @appId
      AND m.created_at >= @since AND m.created_at < @until
      AND ${isLatestDelivery}
    GROUP BY d.status`;

/** Attempts per time bucket, by outcome; `bucket` and `outcomes` are each database's spelling of the same arithmetic. */
const attemptsOverTime = (bucket: string, outcomes: string, until: string) => {
  const buckets = (scope: string) => `
    SELECT ${bucket} AS bucket, ${outcomes}
    FROM attempts
    WHERE ${scope} attempted_at >= @since AND attempted_at < ${until}
    GROUP BY bucket ORDER BY bucket`;
  return {
    countAttemptsOverTime: buckets(''),
    countAppAttemptsOverTime: buckets('app_id = @appId AND id >= @minId AND'),
    countEndpointAttemptsOverTime: buckets('endpoint_id = @endpointId AND app_id = @appId AND id >= @minId AND'),
  };
};

export const postgres = {
  countEndpointDeliveriesByStatus: countEndpointDeliveriesByStatus(pg.isLatestDelivery),
  ...attemptsOverTime(
    '(attempted_at - @since::bigint) / @bucketMs::bigint',
    `COUNT(*) FILTER (WHERE status = 'success') AS success, COUNT(*) FILTER (WHERE status = 'fail') AS fail`,
    '@until::bigint',
  ),
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
};

/** Booleans are 0/1; no FILTER clause or casts. */
export const sqlite = {
  countEndpointDeliveriesByStatus: countEndpointDeliveriesByStatus(lite.isLatestDelivery),
  ...attemptsOverTime(
    'CAST((attempted_at - @since) / @bucketMs AS INTEGER)',
    `SUM(status = 'success') AS success, SUM(status = 'fail') AS fail`,
    '@until',
  ),
  selectFailingEndpoints: `
    SELECT ${ENDPOINT} FROM endpoints
    WHERE deleted_at IS NULL AND disabled = 0 AND failing_since IS NOT NULL
    ORDER BY failing_since, id LIMIT @limit`,
  selectDisabledEndpoints: `
    SELECT ${ENDPOINT} FROM endpoints
    WHERE deleted_at IS NULL AND disabled = 1
    ORDER BY updated_at DESC, id LIMIT @limit`,
  selectSlowestEndpoints: `
    SELECT endpoint_id, app_id, COUNT(*) AS attempts,
           AVG(response_duration_ms) AS avg_ms, MAX(response_duration_ms) AS max_ms
    FROM attempts
    WHERE attempted_at >= @since AND attempted_at < @until
    GROUP BY endpoint_id, app_id
    ORDER BY avg_ms DESC, endpoint_id LIMIT @limit`,
} satisfies Record<keyof typeof postgres, string>;

/** Which bucket statement serves a scope: the one of its narrowest index. */
export function attemptsOverTimeFor(input: { appId?: string | null; endpointId?: string | null }): 'countEndpointAttemptsOverTime' | 'countAppAttemptsOverTime' | 'countAttemptsOverTime' {
  return input.endpointId ? 'countEndpointAttemptsOverTime' : input.appId ? 'countAppAttemptsOverTime' : 'countAttemptsOverTime';
}
