#!/usr/bin/env node
// What the SQLite store alone costs per delivery: messages are accepted, then claimed 64 at a
// time and their attempts recorded in groups of --group (attempts finished together share a
// commit), with no HTTP at all. Prints the CPU of this thread per delivery. Run after
// `npm run build`:  node scripts/measure-store.mjs [--messages 20000] [--group 16]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { newId } from '../dist/domain/ids.js';
import { SqliteStore } from '../dist/storage/sqlite/sqlite-store.js';

const { values } = parseArgs({ options: { messages: { type: 'string', default: '20000' }, group: { type: 'string', default: '16' } } });
const total = Number(values.messages);
const group = Number(values.group);
if (!(total > 0) || !(group > 0)) throw new Error('--messages and --group take positive numbers');

const dir = mkdtempSync(join(tmpdir(), 'tapwire-measure-store-'));
const store = SqliteStore.open({ path: join(dir, 'tapwire.db') });
try {
  await store.migrate();
  const now = new Date();
  const app = await store.createApplication({ id: newId('app'), uid: null, name: 'measure', throttleRate: null, metadata: {}, createdAt: now, updatedAt: now });
  await store.createEndpoint({
    id: newId('ep'), appId: app.id, uid: null, url: 'https://receiver.example/hook', description: '', disabled: false, eventTypes: null,
    channels: null, throttleRate: null, concurrencyLimit: 64, version: 1, metadata: {}, headers: {}, secret: 'whsec_bWVhc3VyZS1zdG9yZQ==',
    oldSecrets: [], createdAt: now, updatedAt: now,
  });
  let pending = [];
  for (let i = 0; i < total; i++) {
    const at = new Date();
    pending.push(store.createMessage({ id: newId('msg', at.getTime()), appId: app.id, eventId: null, eventType: 'measure', payload: '{"n":1}', channels: null, createdAt: at, payloadExpiresAt: new Date(at.getTime() + 86_400_000) }, at));
    if (pending.length === 256) {
      await Promise.all(pending);
      pending = [];
    }
  }
  await Promise.all(pending);

  const cpu = process.cpuUsage();
  const started = performance.now();
  let done = 0;
  while (done < total) {
    const jobs = await store.claimDueDeliveries({ now: new Date(), limit: 64, leaseMs: 35_000, maxRetries: 48, endpointConcurrency: 64 });
    if (jobs.length === 0) throw new Error(`only ${done} of ${total} deliveries were claimable`);
    for (let i = 0; i < jobs.length; i += group) {
      await Promise.all(jobs.slice(i, i + group).map(({ delivery, endpoint }) => {
        const at = new Date();
        return store.completeAttempt({
          attempt: { id: newId('atmpt', at.getTime()), deliveryId: delivery.id, msgId: delivery.msgId, appId: delivery.appId, endpointId: delivery.endpointId, url: endpoint.url, responseStatusCode: 200, response: 'ok', responseDurationMs: 1, status: 'success', triggerType: 'scheduled', timestamp: at },
          outcome: { status: 'success' }, disableEndpoint: false, now: at, health: 'success',
        });
      }));
    }
    done += jobs.length;
  }
  const used = process.cpuUsage(cpu);
  const seconds = (performance.now() - started) / 1000;
  console.log(`${total} deliveries claimed and recorded, ${group} attempts per commit: ${((used.user + used.system) / total).toFixed(1)} µs of CPU each, ${Math.round(total / seconds)}/s`);
} finally {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
}
