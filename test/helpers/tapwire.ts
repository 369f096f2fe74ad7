// Starts a real Tapwire server for a test: a fresh SQLite file (or a fresh PostgreSQL schema), a
// known admin token, loopback allowed and a shrunk retry schedule, listening on a free port of
// 127.0.0.1.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import { afterAll, beforeAll } from 'vitest';
import { loadConfig, type TapwireConfig } from '../../src/config/config.js';
import type { BackgroundTaskRunnerOptions } from '../../src/services/background-tasks.js';
import type { Clock } from '../../src/services/context.js';
import { TapwireServer, type TapwireServerOptions } from '../../src/tapwire-server.js';
import { dropSchema, freshSchemaUrl, TEST_ENCRYPTION_KEY, type Backend } from './postgres.js';

export const ADMIN_TOKEN = 'tw_admin_test_token_0123456789';


export interface TestTapwire {
  server: TapwireServer;
  url: string;
  config: TapwireConfig;
  backend: Backend;
  /** A temporary directory of this server's own (the SQLite file lives here). */
  dir: string;
  /** fetch against the API with the admin token (or `token`). */
  api(method: string, path: string, body?: unknown, options?: { token?: string | null; headers?: Record<string, string>; raw?: string }): Promise<{ status: number; body: any; text: string; headers: Headers }>;
  /** Stop the server and remove its data (the temporary directory, the PostgreSQL schema). Safe to call twice. */
  close(): Promise<void>;
}

export interface StartTapwireOptions {
  /**
   * The store: 'sqlite' (a file in a fresh temporary directory) or 'postgres' (a fresh schema on
   * TAPWIRE_TEST_POSTGRES_URL, dropped by close()). Default: the backend set by {@link useBackend}
   * for the enclosing describe block, else 'sqlite'. TAPWIRE_DATABASE_URL in `env` overrides both.
   */
  backend?: Backend;
  /** Random source for retry jitter (e.g. `() => 0.5` for exact delays). */
  random?: () => number;
  /** Logger for the server (default: silent, or TAPWIRE_TEST_LOG's level). */
  logger?: Logger;
  /** Longest worker sleep when idle (default 50 ms). */
  workerMaxIdleMs?: number;
  /** Injected time for the whole server (API, worker, maintenance). */
  clock?: Clock;
  /** Background task batch size, lease and batch hook (replay-missing). */
  backgroundTasks?: BackgroundTaskRunnerOptions;
  /** The resolver behind the worker's SSRF guard (a DNS stub: tests never use real DNS for hostile names). */
  lookup?: TapwireServerOptions['lookup'];
  /** Counts attempts the SSRF guard refused. */
  onBlocked?: TapwireServerOptions['onBlocked'];
}

let currentBackend: Backend = 'sqlite';

/**
 * Call at the top of a describe block (e.g. `describe.each(await backends())('%s', (backend) => …)`):
 * every startTapwire in its hooks and tests, the delivery fixtures' included, then uses `backend`.
 */
export function useBackend(backend: Backend): void {
  beforeAll(() => {
    currentBackend = backend;
  });
  afterAll(() => {
    currentBackend = 'sqlite';
  });
}

export async function startTapwire(env: Record<string, string> = {}, options: StartTapwireOptions = {}): Promise<TestTapwire> {
  const backend = options.backend ?? currentBackend;
  const dir = mkdtempSync(join(tmpdir(), 'tapwire-test-'));
  // A schema of its own per server, so servers and test files never see each other's rows.
  const schemaUrl = backend === 'postgres' && env.TAPWIRE_DATABASE_URL === undefined ? freshSchemaUrl('e2e') : null;
  const removeData = async (): Promise<void> => {
    rmSync(dir, { recursive: true, force: true });
    if (schemaUrl) await dropSchema(schemaUrl);
  };
  const config = loadConfig({
    env: {
      TAPWIRE_DATABASE_URL: schemaUrl ?? join(dir, 'tapwire.db'),
      TAPWIRE_PORT: '0',
      TAPWIRE_ADMIN_TOKEN: ADMIN_TOKEN,
      TAPWIRE_ALLOWED_NETWORKS: '127.0.0.0/8',
      TAPWIRE_HTTPS_ONLY: 'false',
      TAPWIRE_RETRY_SCHEDULE: '20ms,40ms',
      TAPWIRE_REQUEST_TIMEOUT: '2s',
      // In-process servers keep SQLite on the test's own thread, so a test run from the sources
      // tests the sources; the threaded store has its own tests and every spawned server uses it.
      TAPWIRE_SQLITE_THREAD: 'false',
      // PostgreSQL needs a key chosen by the operator; SQLite makes its own key file beside the database.
      ...(backend === 'postgres' ? { TAPWIRE_ENCRYPTION_KEY: TEST_ENCRYPTION_KEY } : {}),
      ...env,
    },
  });
  let server: TapwireServer | undefined;
  let url: string;
  try {
    server = await TapwireServer.create({
      config,
      logger: options.logger ?? pino({ level: process.env.TAPWIRE_TEST_LOG ?? 'silent' }),
      workerMaxIdleMs: options.workerMaxIdleMs ?? 50,
      ...(options.random ? { random: options.random } : {}),
      ...(options.clock ? { clock: options.clock } : {}),
      ...(options.backgroundTasks ? { backgroundTasks: options.backgroundTasks } : {}),
      ...(options.lookup ? { lookup: options.lookup } : {}),
      ...(options.onBlocked ? { onBlocked: options.onBlocked } : {}),
    });
    url = (await server.start())!;
  } catch (error) {
    await server?.close().catch(() => undefined);
    await removeData().catch(() => undefined);
    throw error;
  }
  let closing: Promise<void> | null = null;
  return {
    server,
    url,
    config,
    backend,
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
    close() {
      closing ??= (async () => {
        await server.close();
        await removeData();
      })();
      return closing;
    },
  };
}
