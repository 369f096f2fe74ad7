// Faulty receivers suite (issue 8): endpoints that answer 500 at random, hang past the deadline,
// reset the connection, drip the answer byte by byte, offer a 100 MB body, answer bytes that are not
// HTTP, or redirect. Every message must end delivered or failed, with a complete attempt log (one
// attempt per scheduled try, each with its status code or error); no response body is read past the
// 20 000-byte cap (so memory stays bounded); no redirect is followed; and a healthy endpoint beside
// them keeps its throughput. Runs an in-process server on both backends.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { afterEach, describe, expect, it } from 'vitest';
import { startCountingReceiver, type CountingReceiver } from '../helpers/counting-receiver.js';
import { createApp, createEndpoint, createEventTypes, eventually, expectStatus, sendMessage } from '../helpers/delivery.js';
import { HOSTILE_BEHAVIOURS, startHostileReceiver, type HostileBehaviour, type HostileReceiver } from '../helpers/hostile-receiver.js';
import { backends } from '../helpers/postgres.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { startTapwire, useBackend, type TestTapwire } from '../helpers/tapwire.js';
import { chaosSeed, chaosSize, reportFigures, seededRandom, waitUntil } from './chaos.js';

/** Messages fanned out to the seven hostile endpoints; ≤ 83, so one page of 250 holds all attempts of one endpoint. */
const FAULTY_MESSAGES = chaosSize(8, 80);
/** Messages to the healthy endpoint, once alone and once beside the hostile ones. */
const HEALTHY_MESSAGES = chaosSize(150, 1_000);
/** TAPWIRE_RETRY_SCHEDULE below: two retries, so a failed delivery has exactly three attempts. */
const RETRY_SCHEDULE = '20ms,50ms';
const ATTEMPTS_WHEN_FAILED = 3;
const REQUEST_TIMEOUT_MS = 500;
/** config.maxResponseBytes: stored response bodies are cut here (send-webhook.ts readCapped). */
const MAX_RESPONSE_BYTES = 20_000;
const HUGE_BYTES = 100 * 1024 * 1024;
/** How much of the huge body may leave our hands before the client drops it: socket buffers, not the body. */
const MAX_HUGE_WRITTEN = 16 * 1024 * 1024;
/** Messages to an endpoint that only offers huge bodies, in a phase of their own, for the memory check. */
const HUGE_ONLY_MESSAGES = chaosSize(8, 40);
/** RSS growth allowed while those are offered: up to 4 at once, 100 MB each, 400 MB if they were read. */
const MAX_RSS_GROWTH = 48 * 1024 * 1024;
/** Healthy throughput beside the hostile endpoints, as a share of it alone; generous, the machine is shared. */
const MIN_THROUGHPUT_RATIO = 0.3;

/** What each behaviour must end as: the final status of the delivery and what every attempt shows. */
const EXPECTED: Record<HostileBehaviour, { final: 'success' | 'fail' | 'either'; code: (n: number) => boolean; response?: RegExp }> = {
  flaky: { final: 'either', code: (n) => n === 500 || n === 200 },
  hang: { final: 'fail', code: (n) => n === 0, response: /Timed out after 500 ms/ },
  reset: { final: 'fail', code: (n) => n === 0 },
  drip: { final: 'fail', code: (n) => n === 0, response: /Timed out after 500 ms/ },
  huge: { final: 'success', code: (n) => n === 200 },
  invalid: { final: 'fail', code: (n) => n === 0 },
  redirect: { final: 'fail', code: (n) => n === 302 },
};

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

/** POST `count` messages of `eventType`, 8 at a time. */
async function sendMany(tw: TestTapwire, appId: string, count: number, eventType: string, tag: string): Promise<string[]> {
  const ids: string[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < count) {
        const n = next++;
        ids.push(await sendMessage(tw, appId, { eventType, payload: { tag, n } }));
      }
    }),
  );
  return ids;
}

/** Seconds from the first POST until every one of `count` new messages has reached `rx`. */
async function healthyRun(tw: TestTapwire, appId: string, rx: CountingReceiver, tag: string): Promise<{ seconds: number; ids: string[] }> {
  const started = Date.now();
  const ids = await sendMany(tw, appId, HEALTHY_MESSAGES, 'healthy.event', tag);
  await rx.waitFor(() => ids.every((id) => rx.counts.has(id)), 60_000, `${HEALTHY_MESSAGES} healthy deliveries (${tag})`);
  return { seconds: (Date.now() - started) / 1000, ids };
}

describe.each(await backends())('%s', (backend) => {
  useBackend(backend);

  it('ends every message delivered or failed with a full attempt log, reads no body past the cap, follows no redirect, and keeps the healthy endpoint fast', async () => {
    const seed = chaosSeed(`faulty-receivers/${backend}`, backend === 'sqlite' ? 8201 : 8202);
    const tw = await startTapwire({ TAPWIRE_REQUEST_TIMEOUT: `${REQUEST_TIMEOUT_MS}ms`, TAPWIRE_RETRY_SCHEDULE: RETRY_SCHEDULE });
    cleanups.push(() => tw.close());
    const trap: Receiver = await startReceiver(); // where the redirect points: must never be reached
    cleanups.push(() => trap.close());
    const hostile: HostileReceiver = await startHostileReceiver({ random: seededRandom(seed), redirectTo: `${trap.url}/followed`, hugeBytes: HUGE_BYTES });
    cleanups.push(() => hostile.close());
    const healthy = await startCountingReceiver();
    cleanups.push(() => healthy.close());

    const appId = await createApp(tw, 'Faulty receivers');
    await createEventTypes(tw, 'faulty.event', 'healthy.event', 'huge.event');
    const endpoints = {} as Record<HostileBehaviour, string>;
    for (const behaviour of HOSTILE_BEHAVIOURS) {
      endpoints[behaviour] = (await createEndpoint(tw, appId, { url: `${hostile.url}/${behaviour}`, uid: `hostile-${behaviour}`, filterTypes: ['faulty.event'] })).id;
    }
    await createEndpoint(tw, appId, { url: healthy.url, uid: 'healthy', filterTypes: ['healthy.event'] });
    await createEndpoint(tw, appId, { url: `${hostile.url}/huge/only`, uid: 'huge-only', filterTypes: ['huge.event'] });

    // Baseline: the healthy endpoint alone.
    const alone = await healthyRun(tw, appId, healthy, 'alone');

    // Memory: only huge bodies on offer, the process's RSS sampled throughout. The process is this
    // test's own (the server runs in it), so nothing else runs in this phase.
    const rssBefore = process.memoryUsage().rss;
    let rssMax = rssBefore;
    const sampler = setInterval(() => (rssMax = Math.max(rssMax, process.memoryUsage().rss)), 10);
    cleanups.push(async () => clearInterval(sampler));
    const hugeOnly = await sendMany(tw, appId, HUGE_ONLY_MESSAGES, 'huge.event', 'huge');
    await waitUntil(() => hostile.hugeBytesWritten.length >= hugeOnly.length, 60_000, () => `${hugeOnly.length} huge answers offered (${hostile.hugeBytesWritten.length} so far)`);
    await eventually(
      async () => expectStatus(await tw.api('GET', `/api/v1/app/${appId}/endpoint/huge-only/msg?limit=250&with_content=false`), 200, 'huge-only').body.data as any[],
      (data) => data.length === hugeOnly.length && data.every((m) => m.status === 0 || m.status === 2),
      { timeoutMs: 60_000, intervalMs: 50, what: 'every huge-only delivery final' },
    );
    clearInterval(sampler);
    const rssGrowth = rssMax - rssBefore;

    // The hostile load beside the healthy endpoint.
    const lag = monitorEventLoopDelay({ resolution: 10 });
    lag.enable();
    const faultyIds = await sendMany(tw, appId, FAULTY_MESSAGES, 'faulty.event', 'faulty');
    const beside = await healthyRun(tw, appId, healthy, 'beside');

    // Every delivery to a hostile endpoint reaches a final state: success (0) or fail (2).
    const finals = {} as Record<HostileBehaviour, Map<string, number>>;
    for (const behaviour of HOSTILE_BEHAVIOURS) {
      const list = await eventually(
        async () => expectStatus(await tw.api('GET', `/api/v1/app/${appId}/endpoint/${endpoints[behaviour]}/msg?limit=250&with_content=false`), 200, 'attempted messages').body.data as any[],
        (data) => data.length === FAULTY_MESSAGES && data.every((m) => m.status === 0 || m.status === 2),
        { timeoutMs: 60_000, intervalMs: 100, what: `every delivery to the ${behaviour} endpoint final` },
      );
      finals[behaviour] = new Map(list.map((m) => [m.id as string, m.status as number]));
    }
    lag.disable();

    // The attempt log: one attempt per try, each with a status code or an error text, bodies capped.
    // On a loaded machine any attempt may also hit the 500 ms deadline (counted as a spurious
    // timeout): still a complete log, and the delivery is retried like any other failure.
    let attemptsChecked = 0;
    const spuriousTimeouts: Record<string, number> = {};
    const isTimeout = (attempt: any): boolean => attempt.responseStatusCode === 0 && /^Timed out after 500 ms/.test(attempt.response);
    const outcomes: Record<string, { delivered: number; failed: number; attempts: number }> = {};
    for (const behaviour of HOSTILE_BEHAVIOURS) {
      const expected = EXPECTED[behaviour];
      const attempts = expectStatus(await tw.api('GET', `/api/v1/app/${appId}/attempt/endpoint/${endpoints[behaviour]}?limit=250`), 200, 'attempts').body.data as any[];
      const byMessage = new Map<string, any[]>();
      for (const attempt of attempts) byMessage.set(attempt.msgId, [...(byMessage.get(attempt.msgId) ?? []), attempt]);
      let delivered = 0;
      let failed = 0;
      for (const msgId of faultyIds) {
        const final = finals[behaviour].get(msgId);
        const mine = (byMessage.get(msgId) ?? []).sort((a, b) => (a.timestamp < b.timestamp ? -1 : a.timestamp > b.timestamp ? 1 : a.id < b.id ? -1 : 1));
        const where = `${behaviour} ${msgId}: ${JSON.stringify(mine).slice(0, 600)}`;
        for (const attempt of mine) {
          attemptsChecked++;
          expect(typeof attempt.responseStatusCode, where).toBe('number');
          expect(['success', 'fail'], where).toContain(attempt.statusText);
          expect(typeof attempt.response, where).toBe('string');
          expect(typeof attempt.responseDurationMs, where).toBe('number');
          expect(Buffer.byteLength(attempt.response), where).toBeLessThanOrEqual(MAX_RESPONSE_BYTES);
          if (attempt.statusText === 'fail' && attempt.responseStatusCode === 0) expect(attempt.response.length, `${where}: an error text`).toBeGreaterThan(0);
          if (expected.code(attempt.responseStatusCode) && (!expected.response || expected.response.test(attempt.response))) continue;
          expect(isTimeout(attempt), `${where}: code ${attempt.responseStatusCode}`).toBe(true);
          spuriousTimeouts[behaviour] = (spuriousTimeouts[behaviour] ?? 0) + 1;
        }
        if (final === 0) {
          delivered++;
          expect(expected.final, where).not.toBe('fail');
          expect(mine.at(-1)?.statusText, where).toBe('success');
          expect(mine.slice(0, -1).every((a) => a.statusText === 'fail'), where).toBe(true);
          if (behaviour === 'huge') expect(Buffer.byteLength(mine.at(-1).response), where).toBe(MAX_RESPONSE_BYTES);
        } else {
          failed++;
          expect(final, where).toBe(2);
          // A delivery expected to succeed may fail only if every one of its attempts hit the deadline.
          if (expected.final === 'success') expect(mine.every(isTimeout), where).toBe(true);
          expect(mine, where).toHaveLength(ATTEMPTS_WHEN_FAILED);
          expect(mine.every((a) => a.statusText === 'fail'), where).toBe(true);
        }
      }
      outcomes[behaviour] = { delivered, failed, attempts: attempts.length };
    }

    // Nothing read the huge body past the cap; nothing followed the redirect.
    expect(hostile.hugeBytesWritten.length).toBeGreaterThanOrEqual(FAULTY_MESSAGES + HUGE_ONLY_MESSAGES);
    expect(Math.max(...hostile.hugeBytesWritten)).toBeLessThan(MAX_HUGE_WRITTEN);
    expect(trap.requests).toHaveLength(0);
    expect(rssGrowth).toBeLessThan(MAX_RSS_GROWTH);
    // Every attempt in the log reached the hostile endpoint (none timed out queued inside the client).
    const hugeOnlyAttempts = (expectStatus(await tw.api('GET', `/api/v1/app/${appId}/attempt/endpoint/huge-only?limit=250`), 200, 'attempts').body.data as any[]).length;
    for (const behaviour of HOSTILE_BEHAVIOURS) expect(hostile.requests[behaviour], behaviour).toBe(outcomes[behaviour]!.attempts + (behaviour === 'huge' ? hugeOnlyAttempts : 0));

    const ratio = alone.seconds / beside.seconds;
    reportFigures('faulty-receivers', backend, {
      seed,
      faultyMessages: FAULTY_MESSAGES,
      hostileEndpoints: HOSTILE_BEHAVIOURS.length,
      outcomes,
      attemptsChecked,
      incompleteLogs: 0,
      spuriousTimeouts,
      eventLoopLagMaxMs: Math.round(lag.max / 1e6),
      hugeBodyOfferedMB: HUGE_BYTES / 1024 / 1024,
      hugeBodiesOffered: hostile.hugeBytesWritten.length,
      hugeBodyMaxWrittenKB: Math.round(Math.max(...hostile.hugeBytesWritten) / 1024),
      rssGrowthMB: Number((rssGrowth / 1024 / 1024).toFixed(1)),
      redirectsFollowed: trap.requests.length,
      healthyMessages: HEALTHY_MESSAGES,
      healthyAloneS: alone.seconds,
      healthyBesideS: beside.seconds,
      throughputRatio: Number(ratio.toFixed(2)),
    });
    expect(ratio).toBeGreaterThan(MIN_THROUGHPUT_RATIO);
  }, chaosSize(90_000, 300_000));
});
