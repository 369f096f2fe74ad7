// Starts a real Tapwire server for a test: a fresh SQLite file, a known admin token, loopback
// allowed and a shrunk retry schedule, listening on a free port of 127.0.0.1.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import { loadConfig, type TapwireConfig } from '../../src/config/config.js';
import type { Clock } from '../../src/services/context.js';
import { TapwireServer } from '../../src/tapwire-server.js';

export const ADMIN_TOKEN = 'tw_admin_test_token_0123456789';

export interface TestTapwire {
  server: TapwireServer;
  url: string;
  config: TapwireConfig;
  dir: string;
  /** fetch against the API with the admin token (or `token`). */
  api(method: string, path: string, body?: unknown, options?: { token?: string | null; headers?: Record<string, string>; raw?: string }): Promise<{ status: number; body: any; text: string; headers: Headers }>;
  close(): Promise<void>;
}

export interface StartTapwireOptions {
  /** Random source for retry jitter (e.g. `() => 0.5` for exact delays). */
  random?: () => number;
  /** Logger for the server (default: silent, or TAPWIRE_TEST_LOG's level). */
  logger?: Logger;
  /** Longest worker sleep when idle (default 50 ms). */
  workerMaxIdleMs?: number;
  /** Injected time for the whole server (API, worker, maintenance). */
  clock?: Clock;
}

export async function startTapwire(env: Record<string, string> = {}, options: StartTapwireOptions = {}): Promise<TestTapwire> {
  const dir = mkdtempSync(join(tmpdir(), 'tapwire-test-'));
  const config = loadConfig({
    env: {
      TAPWIRE_DATABASE_URL: join(dir, 'tapwire.db'),
      TAPWIRE_PORT: '0',
      TAPWIRE_ADMIN_TOKEN: ADMIN_TOKEN,
      TAPWIRE_ALLOWED_NETWORKS: '127.0.0.0/8',
      TAPWIRE_HTTPS_ONLY: 'false',
      TAPWIRE_RETRY_SCHEDULE: '20ms,40ms',
      TAPWIRE_REQUEST_TIMEOUT: '2s',
      ...env,
    },
  });
  const server = await TapwireServer.create({
    config,
    logger: options.logger ?? pino({ level: process.env.TAPWIRE_TEST_LOG ?? 'silent' }),
    workerMaxIdleMs: options.workerMaxIdleMs ?? 50,
    ...(options.random ? { random: options.random } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
  });
  const url = (await server.start())!;
  return {
    server,
    url,
    config,
    dir,
    async api(method, path, body, opts = {}) {
      const token = opts.token === undefined ? ADMIN_TOKEN : opts.token;
      const headers: Record<string, string> = { ...(opts.headers ?? {}) };
      if (token) headers.authorization = `Bearer ${token}`;
      let payload: string | undefined = opts.raw;
      if (body !== undefined && payload === undefined) payload = JSON.stringify(body);
      if (payload !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
      const res = await fetch(`${url}${path}`, { method, headers, ...(payload !== undefined ? { body: payload } : {}) });
      const text = await res.text();
      let parsed: unknown = undefined;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        parsed = undefined;
      }
      return { status: res.status, body: parsed, text, headers: res.headers };
    },
    async close() {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
