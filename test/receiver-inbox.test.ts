// The durable inbox on both backends: exactly one run per stored event, dedupe by (source, id) while
// pending and after success, retries on the backoff schedule into the dead letters and back out by
// replay, pruning by retention, the concurrency limit, lease takeover and renewal, several inboxes on
// one database, and close(). Time is an injected clock moved by the tests; nothing sleeps.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { createVerifiedWebhook } from '../src/receiver/core.js';
import { createInbox, type Inbox, type InboxEvent, type InboxOptions } from '../src/receiver/inbox/inbox.js';
import { parseInboxDatabase } from '../src/receiver/inbox/open-inbox-store.js';
import type { VerifiedWebhook } from '../src/receiver/types.js';
import { backends, dropSchema, freshSchemaUrl, withClient } from './helpers/postgres.js';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

interface FakeClock {
  now(): number;
  advance(ms: number): void;
}

function fakeClock(start = T0): FakeClock {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

function webhook(fields: { id?: string; type?: string; body?: string | object; scheme?: string; headers?: Record<string, string> } = {}): VerifiedWebhook {
  const body = fields.body === undefined ? { hello: 'world' } : fields.body;
  return createVerifiedWebhook({
    scheme: fields.scheme ?? 'standard-webhooks',
    id: fields.id,
    type: fields.type,
    timestamp: undefined,
    body: Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)),
    headers: fields.headers ?? { 'content-type': 'application/json' },
  });
}

function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** Poll `probe` until `accept` holds; fail with the last value after `timeoutMs`. */
async function waitUntil<T>(probe: () => Promise<T> | T, accept: (value: T) => boolean, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (accept(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${timeoutMs} ms; last: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Rejects after `ms`: for "this happens long before the poll interval" checks. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms))),
  ]);
}

describe.each(await backends())('%s', (backend) => {
  let database: string;
  let scratch: string | undefined;
  let clock: FakeClock;
  let errors: { error: unknown; event: InboxEvent | undefined }[];
  const opened: Inbox[] = [];

  beforeEach(() => {
    clock = fakeClock();
    errors = [];
    if (backend === 'sqlite') {
      scratch = mkdtempSync(join(tmpdir(), 'tapwire-inbox-'));
      database = join(scratch, 'inbox.db');
    } else {
      database = freshSchemaUrl('inbox');
    }
  });

  afterEach(async () => {
    await Promise.all(opened.splice(0).map((inbox) => inbox.close({ timeoutMs: 100 })));
    if (scratch) rmSync(scratch, { recursive: true, force: true });
    scratch = undefined;
    if (backend === 'postgres') await dropSchema(database);
  });

  /** An inbox on this test's database with the fake clock, jitter factor 1 and errors collected. */
  async function open(options: Partial<InboxOptions> & Pick<InboxOptions, 'handlers'>): Promise<Inbox> {
    const inbox = await createInbox({
      database,
      clock,
      random: () => 0.5,
      onError: (error, event) => errors.push({ error, event }),
      ...options,
    });
    opened.push(inbox);
    return inbox;
  }

  it('stores on the chosen backend', async () => {
    const inbox = await open({ handlers: {}, autoStart: false });
    expect(inbox.backend).toBe(backend);
  });

  it('runs the handler once for a received event, with what was received', async () => {
    const seen: InboxEvent[] = [];
    const inbox = await open({ handlers: { 'invoice.paid': (event) => void seen.push(event) } });
    const result = await inbox.receive(webhook({ id: 'msg_1', type: 'invoice.paid', body: { amount: 42 }, headers: { 'x-a': '1' } }));
    expect(result).toEqual({ id: 'msg_1', duplicate: false });
    await inbox.whenIdle();

    expect(seen).toHaveLength(1);
    const event = seen[0]!;
    expect(event).toMatchObject({ id: 'msg_1', source: 'standard-webhooks', type: 'invoice.paid', attempt: 1, headers: { 'x-a': '1' } });
    expect(event.receivedAt.getTime()).toBe(T0);
    expect(event.body.equals(Buffer.from('{"amount":42}'))).toBe(true);
    expect(event.json()).toEqual({ amount: 42 });
    expect(event.text()).toBe('{"amount":42}');
    expect(event.signal.aborted).toBe(false);

    const record = await inbox.get('msg_1');
    expect(record).toMatchObject({ source: 'standard-webhooks', id: 'msg_1', type: 'invoice.paid', status: 'succeeded', attempts: 1 });
    expect(record!.completedAt!.getTime()).toBe(T0);
    expect(record!.nextAttemptAt).toBeUndefined();
    expect(record!.lastError).toBeUndefined();
    expect(await inbox.get('standard-webhooks', 'msg_1')).toEqual(record);
    expect(await inbox.get({ source: 'standard-webhooks', id: 'msg_1' })).toEqual(record);
    expect(await inbox.get('stripe', 'msg_1')).toBeUndefined();
    expect(await inbox.stats()).toEqual({ pending: 0, running: 0, succeeded: 1, skipped: 0, dead: 0 });
    expect(errors).toEqual([]);
  });

  it('acknowledges a duplicate while pending and after success, and runs the event once', async () => {
    let runs = 0;
    const inbox = await open({ handlers: { '*': () => void runs++ }, autoStart: false });
    expect(await inbox.receive(webhook({ id: 'evt_1' }))).toEqual({ id: 'evt_1', duplicate: false });
    expect(await inbox.receive(webhook({ id: 'evt_1', body: 'a different body' }))).toEqual({ id: 'evt_1', duplicate: true });
    expect((await inbox.get('evt_1'))!.status).toBe('pending');

    inbox.start();
    await inbox.whenIdle();
    expect(runs).toBe(1);
    expect(await inbox.receive(webhook({ id: 'evt_1' }))).toEqual({ id: 'evt_1', duplicate: true });
    await inbox.whenIdle();
    expect(runs).toBe(1);
    // The first body is the one kept.
    expect((await inbox.get('evt_1'))!.body.toString()).toBe('{"hello":"world"}');
  });

  it('keys an event without an id by the SHA-256 of its body, separately per source', async () => {
    const inbox = await open({ handlers: {}, autoStart: false });
    const digest = 'sha256:' + createHash('sha256').update('{"n":1}').digest('hex');
    expect(await inbox.receive(webhook({ body: { n: 1 } }))).toEqual({ id: digest, duplicate: false });
    expect(await inbox.receive(webhook({ body: { n: 1 } }))).toEqual({ id: digest, duplicate: true });
    expect(await inbox.receive(webhook({ body: { n: 1 }, scheme: 'github' }))).toEqual({ id: digest, duplicate: false });
    expect(await inbox.receive(webhook({ body: { n: 2 } }))).toMatchObject({ duplicate: false });
    expect(await inbox.receive(webhook({ id: 'same', scheme: 'github' }))).toEqual({ id: 'same', duplicate: false });
    expect(await inbox.receive(webhook({ id: 'same', scheme: 'stripe' }))).toEqual({ id: 'same', duplicate: false });
    expect((await inbox.stats()).pending).toBe(5);
  });

  it('runs its own receives at once, without waiting for the poll interval', async () => {
    const ran = deferred<string>();
    const inbox = await open({ handlers: { '*': (event) => ran.resolve(event.id) }, pollIntervalMs: 600_000 });
    await inbox.receive(webhook({ id: 'now' }));
    expect(await within(ran.promise, 5_000, 'handler run')).toBe('now');
  });

  it('picks up events another process received within the poll interval', async () => {
    const ran = deferred<string>();
    await open({ handlers: { '*': (event) => ran.resolve(event.id) }, pollIntervalMs: 20 });
    const other = await open({ handlers: {}, autoStart: false });
    await other.receive(webhook({ id: 'from-elsewhere' }));
    expect(await within(ran.promise, 5_000, 'handler run')).toBe('from-elsewhere');
  });

  it('retries a failing handler with exponential backoff, then succeeds', async () => {
    const attempts: number[] = [];
    const inbox = await open({
      handlers: {
        '*': (event) => {
          attempts.push(event.attempt);
          if (event.attempt < 3) throw new Error(`boom ${event.attempt}`);
        },
      },
    });
    await inbox.receive(webhook({ id: 'flaky' }));
    await inbox.whenIdle();
    let record = (await inbox.get('flaky'))!;
    expect(record).toMatchObject({ status: 'pending', attempts: 1, lastError: 'Error: boom 1' });
    // 1 s after the first failure (random 0.5 makes the jitter factor exactly 1).
    expect(record.nextAttemptAt!.getTime()).toBe(T0 + 1_000);

    clock.advance(999);
    await inbox.whenIdle();
    expect(attempts).toEqual([1]);

    clock.advance(1);
    await inbox.whenIdle();
    expect(attempts).toEqual([1, 2]);
    record = (await inbox.get('flaky'))!;
    expect(record).toMatchObject({ status: 'pending', attempts: 2, lastError: 'Error: boom 2' });
    // Doubled: 2 s after the second failure.
    expect(record.nextAttemptAt!.getTime()).toBe(T0 + 1_000 + 2_000);

    clock.advance(2_000);
    await inbox.whenIdle();
    expect(attempts).toEqual([1, 2, 3]);
    record = (await inbox.get('flaky'))!;
    expect(record).toMatchObject({ status: 'succeeded', attempts: 3, lastError: undefined });
    expect(record.completedAt!.getTime()).toBe(T0 + 3_000);

    // Each failure was reported with its event.
    expect(errors.map(({ error, event }) => [(error as Error).message, event?.id, event?.attempt])).toEqual([
      ['boom 1', 'flaky', 1],
      ['boom 2', 'flaky', 2],
    ]);
  });

  it('spreads retry delays with the injected random number and honours the backoff options', async () => {
    const inbox = await open({
      handlers: { '*': () => Promise.reject(new TypeError('nope')) },
      random: () => 0,
      backoff: { initialDelayMs: 10_000, factor: 3, maxDelayMs: 20_000 },
    });
    await inbox.receive(webhook({ id: 'j' }));
    await inbox.whenIdle();
    // 10 s × (1 − 0.2) with random() = 0.
    expect((await inbox.get('j'))!.nextAttemptAt!.getTime()).toBe(T0 + 8_000);
    clock.advance(8_000);
    await inbox.whenIdle();
    // 30 s capped at 20 s, × 0.8.
    expect((await inbox.get('j'))!).toMatchObject({ attempts: 2, lastError: 'TypeError: nope' });
    expect((await inbox.get('j'))!.nextAttemptAt!.getTime()).toBe(T0 + 8_000 + 16_000);
  });

  it('moves an event that keeps failing to the dead letters, and replay runs it again', async () => {
    let healthy = false;
    const runs: number[] = [];
    const inbox = await open({
      maxAttempts: 3,
      handlers: {
        '*': (event) => {
          runs.push(event.attempt);
          if (!healthy) throw new Error('still broken');
        },
      },
    });
    await inbox.receive(webhook({ id: 'doomed' }));
    await inbox.whenIdle();
    clock.advance(1_000);
    await inbox.whenIdle();
    clock.advance(2_000);
    await inbox.whenIdle();
    expect(runs).toEqual([1, 2, 3]);

    const dead = (await inbox.get('doomed'))!;
    expect(dead).toMatchObject({ status: 'dead', attempts: 3, lastError: 'Error: still broken', nextAttemptAt: undefined });
    expect(dead.completedAt!.getTime()).toBe(T0 + 3_000);
    expect((await inbox.deadLetters()).map((r) => r.id)).toEqual(['doomed']);
    expect(await inbox.stats()).toMatchObject({ dead: 1, pending: 0 });
    // Nothing more happens to a dead event, however much time passes.
    clock.advance(DAY);
    await inbox.whenIdle();
    expect(runs).toEqual([1, 2, 3]);

    healthy = true;
    expect(await inbox.replay('doomed')).toBe(true);
    await inbox.whenIdle();
    expect(runs).toEqual([1, 2, 3, 1]);
    expect(await inbox.get('doomed')).toMatchObject({ status: 'succeeded', attempts: 1, lastError: undefined });
    expect(await inbox.deadLetters()).toEqual([]);
  });

  it('replays only finished events; replayAllDead and purgeDead act on every dead event', async () => {
    const handlers = { bad: () => Promise.reject(new Error('no')), good: () => undefined };
    const worker = await open({ maxAttempts: 1, handlers });
    await worker.receive(webhook({ id: 'd1', type: 'bad' }));
    await worker.receive(webhook({ id: 'd2', type: 'bad' }));
    await worker.receive(webhook({ id: 'ok', type: 'good' }));
    await worker.whenIdle();
    await worker.close();

    // Not started, so replayed events stay pending while we look.
    const inbox = await open({ maxAttempts: 1, handlers, autoStart: false });
    expect((await inbox.deadLetters()).map((r) => r.id)).toEqual(['d2', 'd1']);
    expect(await inbox.replay('missing')).toBe(false);
    expect(await inbox.replay({ source: 'stripe', id: 'd1' })).toBe(false);
    expect(await inbox.replayAllDead()).toBe(2);
    expect(await inbox.get('d1')).toMatchObject({ status: 'pending', attempts: 0, lastError: undefined });
    expect((await inbox.get('d1'))!.nextAttemptAt!.getTime()).toBe(T0);
    // Pending now: replaying it again is refused.
    expect(await inbox.replay({ source: 'standard-webhooks', id: 'd1' })).toBe(false);
    inbox.start();
    await inbox.whenIdle();
    expect(await inbox.stats()).toMatchObject({ dead: 2, succeeded: 1 });
    expect(errors.map(({ event }) => `${event!.id}#${event!.attempt}`).sort()).toEqual(['d1#1', 'd1#1', 'd2#1', 'd2#1']);

    // A succeeded event may be run again on purpose.
    expect(await inbox.replay('ok')).toBe(true);
    await inbox.whenIdle();
    expect(await inbox.get('ok')).toMatchObject({ status: 'succeeded', attempts: 1 });

    clock.advance(HOUR);
    await inbox.receive(webhook({ id: 'd3', type: 'bad' }));
    await inbox.whenIdle();
    expect(await inbox.purgeDead({ before: new Date(T0 + HOUR) })).toBe(2);
    expect((await inbox.deadLetters()).map((r) => r.id)).toEqual(['d3']);
    expect(await inbox.purgeDead()).toBe(1);
    expect(await inbox.stats()).toEqual({ pending: 0, running: 0, succeeded: 1, skipped: 0, dead: 0 });
  });

  it("marks an event no handler matches as skipped, and '*' takes every type without its own handler", async () => {
    const specific: string[] = [];
    const inbox = await open({ handlers: { 'order.created': (event) => void specific.push(event.id) } });
    await inbox.receive(webhook({ id: 'a', type: 'order.created' }));
    await inbox.receive(webhook({ id: 'b', type: 'order.deleted' }));
    await inbox.receive(webhook({ id: 'c', type: undefined }));
    // An event type that names an Object.prototype member finds no handler there.
    await inbox.receive(webhook({ id: 'd', type: 'constructor' }));
    await inbox.whenIdle();
    expect(specific).toEqual(['a']);
    expect(await inbox.get('b')).toMatchObject({ status: 'skipped', attempts: 1, lastError: `No handler for type "order.deleted" and no '*' handler` });
    expect(await inbox.get('c')).toMatchObject({ status: 'skipped', lastError: `No handler for type (none) and no '*' handler` });
    expect(await inbox.get('d')).toMatchObject({ status: 'skipped' });
    // Skipped counts as processed: a redelivery is a duplicate.
    expect(await inbox.receive(webhook({ id: 'b', type: 'order.deleted' }))).toMatchObject({ duplicate: true });
    expect(errors).toEqual([]);

    const fallback: string[] = [];
    const other = await open({ handlers: { 'order.created': () => undefined, '*': (event) => void fallback.push(event.id) } });
    await other.receive(webhook({ id: 'e', type: 'order.deleted', scheme: 'other' }));
    await other.receive(webhook({ id: 'f', type: undefined, scheme: 'other' }));
    await other.receive(webhook({ id: 'g', type: 'order.created', scheme: 'other' }));
    await other.whenIdle();
    expect(fallback.sort()).toEqual(['e', 'f']);
  });

  it('prunes processed events after the retention period, so their ids are new again, but keeps recent and dead ones', async () => {
    let runs = 0;
    const inbox = await open({ retentionMs: DAY, maxAttempts: 1, handlers: { ok: () => void runs++, bad: () => Promise.reject(new Error('x')) } });
    await inbox.receive(webhook({ id: 'old', type: 'ok' }));
    await inbox.receive(webhook({ id: 'old-skip', type: 'nobody' }));
    await inbox.receive(webhook({ id: 'old-dead', type: 'bad' }));
    await inbox.whenIdle();
    clock.advance(12 * HOUR);
    await inbox.receive(webhook({ id: 'recent', type: 'ok' }));
    await inbox.whenIdle();

    // 'old' completed exactly one retention period ago: not yet older than it.
    clock.advance(12 * HOUR);
    expect(await inbox.prune()).toBe(0);
    clock.advance(1);
    expect(await inbox.prune()).toBe(2);
    expect(await inbox.get('old')).toBeUndefined();
    expect(await inbox.get('old-skip')).toBeUndefined();
    expect(await inbox.get('old-dead')).toMatchObject({ status: 'dead' });
    expect(await inbox.get('recent')).toMatchObject({ status: 'succeeded' });

    expect(await inbox.receive(webhook({ id: 'recent', type: 'ok' }))).toMatchObject({ duplicate: true });
    expect(await inbox.receive(webhook({ id: 'old', type: 'ok' }))).toMatchObject({ duplicate: false });
    await inbox.whenIdle();
    expect(runs).toBe(3);
  });

  it('never runs more handlers at once than its concurrency', async () => {
    const gates = new Map<string, () => void>();
    let inFlight = 0;
    let most = 0;
    const inbox = await open({
      concurrency: 2,
      handlers: {
        '*': async (event) => {
          most = Math.max(most, ++inFlight);
          await new Promise<void>((resolve) => gates.set(event.id, resolve));
          inFlight--;
        },
      },
    });
    for (let i = 0; i < 6; i++) await inbox.receive(webhook({ id: `c${i}` }));
    await waitUntil(() => gates.size, (n) => n === 2, 'two handlers running');
    expect(await inbox.stats()).toMatchObject({ running: 2, pending: 4 });
    expect([...gates.keys()]).toEqual(['c0', 'c1']);

    for (let released = 0; released < 6; released++) {
      const id = `c${released}`;
      await waitUntil(() => gates.has(id), Boolean, `${id} started`);
      gates.get(id)!();
    }
    await inbox.whenIdle();
    expect(most).toBe(2);
    expect(await inbox.stats()).toMatchObject({ succeeded: 6, running: 0, pending: 0 });
  });

  it('never runs one event twice when two inboxes share the database', async () => {
    const runs = new Map<string, number>();
    const inFlight = new Set<string>();
    const overlaps: string[] = [];
    const handler = async (event: InboxEvent): Promise<void> => {
      if (inFlight.has(event.id)) overlaps.push(event.id);
      inFlight.add(event.id);
      runs.set(event.id, (runs.get(event.id) ?? 0) + 1);
      await new Promise((resolve) => setTimeout(resolve, 1));
      inFlight.delete(event.id);
    };
    const a = await open({ handlers: { '*': handler }, concurrency: 4, pollIntervalMs: 5 });
    const b = await open({ handlers: { '*': handler }, concurrency: 4, pollIntervalMs: 5 });
    const ids = Array.from({ length: 40 }, (_, i) => `shared-${i}`);
    await Promise.all(ids.map((id, i) => (i % 2 === 0 ? a : b).receive(webhook({ id }))));
    await waitUntil(() => a.stats(), (s) => s.succeeded === ids.length, 'every event succeeded');
    await Promise.all([a.whenIdle(), b.whenIdle()]);
    expect(overlaps).toEqual([]);
    expect([...runs.keys()].sort()).toEqual([...ids].sort());
    expect([...runs.values()].every((n) => n === 1)).toBe(true);
    expect(errors).toEqual([]);
  });

  it('takes over an event whose lease expired (a stopped process), and not before', async () => {
    const stuck = deferred();
    const first = await open({ leaseMs: 60_000, pollIntervalMs: 600_000, handlers: { '*': () => stuck.promise } });
    await first.receive(webhook({ id: 'leased' }));
    const running = await waitUntil(() => first.get('leased'), (r) => r?.status === 'running', 'leased');
    expect(running!.leaseExpiresAt!.getTime()).toBe(T0 + 60_000);
    expect(running!.attempts).toBe(1);

    const attempts: number[] = [];
    const second = await open({ leaseMs: 60_000, handlers: { '*': (event) => void attempts.push(event.attempt) } });
    await second.whenIdle();
    clock.advance(59_999);
    await second.whenIdle();
    expect(attempts).toEqual([]);

    clock.advance(1);
    await second.whenIdle();
    expect(attempts).toEqual([2]);
    expect(await second.get('leased')).toMatchObject({ status: 'succeeded', attempts: 2 });

    // The first handler finishes late: its result is discarded, not written over the takeover's.
    stuck.resolve();
    await first.whenIdle();
    expect(await first.get('leased')).toMatchObject({ status: 'succeeded', attempts: 2 });
    expect(errors.map(({ error, event }) => [(error as { code?: string }).code, event?.id])).toEqual([['lease_lost', 'leased']]);
  });

  it('renews the lease while a handler runs longer than leaseMs', async () => {
    const stuck = deferred();
    // No polls: only the renewal timer touches the lease.
    const inbox = await open({ leaseMs: 150, pollIntervalMs: 600_000, handlers: { '*': () => stuck.promise } });
    await inbox.receive(webhook({ id: 'long' }));
    await waitUntil(() => inbox.get('long'), (r) => r?.leaseExpiresAt?.getTime() === T0 + 150, 'leased');
    // Renewed every leaseMs / 3 of real time, from the (moved) clock. The clock moves less than a
    // lease at a time: a jump past the lease could let a claim pass see it expired before the
    // renewal timer ran, which is the takeover the previous test covers, not this.
    for (let step = 1; step <= 5; step++) {
      clock.advance(100);
      await waitUntil(() => inbox.get('long'), (r) => r?.leaseExpiresAt?.getTime() === T0 + step * 100 + 150, `lease renewed (${step})`);
    }
    stuck.resolve();
    await inbox.whenIdle();
    expect(await inbox.get('long')).toMatchObject({ status: 'succeeded', attempts: 1 });
  });

  it('buries an event whose lease expired after its last allowed attempt', async () => {
    const first = await open({ maxAttempts: 2, leaseMs: 1_000, pollIntervalMs: 600_000, handlers: { '*': () => new Promise(() => undefined) } });
    await first.receive(webhook({ id: 'crasher' }));
    await waitUntil(() => first.get('crasher'), (r) => r?.status === 'running', 'first attempt');
    await first.close({ timeoutMs: 1 });

    // Its process "died" twice during the attempt; the second takeover does not run it a third time.
    const runs: number[] = [];
    const hang = { value: true };
    const second = await open({
      maxAttempts: 2,
      leaseMs: 1_000,
      pollIntervalMs: 20,
      handlers: { '*': (event) => (runs.push(event.attempt), hang.value ? new Promise(() => undefined) : undefined) },
    });
    clock.advance(1_000);
    await waitUntil(() => second.get('crasher'), (r) => r?.status === 'running' && r.attempts === 2, 'second attempt');
    await second.close({ timeoutMs: 1 });
    hang.value = false;

    const third = await open({ maxAttempts: 2, leaseMs: 1_000, handlers: { '*': (event) => void runs.push(event.attempt) } });
    clock.advance(1_000);
    await third.whenIdle();
    expect(runs).toEqual([2]);
    const record = await third.get('crasher');
    expect(record).toMatchObject({ status: 'dead', attempts: 2 });
    expect(record!.lastError).toMatch(/lease of the last attempt expired/);
  });

  it('close() waits for running handlers, then refuses work', async () => {
    const gate = deferred();
    let finished = false;
    const inbox = await open({
      handlers: {
        '*': async () => {
          await gate.promise;
          finished = true;
        },
      },
    });
    await inbox.receive(webhook({ id: 'in-flight' }));
    await waitUntil(() => inbox.get('in-flight'), (r) => r?.status === 'running', 'running');
    let closed = false;
    const closing = inbox.close().then(() => (closed = true));
    await expect(inbox.receive(webhook({ id: 'late' }))).rejects.toMatchObject({ name: 'InboxError', code: 'inbox_closed' });
    await new Promise((resolve) => setImmediate(resolve));
    expect(closed).toBe(false);
    gate.resolve();
    await closing;
    expect(finished).toBe(true);
    await expect(inbox.get('in-flight')).rejects.toMatchObject({ code: 'inbox_closed' });
    await expect(inbox.whenIdle()).rejects.toMatchObject({ code: 'inbox_closed' });
    expect(() => inbox.start()).toThrow(expect.objectContaining({ code: 'inbox_closed' }));
    await inbox.close();

    const reopened = await open({ handlers: {}, autoStart: false });
    expect(await reopened.get('in-flight')).toMatchObject({ status: 'succeeded' });
    expect(await reopened.get('late')).toBeUndefined();
  });

  it('close() stops waiting after its timeout and aborts the handler; the event runs again after its lease', async () => {
    const aborted = deferred<unknown>();
    const inbox = await open({
      leaseMs: 5_000,
      handlers: {
        '*': (event) =>
          new Promise((_, reject) => {
            event.signal.addEventListener('abort', () => {
              aborted.resolve(event.signal.reason);
              reject(new Error('stopped'));
            });
          }),
      },
    });
    await inbox.receive(webhook({ id: 'cut-off' }));
    await waitUntil(() => inbox.get('cut-off'), (r) => r?.status === 'running', 'running');
    await inbox.close({ timeoutMs: 20 });
    expect(await aborted.promise).toMatchObject({ code: 'inbox_closed' });

    const attempts: number[] = [];
    const next = await open({ leaseMs: 5_000, handlers: { '*': (event) => void attempts.push(event.attempt) } });
    await next.whenIdle();
    expect(attempts).toEqual([]);
    clock.advance(5_000);
    await next.whenIdle();
    expect(attempts).toEqual([2]);
  });

  it('lists events newest first, by status and with a limit', async () => {
    const inbox = await open({ handlers: { ok: () => undefined }, autoStart: false });
    for (const id of ['l1', 'l2', 'l3']) await inbox.receive(webhook({ id, type: 'ok' }));
    await inbox.receive(webhook({ id: 'l4', type: 'none' }));
    expect((await inbox.list()).map((r) => r.id)).toEqual(['l4', 'l3', 'l2', 'l1']);
    expect((await inbox.list({ limit: 2 })).map((r) => r.id)).toEqual(['l4', 'l3']);
    inbox.start();
    await inbox.whenIdle();
    expect((await inbox.list({ status: 'succeeded' })).map((r) => r.id)).toEqual(['l3', 'l2', 'l1']);
    expect((await inbox.list({ status: 'skipped' })).map((r) => r.id)).toEqual(['l4']);
    expect(await inbox.list({ status: 'pending' })).toEqual([]);
    await expect(inbox.list({ limit: 0 })).rejects.toThrow(TypeError);
    await expect(inbox.list({ status: 'done' as never })).rejects.toThrow(TypeError);
    await expect(inbox.get({ id: 'x' } as never)).rejects.toThrow(TypeError);
  });

  it('whenIdle() refuses on an inbox that was never started', async () => {
    const inbox = await open({ handlers: {}, autoStart: false });
    await expect(inbox.whenIdle()).rejects.toMatchObject({ code: 'not_started' });
  });

  it('refuses inbox tables newer than it knows', async () => {
    const first = await open({ handlers: {}, autoStart: false });
    await first.close();
    if (backend === 'sqlite') {
      execFileSync(process.execPath, [
        '-e',
        `const D = require('better-sqlite3'); const db = new D(process.argv[1]); db.prepare('INSERT INTO tapwire_inbox_schema_version VALUES (99, 0)').run(); db.close();`,
        database,
      ]);
    } else {
      await withClient(database, (client) => client.query('INSERT INTO tapwire_inbox_schema_version VALUES (99, 0)'));
    }
    await expect(createInbox({ database, handlers: {} })).rejects.toMatchObject({ name: 'InboxError', code: 'schema_too_new' });
  });

  it('opens the same tables again, from several inboxes at once', async () => {
    const inboxes = await Promise.all(Array.from({ length: 4 }, () => open({ handlers: {}, autoStart: false })));
    await inboxes[0]!.receive(webhook({ id: 'one' }));
    for (const inbox of inboxes) expect(await inbox.get('one')).toMatchObject({ status: 'pending' });
  });
});

describe('createInbox options', () => {
  it('reads the database option', () => {
    expect(parseInboxDatabase('./a/b.db', undefined)).toEqual({ backend: 'sqlite', path: './a/b.db' });
    expect(parseInboxDatabase('sqlite:./a/b.db', undefined)).toEqual({ backend: 'sqlite', path: './a/b.db' });
    expect(parseInboxDatabase('file:/tmp/b.db', undefined)).toEqual({ backend: 'sqlite', path: '/tmp/b.db' });
    expect(parseInboxDatabase('file:///tmp/b%20c.db', undefined)).toEqual({ backend: 'sqlite', path: '/tmp/b c.db' });
    expect(parseInboxDatabase('postgres://u@h/db?schema=hooks', undefined)).toEqual({ backend: 'postgres', url: 'postgres://u@h/db', schema: 'hooks' });
    expect(parseInboxDatabase('postgresql://u@h/db?sslmode=require', 'hooks')).toEqual({
      backend: 'postgres',
      url: 'postgresql://u@h/db?sslmode=require',
      schema: 'hooks',
    });
    expect(parseInboxDatabase('postgres://u@h/db', undefined)).toMatchObject({ schema: undefined });
    expect(() => parseInboxDatabase('mysql://u:secret@h/db', undefined)).toThrow(/unsupported URL scheme in 'mysql:\/\/\*\*\*@h\/db'/);
    expect(() => parseInboxDatabase('postgres://h/db?schema=Bad-Name', undefined)).toThrow(TypeError);
    expect(() => parseInboxDatabase('postgres://h/db?schema=a', 'b')).toThrow(TypeError);
    expect(() => parseInboxDatabase('./x.db', 'hooks')).toThrow(/PostgreSQL only/);
    expect(() => parseInboxDatabase('sqlite:', undefined)).toThrow(TypeError);
    expect(() => parseInboxDatabase('', undefined)).toThrow(TypeError);
  });

  it('rejects options that cannot be meant before opening anything', async () => {
    const database = join(tmpdir(), 'tapwire-inbox-never-created', 'x.db');
    for (const bad of [
      { handlers: { a: 'not a function' } },
      { handlers: {}, concurrency: 0 },
      { handlers: {}, maxAttempts: 1.5 },
      { handlers: {}, leaseMs: -1 },
      { handlers: {}, retentionMs: Number.POSITIVE_INFINITY },
      { handlers: {}, backoff: { factor: 0.5 } },
      { handlers: {}, backoff: { jitterRatio: 1 } },
    ]) {
      await expect(createInbox({ database, ...(bad as unknown as InboxOptions) })).rejects.toThrow(TypeError);
    }
  });
});
