// Turns a run's results into ratios, the design.md §7 target verdicts, and Markdown tables (printed,
// and pasted as-is into docs/performance.md).
import type { CpuShare } from './cpu.js';
import type { RawResult } from './load.js';
import type { BacklogResult, DrainResult, EndToEndResult, FanOutRun, LatencyResult, NoisyResult, RetryAfterResult, SlowEndpointResult, TenantResult, TenantRun, TransformationResult } from './scenarios.js';
import { median, ratio } from './stats.js';
import type { Backend } from './tapwire.js';

/** A scenario that threw: its error instead of its numbers. */
export interface Failed {
  error: string;
}

export interface BackendResults {
  drain?: DrainResult | Failed;
  endToEnd?: EndToEndResult | Failed;
  latency?: LatencyResult | Failed;
  backlog?: BacklogResult | Failed;
  noisyNeighbour?: NoisyResult | Failed;
  fanOut?: { to10: FanOutRun; to100: FanOutRun } | Failed;
  /** Issue 16's scenarios. */
  slowEndpoint?: SlowEndpointResult | Failed;
  noisyTenant?: TenantResult | Failed;
  retryAfter?: RetryAfterResult | Failed;
  /** Issue 19: what a small endpoint transformation costs per delivery. */
  transformation?: TransformationResult | Failed;
  /** Filled in by addRatios(). */
  ratios?: Record<string, number | null>;
}

export type RelayRun = Omit<EndToEndResult, 'peakRssMb'>;

export interface BenchResults {
  formatVersion: 1;
  mode: 'full' | 'quick' | 'smoke';
  command: string;
  date: string;
  durationSeconds: number;
  git: { commit: string | null; dirtyFiles: string[] };
  machine: {
    cores: number;
    cpuModel: string;
    memoryGb: number;
    platform: string;
    node: string;
    postgres: string | null;
    loadAverageAtStart: number[];
    loadAverageAtEnd: number[];
  };
  settings: Record<string, unknown>;
  clock: { offsetMs: number; roundTripMs: number };
  baselines: {
    raw: { runs: (RawResult & { cpu: CpuShare })[]; medianPerSecond: number | null };
    relay: {
      runs: RelayRun[];
      medianDeliveriesPerSecond: number | null;
      medianAcceptPerSecond: number | null;
      latency: Omit<LatencyResult, 'peakRssMb'> | Failed | null;
    };
  };
  backends: Partial<Record<Backend, BackendResults>>;
  /** design.md §7's targets. */
  targets: TargetVerdict[];
  /** Issue 16's targets (server defaults everywhere). */
  issue16Targets: Issue16Verdict[];
  errors: string[];
}

export interface TargetVerdict {
  metric: string;
  target: string;
  byBackend: Partial<Record<Backend, { measured: string; met: boolean | null }>>;
}

export interface Issue16Verdict extends TargetVerdict {
  /** The scenario (bench --only name) the number comes from. */
  scenario: string;
  /** Reported against a goal, not a target of the issue: `met` says whether the goal is reached. */
  reportOnly: boolean;
}

export function ok<T extends object>(value: T | Failed | undefined): T | undefined {
  return value && !('error' in value) ? value : undefined;
}

export function relayMedians(runs: RelayRun[]): { deliveries: number | null; accepts: number | null } {
  return {
    deliveries: median(runs.map((r) => r.deliveriesPerSecond).filter((v): v is number => v !== null)),
    accepts: median(runs.map((r) => r.acceptPerSecond)),
  };
}

/** Every ratio the report quotes, per backend. */
export function addRatios(results: BenchResults): void {
  const raw = results.baselines.raw.medianPerSecond;
  const relay = results.baselines.relay.medianDeliveriesPerSecond;
  for (const backendResults of Object.values(results.backends)) {
    const drain = ok(backendResults.drain);
    const e2e = ok(backendResults.endToEnd);
    const backlog = ok(backendResults.backlog);
    const noisy = ok(backendResults.noisyNeighbour);
    const fanOut = ok(backendResults.fanOut);
    backendResults.ratios = {
      drainVsRaw: ratio(drain?.deliveriesPerSecond, raw),
      endToEndVsRaw: ratio(e2e?.deliveriesPerSecond, raw),
      endToEndVsRelay: ratio(e2e?.deliveriesPerSecond, relay),
      backlogDrainVsEmptyQueueDrain: ratio(backlog?.drainPerSecond, drain?.deliveriesPerSecond),
      backlogDrainVsRaw: ratio(backlog?.drainPerSecond, raw),
      backlogApiAcceptsVsEndToEndAccepts: ratio(backlog?.apiAcceptPerSecond, e2e?.acceptPerSecond),
      noisyHealthyWithVsWithout: ratio(noisy?.withHanging.healthyPerSecond, noisy?.withoutHanging.healthyPerSecond),
      fanOut10VsRaw: ratio(fanOut?.to10.deliveriesPerSecond, raw),
      fanOut100VsRaw: ratio(fanOut?.to100.deliveriesPerSecond, raw),
      slowSustainedVsOffered: ok(backendResults.slowEndpoint)?.sustainedVsOffered ?? null,
    };
  }
}

const fixed = (value: number | null | undefined, digits = 2): string => (value === null || value === undefined ? 'n/a' : value.toFixed(digits));
const count = (value: number | null | undefined): string => (value === null || value === undefined ? 'n/a' : Math.round(value).toLocaleString('en-US'));
const times = (value: number | null | undefined): string => `${fixed(value)}×`;

/** design.md §7, one verdict per backend. */
export function judgeTargets(results: BenchResults): TargetVerdict[] {
  const backends = Object.keys(results.backends) as Backend[];
  const verdicts: TargetVerdict[] = [];
  const judge = (metric: string, target: string, each: (backend: Backend, r: BackendResults) => { measured: string; met: boolean | null }): void => {
    const byBackend: TargetVerdict['byBackend'] = {};
    for (const backend of backends) byBackend[backend] = each(backend, results.backends[backend]!);
    verdicts.push({ metric, target, byBackend });
  };
  const atLeast = (value: number | null | undefined, min: number): { measured: string; met: boolean | null } => ({
    measured: times(value),
    met: value === null || value === undefined ? null : value >= min,
  });
  judge('drain of a pre-loaded queue vs. raw signed POSTs', '≥ 0.8 (SQLite), ≥ 0.6 (PostgreSQL)', (b, r) => atLeast(r.ratios?.drainVsRaw, b === 'sqlite' ? 0.8 : 0.6));
  judge('end to end vs. raw signed POSTs', '≥ 0.33 (SQLite), ≥ 0.25 (PostgreSQL)', (b, r) => atLeast(r.ratios?.endToEndVsRaw, b === 'sqlite' ? 0.33 : 0.25));
  judge('end to end vs. the no-storage relay', '≥ 0.8 (SQLite), ≥ 0.6 (PostgreSQL)', (b, r) => atLeast(r.ratios?.endToEndVsRelay, b === 'sqlite' ? 0.8 : 0.6));
  judge('latency, API call → arrival, at 20 % of max: p50', '≤ 3 ms', (_, r) => {
    const p = ok(r.latency)?.callToArrivalMs?.p50;
    return { measured: p === undefined ? 'n/a' : `${fixed(p)} ms`, met: p === undefined ? null : p <= 3 };
  });
  judge('latency, API call → arrival, at 20 % of max: p99', '≤ 15 ms', (_, r) => {
    const p = ok(r.latency)?.callToArrivalMs?.p99;
    return { measured: p === undefined ? 'n/a' : `${fixed(p)} ms`, met: p === undefined ? null : p <= 15 };
  });
  judge(`${count(results.settings.backlogDeliveries as number)} pending deliveries: peak RSS`, '≤ 300 MB', (_, r) => {
    const rss = ok(r.backlog)?.peakRssMb;
    return { measured: rss === undefined || rss === null ? 'n/a' : `${count(rss)} MB`, met: rss === undefined || rss === null ? null : rss <= 300 };
  });
  judge(`${count(results.settings.backlogDeliveries as number)} pending deliveries: drain rate vs. empty-queue drain`, '≥ 0.9', (_, r) => atLeast(r.ratios?.backlogDrainVsEmptyQueueDrain, 0.9));
  judge('one endpoint hanging beside 9 healthy: healthy throughput vs. without it', '≥ 0.9', (_, r) => atLeast(r.ratios?.noisyHealthyWithVsWithout, 0.9));
  return verdicts;
}

/** Issue 16's targets, one verdict per backend; a measurement that did not run is null (not measured). */
export function judgeIssue16Targets(results: BenchResults): Issue16Verdict[] {
  const backends = Object.keys(results.backends) as Backend[];
  const verdicts: Issue16Verdict[] = [];
  const judge = (
    scenario: string,
    metric: string,
    target: string,
    each: (backend: Backend, r: BackendResults) => { measured: string; met: boolean | null },
    reportOnly = false,
  ): void => {
    const byBackend: TargetVerdict['byBackend'] = {};
    for (const backend of backends) byBackend[backend] = each(backend, results.backends[backend]!);
    verdicts.push({ scenario, metric, target, byBackend, reportOnly });
  };
  const notMeasured = { measured: 'n/a', met: null };
  const atLeast = (value: number | null | undefined, min: number): { measured: string; met: boolean | null } =>
    value === null || value === undefined ? notMeasured : { measured: times(value), met: value >= min };
  const tenantP99 = (run: TenantRun | undefined, max: number): { measured: string; met: boolean | null } => {
    if (!run) return notMeasured;
    const p99 = run.bCallToArrivalMs?.p99;
    const missing = run.bMissing > 0 ? ` (${run.bMissing} of ${run.bMeasured} not delivered within ${fixed(run.bWaitSeconds, 0)} s)` : '';
    return { measured: `${p99 === undefined ? 'n/a' : `${fixed(p99, 1)} ms`}${missing}`, met: p99 !== undefined && run.bMissing === 0 && p99 <= max };
  };

  judge('slow', 'slow endpoint (50 ms answers, 300 messages/s offered): sustained deliveries ÷ offered', '≥ 0.95', (_, r) => {
    const e = ok(r.slowEndpoint);
    if (!e || e.sustainedVsOffered === null) return notMeasured;
    return { measured: `${times(e.sustainedVsOffered)} (${count(e.sustainedPerSecond)}/s of ${count(e.offeredPerSecond)}/s)`, met: e.sustainedVsOffered >= 0.95 };
  });
  judge('slow', 'slow endpoint: last post → last delivery', '≤ 1,000 ms', (_, r) => {
    const e = ok(r.slowEndpoint);
    if (!e) return notMeasured;
    if (e.lastPostToLastDeliveryMs === null) return { measured: `${count(e.missing)} of ${count(e.accepted)} never delivered`, met: false };
    return { measured: `${count(e.lastPostToLastDeliveryMs)} ms`, met: e.lastPostToLastDeliveryMs <= 1_000 };
  });
  judge('e2e', 'one fast endpoint, end to end vs. the no-storage relay', '≥ 0.5 (SQLite), ≥ 0.4 (PostgreSQL); goal 0.8 / 0.6', (b, r) =>
    atLeast(r.ratios?.endToEndVsRelay, b === 'sqlite' ? 0.5 : 0.4),
  );
  judge('tenant', "noisy tenant: tenant B's API call → arrival p99 while A's backlog drains", '≤ 250 ms', (_, r) => tenantP99(ok(r.noisyTenant)?.withA, 250));
  judge('tenant', "noisy tenant: tenant B's API call → arrival p99 without A", '≤ 15 ms', (_, r) => tenantP99(ok(r.noisyTenant)?.withoutA, 15));
  judge('noisy', 'one endpoint hanging beside 9 healthy: healthy throughput with ÷ without it', '≥ 0.9', (_, r) => atLeast(r.ratios?.noisyHealthyWithVsWithout, 0.9));
  const windowSeconds = fixed(((results.settings.limitedWindowMs as number | undefined) ?? 10_000) / 1000, 0);
  judge('retryafter', `endpoint answering 429 + Retry-After: 1 for ${windowSeconds} s: requests/s reaching it while it does (first second left out)`, 'about 1 (≤ 2)', (_, r) => {
    const a = ok(r.retryAfter);
    const rate = a?.requestsPerSecondWhileLimited;
    if (!a || rate === null || rate === undefined) return notMeasured;
    return { measured: `${fixed(rate, 1)}/s (${count(a.requestsInWindow)} requests in the window)`, met: rate <= 2 };
  });
  judge('retryafter', `the same: recovery → all ${count((results.settings.retryAfterMessages as number | undefined) ?? 200)} delivered`, '≤ 5,000 ms', (_, r) => {
    const a = ok(r.retryAfter);
    if (!a) return notMeasured;
    if (a.recoveryToAllDeliveredMs === null) return { measured: `${count(a.delivered)} of ${count(a.messages)} delivered ${fixed(a.waitAfterWindowSeconds, 0)} s after recovery`, met: false };
    return { measured: `${count(a.recoveryToAllDeliveredMs)} ms`, met: a.recoveryToAllDeliveredMs <= 5_000 };
  });
  judge('drain', 'drain of a pre-loaded queue vs. raw signed POSTs', 'report; goal ≥ 0.8 (SQLite), ≥ 0.6 (PostgreSQL)', (b, r) => atLeast(r.ratios?.drainVsRaw, b === 'sqlite' ? 0.8 : 0.6), true);
  return verdicts;
}

const BACKEND_NAMES: Record<Backend, string> = { sqlite: 'SQLite', postgres: 'PostgreSQL' };

function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]): string => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

function cpuCells(cpu: CpuShare | undefined): string[] {
  if (!cpu) return ['n/a', '', '', '', '', '', '', '', ''];
  const s = (v: number | null): string => (v === null ? '–' : v.toFixed(1));
  return [
    cpu.wallSeconds.toFixed(1),
    s(cpu.tapwireSeconds),
    s(cpu.tapwireMainThreadSeconds ?? null),
    s(cpu.receiverSeconds),
    s(cpu.harnessSeconds),
    s(cpu.relaySeconds),
    s(cpu.postgresSeconds),
    s(cpu.otherSeconds),
    cpu.machineBusyPercent === null ? '–' : `${cpu.machineBusyPercent.toFixed(0)} %`,
  ];
}

/** The whole report as Markdown. */
export function renderMarkdown(results: BenchResults): string {
  const out: string[] = [];
  const { machine, baselines } = results;
  const s = results.settings as {
    concurrency: number;
    clients: number;
    drainMessages: number;
    backlogDeliveries: number;
    slowMs: number;
    tenantAMessages: number;
    retryAfterMessages: number;
    limitedWindowMs: number;
    transformMessages?: number;
  };
  out.push(
    `Tapwire bench, ${results.mode} mode, ${results.date}: ${machine.cores} cores (${machine.cpuModel}), Node ${machine.node}, ` +
      `PostgreSQL ${machine.postgres ?? 'n/a'}, commit ${results.git.commit?.slice(0, 12) ?? 'n/a'}${results.git.dirtyFiles.length > 0 ? ' (with uncommitted changes)' : ''}, ` +
      `load average at start ${machine.loadAverageAtStart.map((l) => l.toFixed(2)).join(' ')}. Raw and relay: ${s.concurrency} requests in flight; ` +
      `Tapwire: the server's defaults (no concurrency settings); ${s.clients} API clients.`,
  );
  out.push('');
  const relayLatency = ok(baselines.relay.latency ?? undefined);
  out.push(
    table(
      ['baseline (same run)', 'median', 'runs'],
      [
        [`raw signed POSTs, ${s.concurrency} in flight (requests/s)`, count(baselines.raw.medianPerSecond), baselines.raw.runs.map((r) => count(r.perSecond)).join(' · ')],
        ['no-storage relay, end to end (deliveries/s)', count(baselines.relay.medianDeliveriesPerSecond), baselines.relay.runs.map((r) => count(r.deliveriesPerSecond)).join(' · ')],
        ['no-storage relay, API accepts/s', count(baselines.relay.medianAcceptPerSecond), baselines.relay.runs.map((r) => count(r.acceptPerSecond)).join(' · ')],
        ...(relayLatency
          ? [[`no-storage relay, latency at ${count(relayLatency.targetPerSecond)}/s: call → arrival p50 / p90 / p99 / max (ms)`, latencyCell(relayLatency.callToArrivalMs), '']]
          : []),
      ],
    ),
  );
  out.push('');
  const backends = Object.keys(results.backends) as Backend[];
  if (backends.length > 0) {
    const rows: string[][] = [];
    const row = (label: string, cell: (r: BackendResults) => string): void => {
      rows.push([label, ...backends.map((b) => cell(results.backends[b]!))]);
    };
    const failedOr = <T extends object>(value: T | Failed | undefined, render: (v: T) => string): string =>
      value === undefined ? '–' : 'error' in value ? `failed: ${value.error.split('\n')[0]!.slice(0, 80)}` : render(value);
    row(`Drain of ${count(s.drainMessages)} pre-loaded messages: deliveries/s (× raw)`, (r) => failedOr(r.drain, (d) => `${count(d.deliveriesPerSecond)} (${times(r.ratios?.drainVsRaw)})`));
    row('… accepting them first, API-only process: messages/s', (r) => failedOr(r.drain, (d) => count(d.acceptPerSecond)));
    row('End to end: deliveries/s (× raw, × relay)', (r) =>
      failedOr(r.endToEnd, (e) => `${count(e.deliveriesPerSecond)} (${times(r.ratios?.endToEndVsRaw)} raw, ${times(r.ratios?.endToEndVsRelay)} relay)`),
    );
    row('End to end: API accepts/s (queued when posting stopped)', (r) => failedOr(r.endToEnd, (e) => `${count(e.acceptPerSecond)} (${count(e.queuedWhenPostingStopped)})`));
    row('Latency at 20 % of max: rate (messages/s)', (r) => failedOr(r.latency, (l) => count(l.targetPerSecond)));
    row('… API call → arrival p50 / p90 / p99 / max (ms)', (r) => failedOr(r.latency, (l) => latencyCell(l.callToArrivalMs)));
    row('… 202 received → arrival p50 / p90 / p99 / max (ms)', (r) => failedOr(r.latency, (l) => latencyCell(l.acceptedToArrivalMs)));
    row('… API call → 202 p50 / p99 (ms)', (r) => failedOr(r.latency, (l) => (l.callToAcceptedMs ? `${fixed(l.callToAcceptedMs.p50)} / ${fixed(l.callToAcceptedMs.p99)}` : 'n/a')));
    row(`Backlog of ${count(s.backlogDeliveries)}: peak RSS of the process (MB)`, (r) => failedOr(r.backlog, (b) => count(b.peakRssMb)));
    row('… drain/s (× empty-queue drain above)', (r) => failedOr(r.backlog, (b) => `${count(b.drainPerSecond)} (${times(r.ratios?.backlogDrainVsEmptyQueueDrain)})`));
    row('… API accepts/s while draining (drain/s meanwhile)', (r) => failedOr(r.backlog, (b) => `${count(b.apiAcceptPerSecond)} (${count(b.drainWhilePostingPerSecond)})`));
    row('Noisy neighbour: healthy deliveries/s with / without a hanging endpoint (ratio)', (r) =>
      failedOr(r.noisyNeighbour, (n) => `${count(n.withHanging.healthyPerSecond)} / ${count(n.withoutHanging.healthyPerSecond)} (${times(r.ratios?.noisyHealthyWithVsWithout)})`),
    );
    row('Fan-out to 10 endpoints: deliveries/s (× raw); accepts: messages/s', (r) =>
      failedOr(r.fanOut, (f) => `${count(f.to10.deliveriesPerSecond)} (${times(r.ratios?.fanOut10VsRaw)}); ${count(f.to10.acceptMessagesPerSecond)}`),
    );
    row('Fan-out to 100 endpoints: deliveries/s (× raw); accepts: messages/s', (r) =>
      failedOr(r.fanOut, (f) => `${count(f.to100.deliveriesPerSecond)} (${times(r.ratios?.fanOut100VsRaw)}); ${count(f.to100.acceptMessagesPerSecond)}`),
    );
    row(`Slow endpoint (${fixed(s.slowMs / 1000, 0)} s at 300/s offered, 50 ms answers): deliveries/s while posting of offered/s (ratio)`, (r) =>
      failedOr(r.slowEndpoint, (e) => `${count(e.sustainedPerSecond)} of ${count(e.offeredPerSecond)} (${times(e.sustainedVsOffered)})`),
    );
    row('… accepted (refused); last post → last delivery (ms)', (r) =>
      failedOr(r.slowEndpoint, (e) => `${count(e.accepted)} (${count(e.refused)}); ${e.lastPostToLastDeliveryMs === null ? `${count(e.missing)} never delivered` : count(e.lastPostToLastDeliveryMs)}`),
    );
    const tenantCell = (run: TenantRun): string =>
      `${latencyCell(run.bCallToArrivalMs)}${run.bMissing > 0 ? ` (${count(run.bMissing)} of ${count(run.bMeasured)} missing)` : ''}`;
    row(`Noisy tenant, A: ${count(s.tenantAMessages)} messages × 50 endpoints answering in 2 s; accepts messages/s; A deliveries/s while B posts`, (r) =>
      failedOr(r.noisyTenant, (t) => `${count(t.withA.aAcceptMessagesPerSecond)}; ${count(t.withA.aDeliveriesPerSecondDuringB)}`),
    );
    row("… tenant B's API call → arrival p50 / p90 / p99 / max (ms), while A's backlog drains", (r) => failedOr(r.noisyTenant, (t) => tenantCell(t.withA)));
    row('… the same, B alone', (r) => failedOr(r.noisyTenant, (t) => tenantCell(t.withoutA)));
    row('… stopping the process with A’s backlog (s)', (r) => failedOr(r.noisyTenant, (t) => fixed(t.withA.stopSeconds, 1)));
    row(`Retry-After (${count(s.retryAfterMessages)} queued, 429 for ${fixed(s.limitedWindowMs / 1000, 0)} s): requests/s while 429ing, first second left out (requests in the window)`, (r) =>
      failedOr(r.retryAfter, (a) => `${fixed(a.requestsPerSecondWhileLimited, 1)} (${count(a.requestsInWindow)})`),
    );
    row('… delivered; recovery → all delivered (ms)', (r) =>
      failedOr(r.retryAfter, (a) => `${count(a.delivered)} of ${count(a.messages)}; ${a.recoveryToAllDeliveredMs === null ? 'n/a' : count(a.recoveryToAllDeliveredMs)}`),
    );
    row(`Transformation: drain of ${count(s.transformMessages ?? null)} messages, deliveries/s without / with a small handler (ratio)`, (r) =>
      failedOr(r.transformation, (t) => `${count(t.without.deliveriesPerSecond)} / ${count(t.with.deliveriesPerSecond)} (${times(t.withVsWithout)})`),
    );
    row('… cost per delivery (ms of wall time at that rate)', (r) => failedOr(r.transformation, (t) => fixed(t.costMsPerDelivery, 3)));
    out.push(table(['scenario', ...backends.map((b) => BACKEND_NAMES[b])], rows));
    out.push('');
    out.push(
      table(
        ['target (design.md §7)', 'target', ...backends.map((b) => BACKEND_NAMES[b])],
        results.targets.map((t) => [
          t.metric,
          t.target,
          ...backends.map((b) => {
            const v = t.byBackend[b];
            return v ? `${v.measured} ${v.met === null ? '(not measured)' : v.met ? 'met' : '**not met**'}` : '–';
          }),
        ]),
      ),
    );
    out.push('');
    if ((results.issue16Targets ?? []).length > 0) {
      out.push('Issue 16 targets (server defaults everywhere):');
      out.push('');
      out.push(
        table(
          ['scenario', 'measure', 'target', ...backends.map((b) => BACKEND_NAMES[b])],
          results.issue16Targets.map((t) => [
            t.scenario,
            t.metric,
            t.target,
            ...backends.map((b) => {
              const v = t.byBackend[b];
              if (!v) return '–';
              if (v.met === null) return `${v.measured} (not measured)`;
              if (t.reportOnly) return `${v.measured} (report only; goal ${v.met ? 'reached' : 'not reached'})`;
              return `${v.measured} ${v.met ? 'met' : '**not met**'}`;
            }),
          ]),
        ),
      );
      out.push('');
    }
  }
  out.push(renderCpuTable(results));
  return out.join('\n');
}

function latencyCell(p: { p50: number; p90: number; p99: number; max: number } | null | undefined): string {
  return p ? `${fixed(p.p50)} / ${fixed(p.p90)} / ${fixed(p.p99)} / ${fixed(p.max)}` : 'n/a';
}

/** CPU seconds per process during each measured phase. */
function renderCpuTable(results: BenchResults): string {
  const rows: string[][] = [];
  results.baselines.raw.runs.forEach((r, i) => rows.push(['–', `raw #${i + 1}`, ...cpuCells(r.cpu)]));
  results.baselines.relay.runs.forEach((r, i) => rows.push(['–', `relay e2e #${i + 1}`, ...cpuCells(r.cpu)]));
  const relayLatency = ok(results.baselines.relay.latency ?? undefined);
  if (relayLatency) rows.push(['–', 'relay latency', ...cpuCells(relayLatency.cpu)]);
  for (const [backend, r] of Object.entries(results.backends) as [Backend, BackendResults][]) {
    const name = BACKEND_NAMES[backend];
    const push = (label: string, cpu: CpuShare | undefined): void => void rows.push([name, label, ...cpuCells(cpu)]);
    push('drain (worker)', ok(r.drain)?.cpu);
    push('end to end', ok(r.endToEnd)?.cpu);
    push('latency', ok(r.latency)?.cpu);
    push('backlog (drain, then API)', ok(r.backlog)?.cpu);
    push('noisy: without hanging', ok(r.noisyNeighbour)?.withoutHanging.cpu);
    push('noisy: with hanging', ok(r.noisyNeighbour)?.withHanging.cpu);
    push('fan-out 10 (worker)', ok(r.fanOut)?.to10.cpu);
    push('fan-out 100 (worker)', ok(r.fanOut)?.to100.cpu);
    push('slow endpoint (posting and delivering)', ok(r.slowEndpoint)?.cpu);
    push('noisy tenant: B alone', ok(r.noisyTenant)?.withoutA.cpu);
    push("noisy tenant: B while A's backlog drains", ok(r.noisyTenant)?.withA.cpu);
    push('Retry-After (window and recovery)', ok(r.retryAfter)?.cpu);
    push('transformation: drain without (worker)', ok(r.transformation)?.without.cpu);
    push('transformation: drain with a small handler (worker)', ok(r.transformation)?.with.cpu);
  }
  return table(
    ['backend', 'measured phase', 'wall s', 'Tapwire CPU s', 'of which main threads', 'receiver', 'harness', 'relay', 'PostgreSQL', 'other', 'machine busy'],
    rows.filter((row) => row[2] !== 'n/a'),
  );
}
