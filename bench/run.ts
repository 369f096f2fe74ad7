// `npm run bench`: measures Tapwire and the limit of this machine side by side in one run, so every
// number is a ratio that holds on any machine (design.md §7, issue 6). Prints Markdown tables and
// writes the results as JSON.
//
//   npm run bench                         full run, both backends (long: a million-row backlog)
//   npm run bench -- --quick              everyday check, both backends, about 4 minutes
//   npm run bench -- --smoke              tiny sizes, for the test suite
//   npm run bench -- --backend sqlite --only drain,e2e
//
// Processes: this harness (load generators), one receiver process, the relay process, and the
// Tapwire processes each scenario starts; PostgreSQL runs wherever its URL points.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, platform, release, totalmem } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { HelperProcess } from './ipc.js';
import type { ReceiverReady } from './receiver.js';
import type { RelayReady } from './relay.js';
import { addRatios, judgeIssue16Targets, judgeTargets, ok, relayMedians, renderMarkdown, type BackendResults, type BenchResults, type Failed } from './report.js';
import {
  Bench,
  runBacklog,
  runDrain,
  runEndToEnd,
  runFanOut,
  runLatency,
  runNoisy,
  runRaw,
  runRelayEndToEnd,
  runRelayLatency,
  runRetryAfter,
  runSlowEndpoint,
  runTenant,
  runTransformation,
  SECRET,
  SLOW_ANSWER_MS,
  SLOW_RATE_PER_SECOND,
  TENANT_A_ENDPOINTS,
  type BenchSettings,
  type Sizes,
} from './scenarios.js';
import { median } from './stats.js';
import { postgresVersion, type Backend } from './tapwire.js';

const SCENARIOS = ['raw', 'drain', 'e2e', 'latency', 'backlog', 'noisy', 'fanout', 'slow', 'tenant', 'retryafter', 'transform'] as const;
type Scenario = (typeof SCENARIOS)[number];
type Mode = 'full' | 'quick' | 'smoke';

const SIZES: Record<Mode, Sizes> = {
  full: {
    rawMs: 5_000,
    warmupMs: 1_000,
    relayMs: 10_000,
    drainMessages: 50_000,
    e2eMs: 20_000,
    latencyMs: 20_000,
    backlogDeliveries: 1_000_000,
    backlogDrainMs: 60_000,
    backlogApiMs: 20_000,
    noisyMessagesPerEndpoint: 3_000,
    fanOut10Messages: 5_000,
    fanOut100Messages: 500,
    slowMs: 10_000,
    tenantAMessages: 5_000,
    tenantBMs: 10_000,
    tenantBWaitMs: 30_000,
    retryAfterMessages: 200,
    limitedWindowMs: 10_000,
    retryAfterWaitMs: 30_000,
    transformMessages: 20_000,
  },
  quick: {
    rawMs: 1_500,
    warmupMs: 300,
    relayMs: 2_000,
    drainMessages: 4_000,
    e2eMs: 3_000,
    latencyMs: 3_000,
    backlogDeliveries: 20_000,
    backlogDrainMs: 3_000,
    backlogApiMs: 2_000,
    noisyMessagesPerEndpoint: 200,
    fanOut10Messages: 300,
    fanOut100Messages: 30,
    slowMs: 4_000,
    tenantAMessages: 500,
    tenantBMs: 5_000,
    tenantBWaitMs: 15_000,
    retryAfterMessages: 200,
    limitedWindowMs: 10_000,
    retryAfterWaitMs: 15_000,
    transformMessages: 2_000,
  },
  smoke: {
    rawMs: 500,
    warmupMs: 200,
    relayMs: 700,
    drainMessages: 500,
    e2eMs: 800,
    latencyMs: 800,
    backlogDeliveries: 3_000,
    backlogDrainMs: 800,
    backlogApiMs: 500,
    noisyMessagesPerEndpoint: 30,
    fanOut10Messages: 30,
    fanOut100Messages: 3,
    slowMs: 400,
    tenantAMessages: 20,
    tenantBMs: 1_000,
    tenantBWaitMs: 3_000,
    retryAfterMessages: 20,
    limitedWindowMs: 2_000,
    retryAfterWaitMs: 6_000,
    transformMessages: 200,
  },
};

const HELP = `Usage: npm run bench -- [options]

  --quick                 everyday sizes, about 4 minutes for both backends
  --smoke                 tiny sizes (the test suite's smoke run)
  --backend B             sqlite, postgres or both (default both)
  --only LIST             comma-separated: ${SCENARIOS.join(',')}
                          (latency also runs e2e for its maximum rate; backlog also runs drain)
                          slow: one endpoint answering in 50 ms, 300 messages/s offered (open loop);
                          tenant: tenant B's latency while tenant A's 50 slow endpoints have a
                          backlog, and B alone; retryafter: an endpoint answering 429 with
                          Retry-After: 1 for 10 s, 200 messages queued; transform: a pre-loaded drain
                          without and with a small endpoint transformation (its cost per delivery)
  --out FILE              JSON output (default bench/results/latest.json for a full run,
                          bench/results/latest-quick.json / latest-smoke.json otherwise)
  --concurrency N         requests in flight of the raw sender and the relay (default 64); Tapwire
                          always runs with the server's defaults (no concurrency setting or
                          endpoint concurrencyLimit), as users get it
  --clients N             API clients in flight (default: the concurrency)
  --postgres-url URL      default TAPWIRE_BENCH_POSTGRES_URL, TAPWIRE_TEST_POSTGRES_URL or
                          postgres://postgres@127.0.0.1:5432/test (a schema per scenario, dropped after)
  --log-level LEVEL       Tapwire's TAPWIRE_LOG_LEVEL (default info, as deployed; logs are discarded)
  --logs DIR              keep each Tapwire process's log in DIR
  --profile DIR           write a CPU profile of each Tapwire process into DIR (node --cpu-prof;
                          open the .cpuprofile files in Chrome DevTools). Profiling slows it down.
  --server-env K=V        extra environment for every Tapwire process (repeatable), e.g.
                          --server-env TAPWIRE_SQLITE_THREAD=false to compare a setting off and on
`;

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

function git(args: string[]): string | null {
  try {
    return execFileSync('git', args, { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

function progress(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      smoke: { type: 'boolean', default: false },
      backend: { type: 'string', default: 'both' },
      only: { type: 'string' },
      out: { type: 'string' },
      concurrency: { type: 'string', default: '64' },
      clients: { type: 'string' },
      'postgres-url': { type: 'string' },
      'log-level': { type: 'string', default: 'info' },
      logs: { type: 'string' },
      profile: { type: 'string' },
      'server-env': { type: 'string', multiple: true },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const mode: Mode = values.smoke ? 'smoke' : values.quick ? 'quick' : 'full';
  const backends: Backend[] = values.backend === 'both' ? ['sqlite', 'postgres'] : values.backend === 'sqlite' || values.backend === 'postgres' ? [values.backend] : [];
  if (backends.length === 0) throw new Error(`--backend: expected sqlite, postgres or both, got '${values.backend}'`);
  const only = new Set<Scenario>(values.only ? (values.only.split(',').map((s) => s.trim()) as Scenario[]) : SCENARIOS);
  for (const name of only) if (!SCENARIOS.includes(name)) throw new Error(`--only: unknown scenario '${name}' (known: ${SCENARIOS.join(', ')})`);
  if (only.has('latency')) only.add('e2e');
  if (only.has('backlog')) only.add('drain');
  const concurrency = Number(values.concurrency);
  const clients = Number(values.clients ?? concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1 || !Number.isInteger(clients) || clients < 1) throw new Error('--concurrency and --clients take whole numbers ≥ 1');
  const out = resolve(values.out ?? `${repoRoot}/bench/results/${mode === 'full' ? 'latest' : `latest-${mode}`}.json`);
  const postgresUrl = values['postgres-url'] ?? (process.env.TAPWIRE_BENCH_POSTGRES_URL || process.env.TAPWIRE_TEST_POSTGRES_URL || 'postgres://postgres@127.0.0.1:5432/test');
  if (values.logs) mkdirSync(values.logs, { recursive: true });
  if (values.profile) mkdirSync(values.profile, { recursive: true });

  const serverEnv: Record<string, string> = {};
  for (const pair of values['server-env'] ?? []) {
    const match = /^(TAPWIRE_[A-Z0-9_]+)=(.*)$/s.exec(pair);
    if (!match) throw new Error(`--server-env: expected TAPWIRE_NAME=value, got '${pair}'`);
    serverEnv[match[1]!] = match[2]!;
  }
  const sizes = SIZES[mode];
  const settings: BenchSettings = {
    sizes,
    concurrency,
    clients,
    postgresUrl,
    logLevel: values['log-level'],
    logDir: values.logs ?? null,
    profileDir: values.profile ? resolve(values.profile) : null,
    noisyRequestTimeout: '2s',
    serverEnv,
  };
  const started = performance.now();
  const postgres = backends.includes('postgres') ? await postgresVersion(postgresUrl) : null;
  if (backends.includes('postgres') && postgres === null) throw new Error(`PostgreSQL does not answer at ${postgresUrl.replace(/:[^:@/]*@/, ':***@')} (use --backend sqlite or --postgres-url)`);

  const here = dirname(fileURLToPath(import.meta.url));
  const needsRelay = only.has('e2e') || only.has('latency');
  // 101 loopback addresses: 127.0.0.1 for the single-endpoint scenarios, then one per endpoint of the
  // noisy-neighbour and fan-out scenarios, so each endpoint is its own origin (own connection pool).
  const receiver = await HelperProcess.start<ReceiverReady>(`${here}/receiver.js`, ['101']);
  const relay = needsRelay ? await HelperProcess.start<RelayReady>(`${here}/relay.js`, [`${receiver.ready.origins[0]}/ok/relay`, SECRET, String(concurrency)]) : null;
  const bench = new Bench(settings, receiver, relay);
  const stopEverything = async (): Promise<void> => {
    await bench.closeAll(true);
    await relay?.stop();
    await receiver.stop();
  };
  process.once('SIGINT', () => void stopEverything().then(() => process.exit(130)));

  const results: BenchResults = {
    formatVersion: 1,
    mode,
    command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
    date: new Date().toISOString(),
    durationSeconds: 0,
    git: { commit: git(['rev-parse', 'HEAD']), dirtyFiles: (git(['status', '--porcelain', '--untracked-files=no']) ?? '').split('\n').filter(Boolean) },
    machine: {
      cores: cpus().length,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      memoryGb: Math.round(totalmem() / 2 ** 30),
      platform: `${platform()} ${release()}`,
      node: process.version,
      postgres,
      loadAverageAtStart: loadavg(),
      loadAverageAtEnd: [],
    },
    settings: {
      ...sizes,
      concurrency,
      clients,
      backends,
      scenarios: [...only],
      tapwireLogLevel: settings.logLevel,
      noisyRequestTimeout: settings.noisyRequestTimeout,
      serverEnv,
      sameConcurrency: `raw and relay keep ${concurrency} requests in flight over ${concurrency} keep-alive connections; Tapwire runs with the server's defaults everywhere (no TAPWIRE_WORKER_CONCURRENCY or TAPWIRE_ENDPOINT_CONCURRENCY, no endpoint concurrencyLimit)`,
    },
    clock: { offsetMs: 0, roundTripMs: 0 },
    baselines: { raw: { runs: [], medianPerSecond: null }, relay: { runs: [], medianDeliveriesPerSecond: null, medianAcceptPerSecond: null, latency: null } },
    backends: {},
    targets: [],
    issue16Targets: [],
    errors: [],
  };

  const attempt = async <T extends object>(label: string, work: () => Promise<T>): Promise<T | Failed> => {
    progress(`${label}…`);
    const t0 = performance.now();
    try {
      const value = await work();
      progress(`${label} done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      return value;
    } catch (error) {
      const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
      results.errors.push(`${label}: ${message}`);
      progress(`${label} FAILED: ${message}`);
      return { error: message };
    }
  };

  /** One more run of each baseline; the report quotes their medians. */
  const baselines = async (): Promise<void> => {
    const raw = await attempt(`raw signed POSTs #${results.baselines.raw.runs.length + 1}`, () => runRaw(bench));
    const rawOk = ok(raw);
    if (rawOk) {
      results.baselines.raw.runs.push(rawOk);
      progress(`  raw: ${Math.round(rawOk.perSecond)}/s`);
    }
    if (relay) {
      const run = ok(await attempt(`no-storage relay end to end #${results.baselines.relay.runs.length + 1}`, () => runRelayEndToEnd(bench)));
      if (run) {
        results.baselines.relay.runs.push(run);
        progress(`  relay: ${Math.round(run.deliveriesPerSecond ?? 0)} deliveries/s, ${Math.round(run.acceptPerSecond)} accepts/s`);
      }
    }
  };

  try {
    results.clock = await bench.measureClockOffset();
    progress(`${mode} run: ${backends.join(' + ')}; scenarios ${[...only].join(', ')}; receiver clock offset ${results.clock.offsetMs.toFixed(3)} ms`);
    await baselines();
    if (relay && only.has('latency')) {
      const max = relayMedians(results.baselines.relay.runs).deliveries;
      results.baselines.relay.latency = max === null ? { error: 'no relay rate to take 20 % of' } : await attempt('no-storage relay latency', () => runRelayLatency(bench, max));
    }
    for (const backend of backends) {
      const r: BackendResults = {};
      results.backends[backend] = r;
      const tag = `[${backend}]`;
      if (only.has('drain')) {
        r.drain = await attempt(`${tag} drain of ${sizes.drainMessages} messages`, () => runDrain(bench, backend));
        if (ok(r.drain)) progress(`  ${Math.round(ok(r.drain)!.deliveriesPerSecond ?? 0)} deliveries/s (accepted at ${Math.round(ok(r.drain)!.acceptPerSecond)}/s)`);
      }
      if (only.has('e2e')) {
        r.endToEnd = await attempt(`${tag} end to end`, () => runEndToEnd(bench, backend));
        const e = ok(r.endToEnd);
        if (e) progress(`  ${Math.round(e.deliveriesPerSecond ?? 0)} deliveries/s, ${Math.round(e.acceptPerSecond)} accepts/s`);
      }
      if (only.has('latency')) {
        const max = ok(r.endToEnd)?.deliveriesPerSecond ?? null;
        r.latency = max === null ? { error: 'no end-to-end rate to take 20 % of' } : await attempt(`${tag} latency at 20 % of ${Math.round(max)}/s`, () => runLatency(bench, backend, max));
        const l = ok(r.latency);
        if (l?.callToArrivalMs) progress(`  p50 ${l.callToArrivalMs.p50.toFixed(2)} ms, p99 ${l.callToArrivalMs.p99.toFixed(2)} ms`);
      }
      if (mode === 'full' && only.size > 1) await baselines();
      if (only.has('backlog')) {
        r.backlog = await attempt(`${tag} backlog of ${sizes.backlogDeliveries} deliveries`, () => runBacklog(bench, backend));
        const b = ok(r.backlog);
        if (b) progress(`  ${Math.round(b.drainPerSecond ?? 0)} deliveries/s, peak RSS ${Math.round(b.peakRssMb ?? 0)} MB, ${Math.round(b.apiAcceptPerSecond)} accepts/s while draining`);
      }
      if (only.has('noisy')) {
        r.noisyNeighbour = await attempt(`${tag} noisy neighbour`, () => runNoisy(bench, backend));
        const n = ok(r.noisyNeighbour);
        if (n) progress(`  healthy ${Math.round(n.withHanging.healthyPerSecond ?? 0)}/s with, ${Math.round(n.withoutHanging.healthyPerSecond ?? 0)}/s without`);
      }
      if (only.has('fanout')) {
        r.fanOut = await attempt(`${tag} fan-out to 10 and 100 endpoints`, () => runFanOut(bench, backend));
        const f = ok(r.fanOut);
        if (f) progress(`  ${Math.round(f.to10.deliveriesPerSecond ?? 0)}/s to 10, ${Math.round(f.to100.deliveriesPerSecond ?? 0)}/s to 100`);
      }
      if (only.has('slow')) {
        r.slowEndpoint = await attempt(`${tag} slow endpoint: ${SLOW_ANSWER_MS} ms answers, ${SLOW_RATE_PER_SECOND} messages/s offered`, () => runSlowEndpoint(bench, backend));
        const e = ok(r.slowEndpoint);
        if (e) progress(`  ${Math.round(e.sustainedPerSecond ?? 0)} deliveries/s of ${Math.round(e.offeredPerSecond)}/s offered; last delivery ${e.lastPostToLastDeliveryMs === null ? `n/a (${e.missing} missing)` : `${Math.round(e.lastPostToLastDeliveryMs)} ms`} after the last post`);
      }
      if (only.has('tenant')) {
        r.noisyTenant = await attempt(`${tag} noisy tenant: ${sizes.tenantAMessages} messages to ${TENANT_A_ENDPOINTS} slow endpoints, then tenant B`, () => runTenant(bench, backend));
        const t = ok(r.noisyTenant);
        const p99 = (run: { bCallToArrivalMs: { p99: number } | null; bMissing: number }): string => `p99 ${run.bCallToArrivalMs?.p99.toFixed(1) ?? 'n/a'} ms (${run.bMissing} missing)`;
        if (t) progress(`  tenant B call → arrival: ${p99(t.withA)} with A, ${p99(t.withoutA)} alone`);
      }
      if (only.has('retryafter')) {
        r.retryAfter = await attempt(`${tag} Retry-After: ${sizes.retryAfterMessages} messages to an endpoint answering 429 for ${sizes.limitedWindowMs / 1000} s`, () => runRetryAfter(bench, backend));
        const a = ok(r.retryAfter);
        if (a) progress(`  ${a.requestsPerSecondWhileLimited?.toFixed(1) ?? 'n/a'} requests/s while 429ing; ${a.delivered} of ${a.messages} delivered, the last ${a.recoveryToAllDeliveredMs === null ? 'n/a' : `${Math.round(a.recoveryToAllDeliveredMs)} ms`} after recovery`);
      }
      if (only.has('transform')) {
        r.transformation = await attempt(`${tag} transformation: drain of ${sizes.transformMessages} messages without and with a small handler`, () => runTransformation(bench, backend));
        const t = ok(r.transformation);
        if (t) progress(`  ${Math.round(t.without.deliveriesPerSecond ?? 0)} deliveries/s without, ${Math.round(t.with.deliveriesPerSecond ?? 0)}/s with (${t.costMsPerDelivery?.toFixed(3) ?? 'n/a'} ms per delivery)`);
      }
      await baselines();
    }
  } finally {
    await stopEverything();
  }

  results.baselines.raw.medianPerSecond = median(results.baselines.raw.runs.map((r) => r.perSecond));
  const relayMedian = relayMedians(results.baselines.relay.runs);
  results.baselines.relay.medianDeliveriesPerSecond = relayMedian.deliveries;
  results.baselines.relay.medianAcceptPerSecond = relayMedian.accepts;
  addRatios(results);
  results.targets = judgeTargets(results);
  results.issue16Targets = judgeIssue16Targets(results);
  results.machine.loadAverageAtEnd = loadavg();
  results.durationSeconds = Math.round((performance.now() - started) / 100) / 10;
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(`${renderMarkdown(results)}\n\nResults: ${out} (${results.durationSeconds} s)\n`);
  if (results.errors.length > 0) {
    process.stderr.write(`\n${results.errors.length} scenario(s) failed:\n${results.errors.join('\n\n')}\n`);
    return 1;
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(2);
  },
);
