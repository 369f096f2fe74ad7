// `npm run bench` at its smallest size: every scenario runs on every backend and the results land
// as JSON. Only that: the rates depend on the machine, so no timing is asserted here (design.md §7's
// targets are judged by the bench's own report). It calls `bench:run`, not `bench`: `npm test` has
// built dist/ already, and rebuilding it while other test files run the CLI would race them.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends, postgresUrl } from './helpers/postgres.js';
import { assertCliBuilt, cleanEnv } from './helpers/tapwire-process.js';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'tapwire-bench-smoke-'));
beforeAll(() => assertCliBuilt());
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function runNpm(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('npm', args, { cwd: repoRoot, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const SCENARIO_KEYS = ['drain', 'endToEnd', 'latency', 'backlog', 'noisyNeighbour', 'fanOut', 'transformation', 'ratios'];

describe('npm run bench -- --smoke', () => {
  it('runs every scenario on each backend, prints the tables and writes the results as JSON', async () => {
    const backendList = await backends();
    const out = join(dir, 'results.json');
    const run = await runNpm([
      'run',
      '--silent',
      'bench:run',
      '--',
      '--smoke',
      '--backend',
      backendList.length === 2 ? 'both' : 'sqlite',
      '--postgres-url',
      postgresUrl(),
      '--out',
      out,
    ]);
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
    expect(run.stdout).toContain('| scenario |');
    expect(run.stdout).toContain('| target (design.md §7) |');

    const results = JSON.parse(readFileSync(out, 'utf8'));
    expect(results).toMatchObject({ formatVersion: 1, mode: 'smoke', errors: [] });
    expect(results.machine.cores).toBeGreaterThan(0);
    expect(results.machine.node).toBe(process.version);
    expect(typeof results.git.commit).toBe('string');
    expect(Date.parse(results.date)).not.toBeNaN();
    expect(results.baselines.raw.runs.length).toBeGreaterThanOrEqual(2);
    expect(results.baselines.raw.medianPerSecond).toBeGreaterThan(0);
    expect(results.baselines.relay.runs.length).toBeGreaterThanOrEqual(2);
    expect(results.baselines.relay.latency.callToArrivalMs.count).toBeGreaterThan(0);
    expect(Object.keys(results.backends)).toEqual(backendList);
    for (const backend of backendList) {
      const r = results.backends[backend];
      expect(Object.keys(r)).toEqual(expect.arrayContaining(SCENARIO_KEYS));
      // Measured at all (each scenario delivered everything it waited for), not how fast.
      expect(r.drain.deliveriesPerSecond).toBeGreaterThan(0);
      expect(r.endToEnd.accepted).toBeGreaterThan(0);
      expect(r.latency.callToArrivalMs.count).toBeGreaterThan(0);
      expect(r.latency.missing).toBe(0);
      expect(r.backlog.pendingDeliveries).toBe(results.settings.backlogDeliveries);
      expect(r.noisyNeighbour.withHanging.healthyDeliveries).toBe(9 * r.noisyNeighbour.messagesPerEndpoint);
      expect(r.fanOut.to100.deliveries).toBe(100 * r.fanOut.to100.messages);
      expect(r.transformation.with.deliveriesPerSecond).toBeGreaterThan(0);
      expect(r.transformation.with.repeats).toBe(0);
    }
    expect(results.targets.map((t: { metric: string }) => t.metric)).toHaveLength(8);
  }, 240_000);
});
