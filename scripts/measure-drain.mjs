#!/usr/bin/env node
// Measures how fast Tapwire drains a queue that is already full: N messages are accepted by an
// API-only process first, then W worker processes are started and timed until a loopback receiver
// has every message. Prints one JSON line. Run after `npm run build`:
//
//   node scripts/measure-drain.mjs                                   # SQLite, 10,000 messages, 1 worker
//   node scripts/measure-drain.mjs --database-url postgres://postgres@127.0.0.1:5432/test?schema=drain --workers 3
//
// The full benchmark suite (raw-POST baseline, latency, backlog) is `npm run bench`'s job; this is
// the quick check for scale-out work.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    'database-url': { type: 'string' },
    messages: { type: 'string', default: '10000' },
    workers: { type: 'string', default: '1' },
    concurrency: { type: 'string', default: '32' },
  },
});
const total = Number(values.messages);
const workerCount = Number(values.workers);
const concurrency = Number(values.concurrency);
const dir = mkdtempSync(join(tmpdir(), 'tapwire-drain-'));
const databaseUrl = values['database-url'] ?? join(dir, 'tapwire.db');
const token = 'tw_admin_measure_drain_token';
const cli = new URL('../dist/cli/main.js', import.meta.url).pathname;
const env = {
  ...process.env,
  TAPWIRE_DATABASE_URL: databaseUrl,
  TAPWIRE_ADMIN_TOKEN: token,
  TAPWIRE_ALLOWED_NETWORKS: '127.0.0.0/8',
  TAPWIRE_HTTPS_ONLY: 'false',
  TAPWIRE_LOG_LEVEL: 'warn',
};
const children = new Set();

/** Start `tapwire serve` with `args`; resolves with its URL (api) once it is ready. */
function serve(args, ready) {
  const child = spawn(process.execPath, [cli, 'serve', '--port', '0', ...args], { env: { ...env, TAPWIRE_LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'inherit'] });
  children.add(child);
  return new Promise((resolve, reject) => {
    let buffered = '';
    child.stdout.setEncoding('utf8').on('data', (chunk) => {
      buffered += chunk;
      for (const line of buffered.split('\n').slice(0, -1)) {
        try {
          const log = JSON.parse(line);
          if (ready(log)) resolve({ child, url: log.address });
        } catch {
          // not a log line
        }
      }
      buffered = buffered.slice(buffered.lastIndexOf('\n') + 1);
    });
    child.once('exit', (code) => reject(new Error(`tapwire serve ${args.join(' ')} exited with ${code}`)));
  });
}

async function stop(child) {
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
  children.delete(child);
}

const seen = new Set();
let lastArrival = 0;
let firstArrival = 0;
let allArrived;
const done = new Promise((resolve) => (allArrived = resolve));
const receiver = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    const now = performance.now();
    if (firstArrival === 0) firstArrival = now;
    lastArrival = now;
    seen.add(req.headers['webhook-id']);
    res.end('ok');
    if (seen.size === total) allArrived();
  });
});
await new Promise((resolve) => receiver.listen(0, '127.0.0.1', resolve));
const receiverUrl = `http://127.0.0.1:${receiver.address().port}/hook`;

try {
  const api = await serve(['--role', 'api'], (log) => log.msg === 'tapwire listening');
  const call = async (method, path, body) => {
    const res = await fetch(`${api.url}${path}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
    return res.json();
  };
  const app = await call('POST', '/api/v1/app', { name: 'drain' });
  await call('POST', `/api/v1/app/${app.id}/endpoint`, { url: receiverUrl });
  const acceptStart = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        next++;
        await call('POST', `/api/v1/app/${app.id}/msg`, { eventType: 'drain.test', payload: { n: next, at: new Date().toISOString() } });
      }
    }),
  );
  const acceptSeconds = (performance.now() - acceptStart) / 1000;
  await stop(api.child);

  const drainStart = performance.now();
  await Promise.all(Array.from({ length: workerCount }, () => serve(['--role', 'worker'], (log) => log.msg === 'tapwire worker running')));
  await done;
  const drainSeconds = (lastArrival - drainStart) / 1000;
  const deliverySeconds = (lastArrival - firstArrival) / 1000;
  console.log(
    JSON.stringify({
      backend: databaseUrl.startsWith('postgres') ? 'postgres' : 'sqlite',
      messages: total,
      workers: workerCount,
      cores: cpus().length,
      node: process.version,
      acceptPerSecond: Math.round(total / acceptSeconds),
      drainPerSecond: Math.round(total / drainSeconds),
      drainPerSecondAfterFirstDelivery: Math.round(total / deliverySeconds),
    }),
  );
} finally {
  for (const child of children) child.kill('SIGKILL');
  receiver.close();
  rmSync(dir, { recursive: true, force: true });
}
