// The scenarios of `npm run bench` (issue 6, design.md §7). Each runs against a fresh database and
// fresh Tapwire processes, delivers to the shared receiver process, and returns plain numbers; the
// ratios to the baselines are worked out in report.ts once every baseline run is in.
//
// Rates of delivery are measured at the receiver, from the first to the last arrival, so the
// start-up of a process is not counted against it (it is reported separately).
import { fillBacklog } from './backlog-fill.js';
import { wallClockMs } from './clock.js';
import { CpuMeter, type CpuShare } from './cpu.js';
import type { HelperProcess } from './ipc.js';
import { postClosedLoop, postOpenLoop, sendRaw, type RawResult } from './load.js';
import type { LimitedPath, ReceiverReady, ReceiverStats } from './receiver.js';
import type { RelayReady, RelayStats } from './relay.js';
import { percentiles, ratio, type Percentiles } from './stats.js';
import { ApiClient, freshDatabase, TapwireProcess, type Backend, type Database, type Role } from './tapwire.js';

/** Sizes and durations of one mode (full, quick, smoke). */
export interface Sizes {
  rawMs: number;
  warmupMs: number;
  relayMs: number;
  drainMessages: number;
  e2eMs: number;
  latencyMs: number;
  backlogDeliveries: number;
  backlogDrainMs: number;
  backlogApiMs: number;
  noisyMessagesPerEndpoint: number;
  fanOut10Messages: number;
  fanOut100Messages: number;
  /** Slow endpoint: how long the open loop posts at SLOW_RATE_PER_SECOND. */
  slowMs: number;
  /** Noisy tenant: tenant A's messages (each fanned out to its 50 endpoints). */
  tenantAMessages: number;
  /** Noisy tenant: how long tenant B posts at TENANT_B_RATE_PER_SECOND. */
  tenantBMs: number;
  /** Noisy tenant: how long to wait for B's last deliveries after its last post. */
  tenantBWaitMs: number;
  /** Retry-After: messages queued for the limited endpoint, and how long it answers 429. */
  retryAfterMessages: number;
  limitedWindowMs: number;
  /** Retry-After: how long to wait for every delivery after the limited window ends. */
  retryAfterWaitMs: number;
  /** Transformation: messages drained once without and once with a small transformation. */
  transformMessages: number;
}

export interface BenchSettings {
  sizes: Sizes;
  /** Requests in flight of the raw sender and the relay (Tapwire runs with its own defaults). */
  concurrency: number;
  /** API clients in flight in the closed-loop scenarios. */
  clients: number;
  postgresUrl: string;
  logLevel: string;
  logDir: string | null;
  /** Write a V8 CPU profile of every Tapwire process into this directory (node --cpu-prof). */
  profileDir: string | null;
  /** TAPWIRE_REQUEST_TIMEOUT of the noisy-neighbour scenario. */
  noisyRequestTimeout: string;
  /** Extra environment for every Tapwire process (--server-env), e.g. to compare a setting on and off. */
  serverEnv: Record<string, string>;
}

/** Endpoint secret of every scenario (and of the raw sender and relay, which sign alike). */
export const SECRET = 'whsec_' + Buffer.from('tapwire-bench-secret-0123456789').toString('base64');

/** Arrivals under `prefix`, summed over the receiver's paths. */
export function arrivalsUnder(stats: ReceiverStats, prefix: string): { unique: number; repeats: number; first: number; last: number } {
  let unique = 0;
  let repeats = 0;
  let first = Infinity;
  let last = -Infinity;
  for (const [path, s] of Object.entries(stats.paths)) {
    if (!path.startsWith(prefix)) continue;
    unique += s.unique;
    repeats += s.repeats;
    first = Math.min(first, s.first);
    last = Math.max(last, s.last);
  }
  return { unique, repeats, first, last };
}

/** Deliveries per second between the first and the last of `count` arrivals. */
function spanRate(count: number, first: number, last: number): number | null {
  return count > 1 && last > first ? ((count - 1) * 1000) / (last - first) : null;
}

/** The shared state of a run: the receiver, the relay, and every process still to clean up. */
export class Bench {
  readonly live = new Set<TapwireProcess>();
  /** Databases not dropped yet (dropped by closeAll() too, for an interrupted run). */
  readonly databases = new Set<Database>();
  /** Receiver clock minus harness clock, ms (subtracted from arrival times). */
  clockOffsetMs = 0;

  constructor(
    readonly settings: BenchSettings,
    readonly receiver: HelperProcess<ReceiverReady>,
    readonly relay: HelperProcess<RelayReady> | null,
  ) {}

  origin(index: number): string {
    const origins = this.receiver.ready.origins;
    return origins[index % origins.length]!;
  }

  /** Forget the receiver's counts; see the receiver's `reset` for `more`. */
  resetReceiver(track = false, more: { trackPrefix?: string; limitedWindowMs?: number } = {}): Promise<ReceiverStats> {
    return this.receiver.call<ReceiverStats>('reset', { track, ...more });
  }

  async start(database: Database, role: Role, env: Record<string, string> = {}, name: string = role): Promise<TapwireProcess> {
    const logFile = this.settings.logDir ? `${this.settings.logDir}/${database.backend}-${name}-${Date.now()}.log` : null;
    const nodeArgs = this.settings.profileDir ? ['--cpu-prof', '--cpu-prof-dir', this.settings.profileDir] : [];
    const tapwire = await TapwireProcess.start({ database, role, env: { ...this.settings.serverEnv, ...env }, logLevel: this.settings.logLevel, logFile, nodeArgs });
    this.live.add(tapwire);
    return tapwire;
  }

  /** SIGTERM, then SIGKILL after `graceMs` (TapwireProcess.stop's default when not given). */
  async stop(tapwire: TapwireProcess, graceMs?: number): Promise<{ peakRssMb: number | null }> {
    this.live.delete(tapwire);
    return tapwire.stop(graceMs);
  }

  /** Wait until `count` distinct arrivals under `prefix`; fails if a Tapwire process dies or time runs out. */
  async waitForArrivals(prefix: string, count: number, processes: TapwireProcess[]): Promise<ReceiverStats> {
    const timeoutMs = 120_000 + count * 10;
    const stats = await Promise.race([this.receiver.call<ReceiverStats & { reached: boolean }>('waitFor', { prefix, count, timeoutMs }), ...processes.map((p) => p.failed)]);
    if (!stats.reached) throw new Error(`only ${arrivalsUnder(stats, prefix).unique} of ${count} deliveries under ${prefix} arrived within ${timeoutMs / 1000} s`);
    return stats;
  }

  /** Like waitForArrivals, but a timeout is an answer (`reached` false), not a failure. */
  waitForArrivalsUpTo(prefix: string, count: number, processes: TapwireProcess[], timeoutMs: number): Promise<ReceiverStats & { reached: boolean }> {
    return Promise.race([this.receiver.call<ReceiverStats & { reached: boolean }>('waitFor', { prefix, count, timeoutMs: Math.max(0, timeoutMs) }), ...processes.map((p) => p.failed)]);
  }

  /** Tracked arrivals (see resetReceiver), on the harness's clock. */
  async trackedArrivals(): Promise<Map<string, number>> {
    return new Map((await this.receiver.call<[string, number][]>('arrivals')).map(([id, at]) => [id, at - this.clockOffsetMs]));
  }

  /** Measure the offset between the receiver's clock and ours: the exchange with the shortest round trip wins. */
  async measureClockOffset(): Promise<{ offsetMs: number; roundTripMs: number }> {
    let best = { offsetMs: 0, roundTripMs: Infinity };
    for (let i = 0; i < 50; i++) {
      const sentAt = wallClockMs();
      const res = await fetch(`${this.origin(0)}/clock`);
      const theirs = Number(await res.text());
      const backAt = wallClockMs();
      if (backAt - sentAt < best.roundTripMs) best = { offsetMs: theirs - (sentAt + backAt) / 2, roundTripMs: backAt - sentAt };
    }
    this.clockOffsetMs = best.offsetMs;
    return best;
  }

  /** Stop every Tapwire process; with `dropDatabases`, drop every database still there too. */
  async closeAll(dropDatabases = false): Promise<void> {
    await Promise.allSettled([...this.live].map((p) => this.stop(p)));
    if (dropDatabases) await Promise.allSettled([...this.databases].map((d) => d.drop()));
  }
}

/** Create an application per list, with one endpoint per URL, every setting at the server's default. */
async function setUpApps(client: ApiClient, urls: string[][]): Promise<string[]> {
  const paths: string[] = [];
  for (const [i, endpointUrls] of urls.entries()) {
    const appId = await client.createApp(`bench-${i}`);
    for (const url of endpointUrls) await client.createEndpoint(appId, url, SECRET, null);
    paths.push(`/api/v1/app/${appId}/msg`);
  }
  return paths;
}

function assertAccepted(what: string, posted: { accepted: number; errors: number; firstError: string | null }, expected?: number): void {
  if (posted.errors > 0 || (expected !== undefined && posted.accepted !== expected)) {
    throw new Error(`${what}: ${posted.accepted} accepted, ${posted.errors} refused; first refusal: ${posted.firstError}`);
  }
}

/** Pre-load messages through an API-only process, then stop it: the queue is full, nobody delivers. */
async function preload(
  bench: Bench,
  database: Database,
  apps: string[][],
  count: number,
): Promise<{ acceptPerSecond: number }> {
  const api = await bench.start(database, 'api');
  const client = new ApiClient(api.url!, bench.settings.clients);
  try {
    const paths = await setUpApps(client, apps);
    const posted = await postClosedLoop(client, { paths, clients: bench.settings.clients, count });
    assertAccepted('pre-loading', posted, count);
    return { acceptPerSecond: posted.perSecond };
  } finally {
    await client.close();
    await bench.stop(api);
  }
}

async function withDatabase<T>(bench: Bench, backend: Backend, work: (database: Database) => Promise<T>): Promise<T> {
  const database = freshDatabase(backend, bench.settings.postgresUrl);
  bench.databases.add(database);
  try {
    return await work(database);
  } finally {
    await bench.closeAll();
    bench.databases.delete(database);
    await database.drop();
  }
}

// 1. Raw limit ---------------------------------------------------------------------------------

export async function runRaw(bench: Bench): Promise<RawResult & { cpu: CpuShare }> {
  const { sizes, concurrency } = bench.settings;
  const before = await bench.resetReceiver();
  const meter = new CpuMeter({ receiverCpuMs: before.cpuMs });
  const result = await sendRaw({ url: `${bench.origin(0)}/ok/raw`, secret: SECRET, concurrency, durationMs: sizes.rawMs, warmupMs: sizes.warmupMs });
  const after = await bench.receiver.call<ReceiverStats>('stats');
  return { ...result, cpu: meter.end({ receiverCpuMs: after.cpuMs }) };
}

// 2. Drain --------------------------------------------------------------------------------------

export interface DrainResult {
  messages: number;
  /** Accepting them through the API (an API-only process, nobody delivering). */
  acceptPerSecond: number;
  /** From the first to the last arrival. */
  deliveriesPerSecond: number | null;
  /** From spawning the worker to its first delivery (start-up, migrations check, first claim). */
  secondsToFirstDelivery: number;
  repeats: number;
  peakRssMb: number | null;
  cpu: CpuShare;
}

export async function runDrain(bench: Bench, backend: Backend): Promise<DrainResult> {
  const { sizes } = bench.settings;
  const messages = sizes.drainMessages;
  return withDatabase(bench, backend, async (database) => {
    const { acceptPerSecond } = await preload(bench, database, [[`${bench.origin(0)}/ok/drain`]], messages);
    const before = await bench.resetReceiver();
    const meter = new CpuMeter({ receiverCpuMs: before.cpuMs });
    const spawnedAt = wallClockMs();
    const worker = await bench.start(database, 'worker');
    const stats = await bench.waitForArrivals('/ok/', messages, [worker]);
    const cpu = meter.end({ tapwirePids: [worker.pid], receiverCpuMs: stats.cpuMs });
    const { peakRssMb } = await bench.stop(worker);
    const arrived = arrivalsUnder(stats, '/ok/');
    return {
      messages,
      acceptPerSecond,
      deliveriesPerSecond: spanRate(arrived.unique, arrived.first, arrived.last),
      secondsToFirstDelivery: (arrived.first - bench.clockOffsetMs - spawnedAt) / 1000,
      repeats: arrived.repeats,
      peakRssMb,
      cpu,
    };
  });
}

// 3. End to end ---------------------------------------------------------------------------------

export interface EndToEndResult {
  /** How long the clients posted; the first `warmupMs` of it are not counted in the rates. */
  postingSeconds: number;
  accepted: number;
  /** API accepts per second after the warm-up. */
  acceptPerSecond: number;
  /** Deliveries arriving per second after the warm-up, while the clients were still posting. */
  deliveriesPerSecond: number | null;
  /** Every accepted message delivered, posting and the drain after it: accepted ÷ (last arrival − first request). */
  allDeliveredPerSecond: number | null;
  /** Accepted but not yet delivered when the clients stopped. */
  queuedWhenPostingStopped: number;
  repeats: number;
  peakRssMb: number | null;
  cpu: CpuShare;
}

/**
 * Post for `durationMs` with the closed-loop clients while the system under test delivers to /ok/…,
 * then wait for every delivery. The rates count from the end of the warm-up to the end of posting.
 */
async function measureEndToEnd(
  bench: Bench,
  client: ApiClient,
  paths: string[],
  durationMs: number,
  cpuStart: { tapwirePids?: number[]; relay?: boolean },
  processes: TapwireProcess[],
): Promise<Omit<EndToEndResult, 'peakRssMb'>> {
  const { warmupMs } = bench.settings.sizes;
  const before = await bench.resetReceiver();
  const relayBefore = cpuStart.relay ? await bench.relay!.call<RelayStats>('stats') : undefined;
  const meter = new CpuMeter({ receiverCpuMs: before.cpuMs, relayCpuMs: relayBefore?.cpuMs, tapwirePids: cpuStart.tapwirePids });
  const atWarm = new Promise((resolve) => setTimeout(resolve, warmupMs)).then(() => bench.receiver.call<ReceiverStats>('stats'));
  const posted = await postClosedLoop(client, { paths, clients: bench.settings.clients, durationMs: warmupMs + durationMs, warmupMs });
  assertAccepted('posting', posted);
  const stopStats = await bench.receiver.call<ReceiverStats>('stats');
  const warm = arrivalsUnder(await atWarm, '/ok/');
  const atStop = arrivalsUnder(stopStats, '/ok/');
  const stats = await bench.waitForArrivals('/ok/', posted.accepted, processes);
  const relayAfter = cpuStart.relay ? await bench.relay!.call<RelayStats>('stats') : undefined;
  const cpu = meter.end({ tapwirePids: cpuStart.tapwirePids, receiverCpuMs: stats.cpuMs, relayCpuMs: relayAfter?.cpuMs });
  const arrived = arrivalsUnder(stats, '/ok/');
  const warmAt = (await atWarm).at;
  return {
    postingSeconds: (posted.endedAt - posted.startedAt) / 1000,
    accepted: posted.accepted,
    acceptPerSecond: posted.warmPerSecond,
    deliveriesPerSecond: stopStats.at > warmAt ? ((atStop.unique - warm.unique) * 1000) / (stopStats.at - warmAt) : null,
    allDeliveredPerSecond: arrived.last > posted.startedAt ? (posted.accepted * 1000) / (arrived.last - bench.clockOffsetMs - posted.startedAt) : null,
    queuedWhenPostingStopped: posted.accepted - atStop.unique,
    repeats: arrived.repeats,
    cpu,
  };
}

export async function runEndToEnd(bench: Bench, backend: Backend): Promise<EndToEndResult> {
  const { sizes, clients } = bench.settings;
  return withDatabase(bench, backend, async (database) => {
    const tapwire = await bench.start(database, 'all');
    const client = new ApiClient(tapwire.url!, clients);
    try {
      const paths = await setUpApps(client, [[`${bench.origin(0)}/ok/e2e`]]);
      const result = await measureEndToEnd(bench, client, paths, sizes.e2eMs, { tapwirePids: [tapwire.pid] }, [tapwire]);
      return { ...result, peakRssMb: tapwire.peakRssMb() };
    } finally {
      await client.close();
    }
  });
}

/** The no-storage relay, end to end, driven exactly like Tapwire's API. */
export async function runRelayEndToEnd(bench: Bench): Promise<Omit<EndToEndResult, 'peakRssMb'>> {
  const client = new ApiClient(bench.relay!.ready.url, bench.settings.clients);
  try {
    return await measureEndToEnd(bench, client, ['/api/v1/app/app_relay/msg'], bench.settings.sizes.relayMs, { relay: true }, []);
  } finally {
    await client.close();
  }
}

// 4. Latency ------------------------------------------------------------------------------------

export interface LatencyResult {
  /** 20 % of the maximum end-to-end rate measured in this run (at least about 10 messages in the measured window). */
  targetPerSecond: number;
  achievedPerSecond: number;
  messages: number;
  /** Sent but never arrived within the wait. */
  missing: number;
  /** From sending the API request to the receiver's arrival (design.md §7's latency). */
  callToArrivalMs: Percentiles | null;
  /** From the client receiving the 202 to the arrival (negative when the delivery won the race). */
  acceptedToArrivalMs: Percentiles | null;
  /** The API call alone. */
  callToAcceptedMs: Percentiles | null;
  peakRssMb: number | null;
  cpu: CpuShare;
}

async function measureLatency(
  bench: Bench,
  client: ApiClient,
  path: string,
  ratePerSecond: number,
  cpuStart: { tapwirePids?: number[]; relay?: boolean },
  processes: TapwireProcess[],
): Promise<Omit<LatencyResult, 'peakRssMb'>> {
  const { latencyMs, warmupMs } = bench.settings.sizes;
  const before = await bench.resetReceiver(true);
  const relayBefore = cpuStart.relay ? await bench.relay!.call<RelayStats>('stats') : undefined;
  const meter = new CpuMeter({ receiverCpuMs: before.cpuMs, relayCpuMs: relayBefore?.cpuMs, tapwirePids: cpuStart.tapwirePids });
  const sent = await postOpenLoop(client, { path, ratePerSecond, durationMs: warmupMs + latencyMs });
  assertAccepted('posting', { accepted: sent.messages.length, errors: sent.errors, firstError: sent.firstError });
  let stats: ReceiverStats;
  try {
    stats = await bench.waitForArrivals('/ok/', sent.messages.length, processes);
  } catch {
    stats = await bench.receiver.call<ReceiverStats>('stats');
  }
  const relayAfter = cpuStart.relay ? await bench.relay!.call<RelayStats>('stats') : undefined;
  const cpu = meter.end({ tapwirePids: cpuStart.tapwirePids, receiverCpuMs: stats.cpuMs, relayCpuMs: relayAfter?.cpuMs });
  const arrivals = new Map(await bench.receiver.call<[string, number][]>('arrivals'));
  const firstCall = Math.min(...sent.messages.map((m) => m.calledAt));
  const measured = sent.messages.filter((m) => m.calledAt >= firstCall + warmupMs);
  const callToArrival: number[] = [];
  const acceptedToArrival: number[] = [];
  let missing = 0;
  for (const m of measured) {
    const at = arrivals.get(m.id);
    if (at === undefined) {
      missing++;
      continue;
    }
    callToArrival.push(at - bench.clockOffsetMs - m.calledAt);
    acceptedToArrival.push(at - bench.clockOffsetMs - m.acceptedAt);
  }
  return {
    targetPerSecond: ratePerSecond,
    achievedPerSecond: (measured.length * 1000) / latencyMs,
    messages: measured.length,
    missing,
    callToArrivalMs: percentiles(callToArrival),
    acceptedToArrivalMs: percentiles(acceptedToArrival),
    callToAcceptedMs: percentiles(measured.map((m) => m.acceptedAt - m.calledAt)),
    cpu,
  };
}

/**
 * 20 % of `maxPerSecond`, but never fewer than about 10 messages in the measured window: at the server's
 * defaults a short (smoke) end-to-end run can measure a rate so low that 20 % of it would send
 * nothing after the warm-up.
 */
function latencyRate(bench: Bench, maxPerSecond: number): number {
  return Math.max(0.2 * maxPerSecond, 10_000 / bench.settings.sizes.latencyMs);
}

export async function runLatency(bench: Bench, backend: Backend, maxPerSecond: number): Promise<LatencyResult> {
  const { clients } = bench.settings;
  return withDatabase(bench, backend, async (database) => {
    const tapwire = await bench.start(database, 'all');
    const client = new ApiClient(tapwire.url!, clients);
    try {
      const [path] = await setUpApps(client, [[`${bench.origin(0)}/ok/latency`]]);
      const result = await measureLatency(bench, client, path!, latencyRate(bench, maxPerSecond), { tapwirePids: [tapwire.pid] }, [tapwire]);
      return { ...result, peakRssMb: tapwire.peakRssMb() };
    } finally {
      await client.close();
    }
  });
}

export async function runRelayLatency(bench: Bench, maxPerSecond: number): Promise<Omit<LatencyResult, 'peakRssMb'>> {
  const client = new ApiClient(bench.relay!.ready.url, bench.settings.clients);
  try {
    return await measureLatency(bench, client, '/api/v1/app/app_relay/msg', latencyRate(bench, maxPerSecond), { relay: true }, []);
  } finally {
    await client.close();
  }
}

// 5. Backlog ------------------------------------------------------------------------------------

export interface BacklogResult {
  pendingDeliveries: number;
  /** Copying rows into the tables (see backlog-fill.ts), not through the API. */
  fillSeconds: number;
  /** From spawning `serve --role all` on the full queue to its first delivery. */
  secondsToFirstDelivery: number;
  /** Draining alone, over the first window. */
  drainPerSecond: number | null;
  drainWindowSeconds: number;
  /** Then clients post through the API while it keeps draining: */
  apiAcceptPerSecond: number;
  drainWhilePostingPerSecond: number | null;
  apiWindowSeconds: number;
  /** Still pending (roughly) when the measurement stopped. */
  pendingAtEnd: number;
  /** VmHWM of the Tapwire process (API + worker) over its whole life. */
  peakRssMb: number | null;
  cpu: CpuShare;
}

export async function runBacklog(bench: Bench, backend: Backend): Promise<BacklogResult> {
  const { sizes, clients } = bench.settings;
  const pending = sizes.backlogDeliveries;
  return withDatabase(bench, backend, async (database) => {
    // One message through the API (nobody delivering), then copies of it up to `pending`.
    const api = await bench.start(database, 'api');
    const setupClient = new ApiClient(api.url!, 1);
    const paths = await setUpApps(setupClient, [[`${bench.origin(0)}/ok/backlog`]]);
    assertAccepted('the template message', await postClosedLoop(setupClient, { paths, clients: 1, count: 1 }), 1);
    await setupClient.close();
    await bench.stop(api);
    const fillStart = performance.now();
    await fillBacklog(database, pending);
    const fillSeconds = (performance.now() - fillStart) / 1000;

    const before = await bench.resetReceiver();
    const meter = new CpuMeter({ receiverCpuMs: before.cpuMs });
    const spawnedAt = wallClockMs();
    const tapwire = await bench.start(database, 'all');
    const client = new ApiClient(tapwire.url!, clients);
    try {
      const first = await bench.waitForArrivals('/ok/', 1, [tapwire]);
      const firstAt = arrivalsUnder(first, '/ok/').first;
      await new Promise((resolve) => setTimeout(resolve, sizes.backlogDrainMs));
      const drained = arrivalsUnder(await bench.receiver.call<ReceiverStats>('stats'), '/ok/');
      const posted = await postClosedLoop(client, { paths, clients, durationMs: sizes.backlogApiMs });
      assertAccepted('posting during the backlog', posted);
      const end = await bench.receiver.call<ReceiverStats>('stats');
      const cpu = meter.end({ tapwirePids: [tapwire.pid], receiverCpuMs: end.cpuMs });
      const whilePosting = arrivalsUnder(end, '/ok/');
      return {
        pendingDeliveries: pending,
        fillSeconds,
        secondsToFirstDelivery: (firstAt - bench.clockOffsetMs - spawnedAt) / 1000,
        drainPerSecond: spanRate(drained.unique, drained.first, drained.last),
        drainWindowSeconds: (drained.last - drained.first) / 1000,
        apiAcceptPerSecond: posted.perSecond,
        drainWhilePostingPerSecond: whilePosting.last > drained.last ? ((whilePosting.unique - drained.unique) * 1000) / (whilePosting.last - drained.last) : null,
        apiWindowSeconds: (posted.endedAt - posted.startedAt) / 1000,
        pendingAtEnd: pending + posted.accepted - whilePosting.unique,
        peakRssMb: tapwire.peakRssMb(),
        cpu,
      };
    } finally {
      await client.close();
    }
  });
}

// 6. Noisy neighbour ----------------------------------------------------------------------------

export interface NoisyRun {
  healthyEndpoints: number;
  hangingEndpoints: number;
  healthyDeliveries: number;
  healthyPerSecond: number | null;
  /** Requests the hanging endpoint received (each held until Tapwire's timeout). */
  hangingAttempts: number;
  cpu: CpuShare;
}

export interface NoisyResult {
  requestTimeout: string;
  messagesPerEndpoint: number;
  withHanging: NoisyRun;
  withoutHanging: NoisyRun;
}

/**
 * One application per endpoint, each endpoint on its own loopback origin, server defaults for every
 * concurrency limit; the messages are pre-loaded, then one worker drains them.
 */
async function noisyRun(bench: Bench, backend: Backend, hanging: boolean): Promise<NoisyRun> {
  const { sizes, noisyRequestTimeout } = bench.settings;
  const healthy = 9;
  const apps = Array.from({ length: healthy }, (_, i) => [`${bench.origin(1 + i)}/ok/healthy-${i}`]);
  if (hanging) apps.push([`${bench.origin(1 + healthy)}/hang/neighbour`]);
  const perEndpoint = sizes.noisyMessagesPerEndpoint;
  return withDatabase(bench, backend, async (database) => {
    await preload(bench, database, apps, perEndpoint * apps.length);
    const before = await bench.resetReceiver();
    const meter = new CpuMeter({ receiverCpuMs: before.cpuMs });
    const worker = await bench.start(database, 'worker', { TAPWIRE_REQUEST_TIMEOUT: noisyRequestTimeout });
    const stats = await bench.waitForArrivals('/ok/healthy-', healthy * perEndpoint, [worker]);
    const cpu = meter.end({ tapwirePids: [worker.pid], receiverCpuMs: stats.cpuMs });
    // Dropping the hanging requests ends their attempts now, so the worker stops without waiting out its timeout.
    await bench.resetReceiver();
    await bench.stop(worker);
    const arrived = arrivalsUnder(stats, '/ok/healthy-');
    const hung = arrivalsUnder(stats, '/hang/');
    return {
      healthyEndpoints: healthy,
      hangingEndpoints: hanging ? 1 : 0,
      healthyDeliveries: arrived.unique,
      healthyPerSecond: spanRate(arrived.unique, arrived.first, arrived.last),
      hangingAttempts: hung.unique + hung.repeats,
      cpu,
    };
  });
}

export async function runNoisy(bench: Bench, backend: Backend): Promise<NoisyResult> {
  const withoutHanging = await noisyRun(bench, backend, false);
  const withHanging = await noisyRun(bench, backend, true);
  return { requestTimeout: bench.settings.noisyRequestTimeout, messagesPerEndpoint: bench.settings.sizes.noisyMessagesPerEndpoint, withHanging, withoutHanging };
}

// 7. Fan-out ------------------------------------------------------------------------------------

export interface FanOutRun {
  endpoints: number;
  messages: number;
  deliveries: number;
  /** Accepting through an API-only process: messages, and delivery rows queued, per second. */
  acceptMessagesPerSecond: number;
  acceptDeliveriesPerSecond: number;
  deliveriesPerSecond: number | null;
  repeats: number;
  cpu: CpuShare;
}

async function fanOutRun(bench: Bench, backend: Backend, endpoints: number, messages: number): Promise<FanOutRun> {
  const urls = Array.from({ length: endpoints }, (_, i) => `${bench.origin(i)}/ok/fan-${i}`);
  return withDatabase(bench, backend, async (database) => {
    const { acceptPerSecond } = await preload(bench, database, [urls], messages);
    const before = await bench.resetReceiver();
    const meter = new CpuMeter({ receiverCpuMs: before.cpuMs });
    const worker = await bench.start(database, 'worker');
    const stats = await bench.waitForArrivals('/ok/fan-', endpoints * messages, [worker]);
    const cpu = meter.end({ tapwirePids: [worker.pid], receiverCpuMs: stats.cpuMs });
    const arrived = arrivalsUnder(stats, '/ok/fan-');
    return {
      endpoints,
      messages,
      deliveries: arrived.unique,
      acceptMessagesPerSecond: acceptPerSecond,
      acceptDeliveriesPerSecond: acceptPerSecond * endpoints,
      deliveriesPerSecond: spanRate(arrived.unique, arrived.first, arrived.last),
      repeats: arrived.repeats,
      cpu,
    };
  });
}

export async function runFanOut(bench: Bench, backend: Backend): Promise<{ to10: FanOutRun; to100: FanOutRun }> {
  const { fanOut10Messages, fanOut100Messages } = bench.settings.sizes;
  return { to10: await fanOutRun(bench, backend, 10, fanOut10Messages), to100: await fanOutRun(bench, backend, 100, fanOut100Messages) };
}

// 8. Slow endpoint (issue 16) -------------------------------------------------------------------

/** The slow endpoint's answer time and the rate offered to it. */
export const SLOW_ANSWER_MS = 50;
export const SLOW_RATE_PER_SECOND = 300;

export interface SlowEndpointResult {
  /** The endpoint answers 200 this long after the body arrived. */
  answerMs: number;
  targetPerSecond: number;
  postingSeconds: number;
  /** Messages sent (accepted or not) per second of the posting window. */
  offeredPerSecond: number;
  accepted: number;
  refused: number;
  /**
   * Distinct deliveries arriving per second while the client posted, from the end of the warm-up to
   * the end of the posting window.
   */
  sustainedPerSecond: number | null;
  /** sustainedPerSecond ÷ offeredPerSecond (target ≥ 0.95). */
  sustainedVsOffered: number | null;
  /** From the last message accepted (its 202 received) to the last delivery's arrival; null when some never arrived. */
  lastPostToLastDeliveryMs: number | null;
  delivered: number;
  /** Accepted but not delivered when the wait ended (120 s plus 10 ms a message after the last post). */
  missing: number;
  repeats: number;
  peakRssMb: number | null;
  cpu: CpuShare;
}

/**
 * One application, one endpoint answering in 50 ms, fed by an open-loop client at 300 messages/s
 * through the API of one `serve --role all` process: does the delivery keep up, and how far behind
 * is the last delivery when posting stops?
 */
export async function runSlowEndpoint(bench: Bench, backend: Backend): Promise<SlowEndpointResult> {
  const { sizes, clients } = bench.settings;
  const prefix = `/slow/${SLOW_ANSWER_MS}/`;
  return withDatabase(bench, backend, async (database) => {
    const tapwire = await bench.start(database, 'all');
    const client = new ApiClient(tapwire.url!, clients);
    try {
      const [path] = await setUpApps(client, [[`${bench.origin(0)}${prefix}slow`]]);
      const before = await bench.resetReceiver(true, { trackPrefix: prefix });
      const meter = new CpuMeter({ receiverCpuMs: before.cpuMs, tapwirePids: [tapwire.pid] });
      const startedAt = wallClockMs();
      const sent = await postOpenLoop(client, { path: path!, ratePerSecond: SLOW_RATE_PER_SECOND, durationMs: sizes.slowMs });
      const accepted = sent.messages.length;
      if (accepted === 0) throw new Error(`no message accepted; first refusal: ${sent.firstError}`);
      const stats = await bench.waitForArrivalsUpTo(prefix, accepted, [tapwire], 120_000 + accepted * 10);
      const cpu = meter.end({ tapwirePids: [tapwire.pid], receiverCpuMs: stats.cpuMs });
      const arrivals = await bench.trackedArrivals();
      const from = startedAt + sizes.warmupMs;
      const to = startedAt + sizes.slowMs;
      let inWindow = 0;
      let lastArrival = -Infinity;
      let delivered = 0;
      for (const m of sent.messages) {
        const at = arrivals.get(m.id);
        if (at === undefined) continue;
        delivered++;
        lastArrival = Math.max(lastArrival, at);
      }
      for (const at of arrivals.values()) if (at >= from && at < to) inWindow++;
      const offeredPerSecond = ((accepted + sent.errors) * 1000) / sizes.slowMs;
      const sustainedPerSecond = to > from ? (inWindow * 1000) / (to - from) : null;
      const lastAccepted = Math.max(...sent.messages.map((m) => m.acceptedAt));
      return {
        answerMs: SLOW_ANSWER_MS,
        targetPerSecond: SLOW_RATE_PER_SECOND,
        postingSeconds: sizes.slowMs / 1000,
        offeredPerSecond,
        accepted,
        refused: sent.errors,
        sustainedPerSecond,
        sustainedVsOffered: sustainedPerSecond === null ? null : sustainedPerSecond / offeredPerSecond,
        lastPostToLastDeliveryMs: delivered === accepted ? lastArrival - lastAccepted : null,
        delivered,
        missing: accepted - delivered,
        repeats: arrivalsUnder(stats, prefix).repeats,
        peakRssMb: tapwire.peakRssMb(),
        cpu,
      };
    } finally {
      await client.close();
    }
  });
}

// 9. Noisy tenant (issue 16) --------------------------------------------------------------------

export const TENANT_A_ENDPOINTS = 50;
export const TENANT_A_ANSWER_MS = 2_000;
export const TENANT_B_RATE_PER_SECOND = 20;

export interface TenantRun {
  /** Tenant A: one application whose every message goes to its 50 endpoints (0 in the baseline). */
  aMessages: number;
  aEndpoints: number;
  aDeliveriesQueued: number;
  /** A's messages accepted per second, posted as fast as the API takes them. */
  aAcceptMessagesPerSecond: number | null;
  /** A's deliveries that had arrived when B started, and A's arrivals per second while B was measured. */
  aDeliveredBeforeB: number;
  aDeliveriesPerSecondDuringB: number | null;
  /** Tenant B: one application, one fast endpoint, an open loop at 20 messages/s. */
  bRatePerSecond: number;
  /** B's messages accepted, and those measured: the ones called after the warm-up, as in the latency scenario. */
  bMessages: number;
  bMeasured: number;
  /** B's measured messages not delivered within the wait after B's last post. */
  bMissing: number;
  bWaitSeconds: number;
  /** B: API call → arrival at the receiver, over the messages that arrived. */
  bCallToArrivalMs: Percentiles | null;
  bCallToAcceptedMs: Percentiles | null;
  /** How long stopping the Tapwire process took (SIGTERM, SIGKILL after 2 s). */
  stopSeconds: number;
  cpu: CpuShare;
}

export interface TenantResult {
  aAnswerMs: number;
  withA: TenantRun;
  withoutA: TenantRun;
}

/**
 * Tenant A (50 endpoints on their own loopback origins, each answering in 2 s) posts its messages
 * through the API of one `serve --role all` process as fast as it takes them; then, while A's
 * backlog drains, tenant B posts 20 messages/s to one fast endpoint and each of B's messages is timed
 * from its API call to its arrival. The baseline (`withA` false) is B alone on a fresh database.
 */
async function tenantRun(bench: Bench, backend: Backend, withA: boolean): Promise<TenantRun> {
  const { sizes, clients } = bench.settings;
  const aMessages = withA ? sizes.tenantAMessages : 0;
  const aEndpoints = withA ? TENANT_A_ENDPOINTS : 0;
  const bPrefix = '/ok/tenant-b';
  const aPrefix = `/slow/${TENANT_A_ANSWER_MS}/`;
  return withDatabase(bench, backend, async (database) => {
    const tapwire = await bench.start(database, 'all', {}, withA ? 'tenant-ab' : 'tenant-b');
    const client = new ApiClient(tapwire.url!, clients);
    let stopSeconds = 0;
    try {
      const aUrls = Array.from({ length: aEndpoints }, (_, i) => `${bench.origin(1 + i)}${aPrefix}a-${i}`);
      const apps = withA ? [aUrls, [`${bench.origin(0)}${bPrefix}`]] : [[`${bench.origin(0)}${bPrefix}`]];
      const paths = await setUpApps(client, apps);
      const bPath = paths[paths.length - 1]!;
      await bench.resetReceiver(true, { trackPrefix: bPrefix });
      let aAcceptMessagesPerSecond: number | null = null;
      if (withA) {
        const posted = await postClosedLoop(client, { paths: [paths[0]!], clients, count: aMessages });
        assertAccepted('tenant A', posted, aMessages);
        aAcceptMessagesPerSecond = posted.perSecond;
      }
      const atB = await bench.receiver.call<ReceiverStats>('stats');
      const meter = new CpuMeter({ receiverCpuMs: atB.cpuMs, tapwirePids: [tapwire.pid] });
      const sent = await postOpenLoop(client, { path: bPath, ratePerSecond: TENANT_B_RATE_PER_SECOND, durationMs: sizes.tenantBMs });
      assertAccepted('tenant B', { accepted: sent.messages.length, errors: sent.errors, firstError: sent.firstError });
      const stats = await bench.waitForArrivalsUpTo(bPrefix, sent.messages.length, [tapwire], sizes.tenantBWaitMs);
      const cpu = meter.end({ tapwirePids: [tapwire.pid], receiverCpuMs: stats.cpuMs });
      const arrivals = await bench.trackedArrivals();
      const callToArrival: number[] = [];
      const firstCall = Math.min(...sent.messages.map((m) => m.calledAt));
      const measured = sent.messages.filter((m) => m.calledAt >= firstCall + sizes.warmupMs);
      for (const m of measured) {
        const at = arrivals.get(m.id);
        if (at !== undefined) callToArrival.push(at - m.calledAt);
      }
      const aBefore = arrivalsUnder(atB, aPrefix).unique;
      const aAfter = arrivalsUnder(stats, aPrefix).unique;
      // A's backlog would take minutes to drain: drop its requests in flight, then stop the process.
      await bench.resetReceiver();
      const stopStart = performance.now();
      await bench.stop(tapwire, 2_000);
      stopSeconds = (performance.now() - stopStart) / 1000;
      return {
        aMessages,
        aEndpoints,
        aDeliveriesQueued: aMessages * aEndpoints,
        aAcceptMessagesPerSecond,
        aDeliveredBeforeB: aBefore,
        aDeliveriesPerSecondDuringB: withA && stats.at > atB.at ? ((aAfter - aBefore) * 1000) / (stats.at - atB.at) : null,
        bRatePerSecond: TENANT_B_RATE_PER_SECOND,
        bMessages: sent.messages.length,
        bMeasured: measured.length,
        bMissing: measured.length - callToArrival.length,
        bWaitSeconds: sizes.tenantBWaitMs / 1000,
        bCallToArrivalMs: percentiles(callToArrival),
        bCallToAcceptedMs: percentiles(measured.map((m) => m.acceptedAt - m.calledAt)),
        stopSeconds,
        cpu,
      };
    } finally {
      await client.close();
      await bench.resetReceiver();
    }
  });
}

export async function runTenant(bench: Bench, backend: Backend): Promise<TenantResult> {
  const withoutA = await tenantRun(bench, backend, false);
  const withA = await tenantRun(bench, backend, true);
  return { aAnswerMs: TENANT_A_ANSWER_MS, withA, withoutA };
}

// 10. Retry-After (issue 16) --------------------------------------------------------------------

export interface RetryAfterResult {
  messages: number;
  /** The endpoint answered 429 with `Retry-After: 1` for this long from its first request. */
  windowSeconds: number;
  /** Requests it got while it answered 429 (the whole window). */
  requestsInWindow: number;
  /** Requests per second it got during the window, the first second left out (target about 1). */
  requestsPerSecondWhileLimited: number | null;
  /** Requests in each second from its first request on (the window, then the recovery). */
  requestsBySecond: number[];
  /** Distinct messages answered 200. */
  delivered: number;
  /** From the end of the window to the last of the messages' first 200; null when some never got one. */
  recoveryToAllDeliveredMs: number | null;
  /** How long the harness waited after the window for every delivery. */
  waitAfterWindowSeconds: number;
  cpu: CpuShare;
}

/**
 * One endpoint that answers 429 with `Retry-After: 1` for a window from its first request, then 200;
 * the messages are posted at once through the API of one `serve --role all` process. Counts what
 * reaches the endpoint while it refuses, and how soon after its recovery everything is delivered.
 */
export async function runRetryAfter(bench: Bench, backend: Backend): Promise<RetryAfterResult> {
  const { sizes, clients } = bench.settings;
  const prefix = '/limited/';
  const path = `${prefix}retry-after`;
  const messages = sizes.retryAfterMessages;
  return withDatabase(bench, backend, async (database) => {
    const tapwire = await bench.start(database, 'all');
    const client = new ApiClient(tapwire.url!, clients);
    try {
      const paths = await setUpApps(client, [[`${bench.origin(0)}${path}`]]);
      const before = await bench.resetReceiver(true, { trackPrefix: prefix, limitedWindowMs: sizes.limitedWindowMs });
      const meter = new CpuMeter({ receiverCpuMs: before.cpuMs, tapwirePids: [tapwire.pid] });
      const postedAt = wallClockMs();
      assertAccepted('queuing', await postClosedLoop(client, { paths, clients, count: messages }), messages);
      // The window opens at the endpoint's first request, soon after the first post.
      const stats = await bench.waitForArrivalsUpTo(prefix, messages, [tapwire], postedAt + sizes.limitedWindowMs + sizes.retryAfterWaitMs - wallClockMs());
      const cpu = meter.end({ tapwirePids: [tapwire.pid], receiverCpuMs: stats.cpuMs });
      const limited = (await bench.receiver.call<Record<string, LimitedPath>>('limited'))[path];
      if (!limited) throw new Error('the limited endpoint got no request');
      const arrivals = [...(await bench.trackedArrivals()).values()];
      const { firstAt, windowEndsAt, requests } = limited;
      const inWindow = requests.filter(([at]) => at < windowEndsAt);
      const afterFirstSecond = inWindow.filter(([at]) => at >= firstAt + 1_000);
      const limitedSeconds = (windowEndsAt - firstAt - 1_000) / 1000;
      const requestsBySecond: number[] = [];
      for (const [at] of requests) {
        const second = Math.floor((at - firstAt) / 1000);
        while (requestsBySecond.length <= second) requestsBySecond.push(0);
        requestsBySecond[second]!++;
      }
      const lastDelivery = Math.max(...arrivals);
      return {
        messages,
        windowSeconds: sizes.limitedWindowMs / 1000,
        requestsInWindow: inWindow.length,
        requestsPerSecondWhileLimited: limitedSeconds > 0 ? afterFirstSecond.length / limitedSeconds : null,
        requestsBySecond,
        delivered: arrivals.length,
        // Arrivals are on the harness's clock, the window on the receiver's.
        recoveryToAllDeliveredMs: arrivals.length >= messages ? lastDelivery + bench.clockOffsetMs - windowEndsAt : null,
        waitAfterWindowSeconds: sizes.retryAfterWaitMs / 1000,
        cpu,
      };
    } finally {
      await client.close();
    }
  });
}

// Transformation ----------------------------------------------------------------------------------

/**
 * The small handler the scenario measures: what a Slack-style reshaping costs (a new payload built
 * from the old one, and a header).
 */
export const BENCH_TRANSFORMATION = `function handler(webhook) {
  webhook.payload = { text: webhook.eventType + ': ' + JSON.stringify(webhook.payload).slice(0, 200) };
  webhook.headers['X-Bench'] = 'transformed';
  return webhook;
}`;

export interface TransformationRun {
  deliveriesPerSecond: number | null;
  repeats: number;
  peakRssMb: number | null;
  cpu: CpuShare;
}

export interface TransformationResult {
  messages: number;
  without: TransformationRun;
  with: TransformationRun;
  /** with ÷ without deliveries/s. */
  withVsWithout: number | null;
  /** Extra wall time per delivery the transformation costs at this throughput: 1/with − 1/without, in ms. */
  costMsPerDelivery: number | null;
}

/** Drain `messages` pre-loaded messages to one endpoint, with BENCH_TRANSFORMATION on it or not. */
async function transformationRun(bench: Bench, backend: Backend, transformed: boolean): Promise<TransformationRun> {
  const messages = bench.settings.sizes.transformMessages;
  const prefix = `/ok/transform-${transformed ? 'on' : 'off'}`;
  return withDatabase(bench, backend, async (database) => {
    const api = await bench.start(database, 'api');
    const client = new ApiClient(api.url!, bench.settings.clients);
    try {
      const appId = await client.createApp('bench-transformation');
      const endpointId = await client.createEndpoint(appId, `${bench.origin(0)}${prefix}`, SECRET, null);
      if (transformed) await client.call('PATCH', `/api/v1/app/${appId}/endpoint/${endpointId}/transformation`, { code: BENCH_TRANSFORMATION, enabled: true });
      const posted = await postClosedLoop(client, { paths: [`/api/v1/app/${appId}/msg`], clients: bench.settings.clients, count: messages });
      assertAccepted('pre-loading', posted, messages);
    } finally {
      await client.close();
      await bench.stop(api);
    }
    const before = await bench.resetReceiver();
    const meter = new CpuMeter({ receiverCpuMs: before.cpuMs });
    const worker = await bench.start(database, 'worker');
    const stats = await bench.waitForArrivals('/ok/', messages, [worker]);
    const cpu = meter.end({ tapwirePids: [worker.pid], receiverCpuMs: stats.cpuMs });
    const { peakRssMb } = await bench.stop(worker);
    const arrived = arrivalsUnder(stats, prefix);
    return { deliveriesPerSecond: spanRate(arrived.unique, arrived.first, arrived.last), repeats: arrived.repeats, peakRssMb, cpu };
  });
}

/**
 * The cost of a small transformation per delivery: the same pre-loaded drain without one (the
 * baseline, in the same run) and with BENCH_TRANSFORMATION enabled on the endpoint.
 */
export async function runTransformation(bench: Bench, backend: Backend): Promise<TransformationResult> {
  const without = await transformationRun(bench, backend, false);
  const withOne = await transformationRun(bench, backend, true);
  const a = without.deliveriesPerSecond;
  const b = withOne.deliveriesPerSecond;
  return {
    messages: bench.settings.sizes.transformMessages,
    without,
    with: withOne,
    withVsWithout: ratio(b, a),
    costMsPerDelivery: a && b ? 1000 / b - 1000 / a : null,
  };
}

