// The load generators, all in the harness process: the raw baseline (signed POSTs straight to the
// receiver), closed-loop API clients (N in flight, each sending its next message when the last was
// answered) and an open-loop client (a fixed rate, whatever the answers do) for latency.
import { Pool } from 'undici';
import { newId } from '../src/domain/ids.js';
import { buildSignatureHeaders, signPayload } from '../src/signing/standard-webhooks.js';
import { wallClockMs } from './clock.js';
import type { ApiClient } from './tapwire.js';

/** ~200 bytes of JSON, the payload of every message and raw POST. */
export function payloadFor(n: number): Record<string, unknown> {
  return { type: 'invoice.paid', n, at: new Date().toISOString(), customer: 'cus_bench_0000000001', amount: 4200, currency: 'eur', note: 'x'.repeat(64) };
}

/** The body of POST /api/v1/app/:app/msg for message `n`. */
export function messageBody(n: number): string {
  return JSON.stringify({ eventType: 'invoice.paid', payload: payloadFor(n) });
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export interface RawResult {
  /** Responses completed per second inside the measured window (after warm-up). */
  perSecond: number;
  requests: number;
  errors: number;
  concurrency: number;
  seconds: number;
}

/**
 * The machine's ceiling: what Tapwire's worker does per delivery (a message id, sign the body with
 * the endpoint's secret as Tapwire does, POST it, read the answer) and nothing else, with
 * `concurrency` requests in flight over one keep-alive pool of as many connections. Requests
 * completed in the `warmupMs` first are not counted.
 */
export async function sendRaw(options: { url: string; secret: string; concurrency: number; durationMs: number; warmupMs: number }): Promise<RawResult> {
  const target = new URL(options.url);
  const pool = new Pool(target.origin, { connections: options.concurrency, pipelining: 1, keepAliveTimeout: 60_000 });
  const start = performance.now();
  const countFrom = start + options.warmupMs;
  const end = countFrom + options.durationMs;
  let counted = 0;
  let errors = 0;
  let n = 0;
  const loop = async (): Promise<void> => {
    while (performance.now() < end) {
      const msgId = newId('msg');
      const body = JSON.stringify(payloadFor(n++));
      const timestampSeconds = Math.floor(Date.now() / 1000);
      const signature = signPayload({ msgId, timestampSeconds, body, secrets: [options.secret] });
      try {
        const res = await pool.request({
          method: 'POST',
          path: target.pathname,
          headers: { 'content-type': 'application/json', 'user-agent': 'tapwire-bench-raw', ...buildSignatureHeaders({ mode: 'webhook', msgId, timestampSeconds, signature }) },
          body,
        });
        await res.body.dump();
        const now = performance.now();
        if (res.statusCode !== 200) errors++;
        else if (now >= countFrom && now < end) counted++;
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, loop));
  await pool.close();
  const seconds = options.durationMs / 1000;
  return { perSecond: counted / seconds, requests: counted, errors, concurrency: options.concurrency, seconds };
}

export interface PostResult {
  accepted: number;
  errors: number;
  firstError: string | null;
  /** wallClockMs of the first request and of the last answer. */
  startedAt: number;
  endedAt: number;
  perSecond: number;
  /** Accepted per second after the warm-up (from `warmupMs` on), or the whole run without one. */
  warmPerSecond: number;
}

/**
 * Post messages with `clients` requests in flight, round-robin over `paths` (one per application),
 * until `count` were sent or `durationMs` passed, whichever is given (count wins). With `warmupMs`,
 * warmPerSecond counts only what was accepted after it.
 */
export async function postClosedLoop(
  client: ApiClient,
  options: { paths: string[]; clients: number; count?: number; durationMs?: number; warmupMs?: number },
): Promise<PostResult> {
  const startedAt = wallClockMs();
  let warm = { at: startedAt, accepted: 0 };
  const warmTimer = options.warmupMs ? setTimeout(() => (warm = { at: wallClockMs(), accepted }), options.warmupMs) : undefined;
  const stopAt = options.durationMs === undefined ? Infinity : performance.now() + options.durationMs;
  const count = options.count ?? Infinity;
  let next = 0;
  let accepted = 0;
  let errors = 0;
  let firstError: string | null = null;
  const loop = async (): Promise<void> => {
    while (next < count && performance.now() < stopAt) {
      const n = next++;
      try {
        const res = await client.post(options.paths[n % options.paths.length]!, messageBody(n));
        if (res.status === 202) accepted++;
        else {
          errors++;
          firstError ??= `${res.status} ${res.text.slice(0, 300)}`;
        }
      } catch (error) {
        errors++;
        firstError ??= String(error);
      }
    }
  };
  await Promise.all(Array.from({ length: options.clients }, loop));
  clearTimeout(warmTimer);
  const endedAt = wallClockMs();
  return {
    accepted,
    errors,
    firstError,
    startedAt,
    endedAt,
    perSecond: (accepted * 1000) / (endedAt - startedAt),
    warmPerSecond: ((accepted - warm.accepted) * 1000) / (endedAt - warm.at),
  };
}

/** One message of the open-loop client: its id and when it was sent and answered (wallClockMs). */
export interface TimedMessage {
  id: string;
  calledAt: number;
  acceptedAt: number;
}

/**
 * Post at `ratePerSecond` for `durationMs` whatever the answers do (open loop: a slow answer does not
 * slow the sending, as with real clients), and time each call.
 */
export async function postOpenLoop(
  client: ApiClient,
  options: { path: string; ratePerSecond: number; durationMs: number },
): Promise<{ messages: TimedMessage[]; errors: number; firstError: string | null }> {
  const messages: TimedMessage[] = [];
  const inFlight = new Set<Promise<void>>();
  let errors = 0;
  let firstError: string | null = null;
  const start = performance.now();
  let sent = 0;
  const fire = (n: number): void => {
    const calledAt = wallClockMs();
    const work = client.post(options.path, messageBody(n)).then(
      (res) => {
        const acceptedAt = wallClockMs();
        if (res.status !== 202) {
          errors++;
          firstError ??= `${res.status} ${res.text.slice(0, 300)}`;
          return;
        }
        messages.push({ id: (JSON.parse(res.text) as { id: string }).id, calledAt, acceptedAt });
      },
      (error: unknown) => {
        errors++;
        firstError ??= String(error);
      },
    );
    inFlight.add(work);
    void work.finally(() => inFlight.delete(work));
  };
  for (;;) {
    const elapsed = performance.now() - start;
    if (elapsed >= options.durationMs) break;
    const due = Math.floor((elapsed / 1000) * options.ratePerSecond);
    while (sent < due) fire(sent++);
    await sleep(1);
  }
  await Promise.all(inFlight);
  return { messages, errors, firstError };
}
