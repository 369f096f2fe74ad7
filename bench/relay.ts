// The no-storage relay of design.md §7: accept a message over HTTP, answer 202, then sign it and
// forward it to the receiver, all in memory. Nothing a durable system can beat, so "Tapwire end to
// end vs. this relay" says what durability costs. It speaks the part of Tapwire's API the harness
// uses (POST /api/v1/app/:app/msg with {eventType, payload}, answering 202 with the message's id),
// signs exactly as Tapwire does (src/signing) and forwards with `concurrency` requests in flight over
// one keep-alive pool, like the raw baseline. Runs in its own process: argv = target URL, secret,
// concurrency.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';
import { newId } from '../src/domain/ids.js';
import { buildSignatureHeaders, signPayload } from '../src/signing/standard-webhooks.js';
import { serveCalls } from './ipc.js';

export interface RelayReady {
  /** Base URL of the relay's API. */
  url: string;
}

export interface RelayStats {
  accepted: number;
  forwarded: number;
  failed: number;
  cpuMs: number;
}

const [target = '', secret = '', concurrencyText = '64'] = process.argv.slice(2);
const targetUrl = new URL(target);
const concurrency = Number(concurrencyText);
const pool = new Pool(targetUrl.origin, { connections: concurrency, pipelining: 1, keepAliveTimeout: 60_000 });

interface Job {
  id: string;
  payload: string;
}
// A FIFO of accepted messages: an array with a moving head, compacted now and then.
let queue: Job[] = [];
let head = 0;
/** Forwarders waiting for work; one is woken per accepted message. */
const idle: (() => void)[] = [];
const counts = { accepted: 0, forwarded: 0, failed: 0 };

async function forwardForever(): Promise<never> {
  for (;;) {
    if (head === queue.length) {
      await new Promise<void>((resolve) => idle.push(resolve));
      continue;
    }
    const job = queue[head++]!;
    if (head > 10_000 && head * 2 > queue.length) {
      queue = queue.slice(head);
      head = 0;
    }
    const timestampSeconds = Math.floor(Date.now() / 1000);
    const signature = signPayload({ msgId: job.id, timestampSeconds, body: job.payload, secrets: [secret] });
    try {
      const res = await pool.request({
        method: 'POST',
        path: targetUrl.pathname,
        headers: {
          'content-type': 'application/json',
          'user-agent': 'tapwire-bench-relay',
          ...buildSignatureHeaders({ mode: 'webhook', msgId: job.id, timestampSeconds, signature }),
        },
        body: job.payload,
      });
      await res.body.dump();
      if (res.statusCode >= 200 && res.statusCode < 300) counts.forwarded++;
      else counts.failed++;
    } catch {
      counts.failed++;
    }
  }
}

function accept(req: IncomingMessage, res: ServerResponse): void {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.once('end', () => {
    if (req.method !== 'POST' || !/^\/api\/v1\/app\/[^/]+\/msg$/.test(req.url ?? '')) {
      res.writeHead(404).end();
      return;
    }
    let body: { eventType?: unknown; payload?: unknown };
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof body;
    } catch {
      res.writeHead(400).end();
      return;
    }
    const id = newId('msg');
    const payload = JSON.stringify(body.payload);
    queue.push({ id, payload });
    counts.accepted++;
    idle.shift()?.();
    res.writeHead(202, { 'content-type': 'application/json' }).end(
      JSON.stringify({ id, eventType: body.eventType, payload: body.payload, timestamp: new Date().toISOString() }),
    );
  });
}

const server = createServer({ keepAliveTimeout: 60_000 }, accept);
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
for (let i = 0; i < concurrency; i++) void forwardForever();

serveCalls({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` } satisfies RelayReady, {
  stats: (): RelayStats => {
    const cpu = process.cpuUsage();
    return { ...counts, cpuMs: (cpu.user + cpu.system) / 1000 };
  },
});
