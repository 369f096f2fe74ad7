// The example app in examples/receive-tapwire, run as its own process against a real Tapwire server:
// what Tapwire sends verifies, each event is processed once (a resend of the same message is
// acknowledged as a duplicate), and a forged request is refused with nothing useful to a forger.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { generateSecret } from '../src/signing/standard-webhooks.js';
import { createApp, createEndpoint, createEventTypes, eventually, expectStatus, sendMessage, waitForDestinationStatus } from './helpers/delivery.js';
import { startTapwire, type TestTapwire } from './helpers/tapwire.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

interface ExampleApp {
  url: string;
  lines: Record<string, unknown>[];
  stop(): Promise<void>;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function startExample(secret: string): Promise<ExampleApp> {
  const dir = mkdtempSync(join(tmpdir(), 'tapwire-example-'));
  const child: ChildProcess = spawn(process.execPath, ['examples/receive-tapwire/server.mjs'], {
    cwd: root,
    env: { ...process.env, WEBHOOK_SECRET: secret, PORT: '0', INBOX_DATABASE: join(dir, 'inbox.db') },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: Record<string, unknown>[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => lines.push(JSON.parse(line) as Record<string, unknown>));
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  cleanups.push(stop);
  const listening = await eventually(
    async () => lines.find((line) => line.what === 'listening'),
    (line) => line !== undefined || child.exitCode !== null,
    { what: 'the example app listening' },
  );
  if (listening === undefined) throw new Error(`example app exited with ${child.exitCode}`);
  return { url: listening.url as string, lines, stop };
}

describe('examples/receive-tapwire', () => {
  let tw: TestTapwire;

  it('verifies and processes what Tapwire sends, once per message, and refuses forgeries', async () => {
    tw = await startTapwire();
    cleanups.push(() => tw.close());
    const secret = generateSecret();
    const example = await startExample(secret);
    const appId = await createApp(tw);
    await createEventTypes(tw, 'invoice.paid', 'customer.created');
    const endpoint = await createEndpoint(tw, appId, { url: example.url, secret });
    expect(endpoint.secret).toBe(secret);

    // Payloads in the Standard Webhooks shape: the receiver routes on `type`.
    const invoiceMsg = await sendMessage(tw, appId, {
      eventType: 'invoice.paid',
      payload: { type: 'invoice.paid', timestamp: '2026-11-28T10:00:00Z', data: { invoiceId: 'inv_42', amount: 1999 } },
    });
    const customerMsg = await sendMessage(tw, appId, {
      eventType: 'customer.created',
      payload: { type: 'customer.created', timestamp: '2026-11-28T10:00:01Z', data: { customerId: 'cus_7' } },
    });
    await waitForDestinationStatus(tw, appId, invoiceMsg, endpoint.id, 0);
    await waitForDestinationStatus(tw, appId, customerMsg, endpoint.id, 0);
    const processed = await eventually(
      async () => example.lines.filter((line) => line.what === 'invoice paid' || line.what === 'event'),
      (found) => found.length === 2,
      { what: 'both events processed by the example' },
    );
    expect(processed).toEqual(
      expect.arrayContaining([
        { what: 'invoice paid', eventId: invoiceMsg, invoice: 'inv_42', attempt: 1 },
        { what: 'event', eventId: customerMsg, type: 'customer.created', attempt: 1 },
      ]),
    );

    // A resend carries the same webhook-id: the example acknowledges it and does not process it again.
    expectStatus(await tw.api('POST', `/api/v1/app/${appId}/msg/${invoiceMsg}/endpoint/${endpoint.id}/resend`), 202, 'resend');
    const attempts = await eventually(
      async () => expectStatus(await tw.api('GET', `/api/v1/app/${appId}/attempt/msg/${invoiceMsg}`), 200, 'attempts').body.data as any[],
      (list) => list.length === 2 && list.every((attempt) => attempt.responseStatusCode === 200),
      { what: 'the resend delivered' },
    );
    expect(attempts.map((attempt) => JSON.parse(attempt.response))).toEqual(
      expect.arrayContaining([
        { received: true, duplicate: false },
        { received: true, duplicate: true },
      ]),
    );
    expect(example.lines.filter((line) => line.what === 'invoice paid')).toHaveLength(1);

    // A forged request (signed with another secret) gets a bare 401; the reason goes to the app's log.
    const forged = await fetch(example.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'webhook-id': 'msg_forged',
        'webhook-timestamp': String(Math.floor(Date.now() / 1000)),
        'webhook-signature': 'v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=',
      },
      body: '{"type":"invoice.paid","data":{"invoiceId":"inv_forged"}}',
    });
    expect(forged.status).toBe(401);
    expect(await forged.text()).toBe('{"error":"unauthorized"}');
    await eventually(
      async () => example.lines.filter((line) => line.what === 'rejected'),
      (rejected) => rejected.length === 1,
      { what: 'the refusal logged' },
    );
    expect(example.lines.find((line) => line.what === 'rejected')).toEqual({ what: 'rejected', reason: 'no_matching_signature' });
    expect(example.lines.some((line) => line.invoice === 'inv_forged')).toBe(false);
  });
});
