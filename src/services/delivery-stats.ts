// Numbers for the dashboard: attempts over time (server-wide, per application, per endpoint), the
// queue, and the endpoints that need an operator's eye (failing, disabled, slow). Every read is
// bounded by a time window and a limit, so a dashboard polling it cannot load the database.
import type { Endpoint } from '../domain/types.js';
import { validationError } from '../errors/tapwire-error.js';
import type { EndpointLatency } from '../storage/store.js';
import { getApplication } from './applications.js';
import type { ServiceContext } from './context.js';
import { getEndpoint } from './endpoints.js';

/** Widest window of one attempts-over-time query: 31 days. */
export const MAX_STATS_WINDOW_MS = 31 * 86_400_000;
/** Most buckets one attempts-over-time query may return. */
export const MAX_STATS_BUCKETS = 1000;
/** Widest window for the slowest-endpoints ranking: 7 days. */
export const MAX_LATENCY_WINDOW_MS = 7 * 86_400_000;

export interface StatsWindowInput {
  since: Date | null;
  until: Date | null;
  /** Bucket width; null = chosen so that the window holds about 24 to 60 buckets. */
  bucketMs: number | null;
}

export interface AttemptsOverTime {
  since: Date;
  until: Date;
  bucketMs: number;
  /** Every bucket of the window, empty ones included, oldest first. */
  buckets: { start: Date; success: number; fail: number }[];
  total: { success: number; fail: number };
}

/** Bucket widths chosen when none is asked for, smallest first. */
const NICE_BUCKETS_MS = [60_000, 5 * 60_000, 15 * 60_000, 3600_000, 6 * 3600_000, 86_400_000];

/**
 * Attempts made in the window by outcome per bucket: the whole server's, or one application's or
 * one endpoint's (given by id or uid). Default window: the 24 hours before now.
 */
export async function countAttemptsOverTime(
  ctx: ServiceContext,
  input: StatsWindowInput & { appIdOrUid?: string | null; endpointIdOrUid?: string | null },
): Promise<AttemptsOverTime> {
  const until = input.until ?? ctx.clock.now();
  const since = input.since ?? new Date(until.getTime() - 86_400_000);
  const windowMs = until.getTime() - since.getTime();
  if (windowMs <= 0) throw validationError(['query', 'since'], 'since must be before until', 'value_error');
  if (windowMs > MAX_STATS_WINDOW_MS) throw validationError(['query', 'since'], 'the window may span 31 days at most', 'value_error');
  const bucketMs = input.bucketMs ?? NICE_BUCKETS_MS.find((ms) => windowMs / ms <= 60) ?? 86_400_000;
  if (bucketMs < 1000) throw validationError(['query', 'bucket'], 'bucket must be at least 1s', 'value_error');
  const count = Math.ceil(windowMs / bucketMs);
  if (count > MAX_STATS_BUCKETS) {
    throw validationError(['query', 'bucket'], `the window holds ${count} buckets of this size; at most ${MAX_STATS_BUCKETS} are allowed`, 'value_error');
  }
  let appId: string | null = null;
  let endpointId: string | null = null;
  if (input.appIdOrUid) {
    appId = (await getApplication(ctx, input.appIdOrUid)).id;
    if (input.endpointIdOrUid) endpointId = (await getEndpoint(ctx, appId, input.endpointIdOrUid)).id;
  }
  const rows = await ctx.store.countAttemptsOverTime({ since, until, bucketMs, appId, endpointId });
  const buckets = Array.from({ length: count }, (_, i) => ({ start: new Date(since.getTime() + i * bucketMs), success: 0, fail: 0 }));
  const total = { success: 0, fail: 0 };
  for (const row of rows) {
    const bucket = buckets[row.index];
    if (!bucket) continue;
    bucket.success += row.success;
    bucket.fail += row.fail;
    total.success += row.success;
    total.fail += row.fail;
  }
  return { since, until, bucketMs, buckets, total };
}

/** The delivery queue now: waiting deliveries, those already due, and how late the oldest due one is. */
export async function getQueueStats(ctx: ServiceContext): Promise<{ pending: number; due: number; oldestDueAt: Date | null; oldestDueAgeMs: number | null }> {
  const now = ctx.clock.now();
  const snapshot = await ctx.store.queueSnapshot(now);
  return { ...snapshot, oldestDueAgeMs: snapshot.oldestDueAt ? Math.max(0, now.getTime() - snapshot.oldestDueAt.getTime()) : null };
}

/** An endpoint in a health list, with the name of its application. */
export interface EndpointHealthItem {
  endpoint: Endpoint;
  appName: string | null;
}

export interface SlowEndpointItem extends EndpointLatency {
  /** null when the endpoint has been deleted since. */
  url: string | null;
  appName: string | null;
}

/**
 * Endpoints that need attention: failing now (longest first), disabled (latest first), and the
 * slowest by average attempt duration over [since, until) (default: the last hour).
 */
export async function getEndpointHealth(
  ctx: ServiceContext,
  input: { since: Date | null; until: Date | null; limit: number },
): Promise<{ since: Date; until: Date; failing: EndpointHealthItem[]; disabled: EndpointHealthItem[]; slowest: SlowEndpointItem[] }> {
  const until = input.until ?? ctx.clock.now();
  const since = input.since ?? new Date(until.getTime() - 3600_000);
  const windowMs = until.getTime() - since.getTime();
  if (windowMs <= 0) throw validationError(['query', 'since'], 'since must be before until', 'value_error');
  if (windowMs > MAX_LATENCY_WINDOW_MS) throw validationError(['query', 'since'], 'the window may span 7 days at most', 'value_error');
  const [unhealthy, latencies] = await Promise.all([
    ctx.store.listUnhealthyEndpoints(input.limit),
    ctx.store.listSlowestEndpoints({ since, until, limit: input.limit }),
  ]);
  // At most 3 × limit lookups by primary key, each once per application.
  const appNames = new Map<string, Promise<string | null>>();
  const appName = (appId: string): Promise<string | null> => {
    let name = appNames.get(appId);
    if (!name) {
      name = ctx.store.getApplication(appId).then((app) => app?.name ?? null);
      appNames.set(appId, name);
    }
    return name;
  };
  const withApp = (endpoints: Endpoint[]): Promise<EndpointHealthItem[]> =>
    Promise.all(endpoints.map(async (endpoint) => ({ endpoint, appName: await appName(endpoint.appId) })));
  const slowest = await Promise.all(
    latencies.map(async (latency) => ({
      ...latency,
      url: (await ctx.store.getEndpoint(latency.appId, latency.endpointId))?.url ?? null,
      appName: await appName(latency.appId),
    })),
  );
  return { since, until, failing: await withApp(unhealthy.failing), disabled: await withApp(unhealthy.disabled), slowest };
}
