// Tapwire as the benchmark runs it: the built CLI (dist/cli/main.js `serve`) in its own process on
// a fresh database, reached over HTTP like any client would. One fresh SQLite file or PostgreSQL
// schema per scenario, dropped afterwards.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { Pool } from 'undici';
import { peakRssMb } from './cpu.js';

export type Backend = 'sqlite' | 'postgres';
export type Role = 'api' | 'worker' | 'all';

/** The built CLI; `npm run bench` builds it first. */
export const CLI_PATH = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
/** The admin token every bench server is started with. */
export const ADMIN_TOKEN = 'tw_admin_bench_token_not_secret_0001';
/** Seals endpoint secrets in benchmark databases on PostgreSQL (base64 of 32 bytes; not a secret). */
const BENCH_ENCRYPTION_KEY = Buffer.alloc(32, 0xbe).toString('base64');

/** A fresh, empty database of one backend. */
export interface Database {
  backend: Backend;
  /** What TAPWIRE_DATABASE_URL is set to. */
  url: string;
  drop(): Promise<void>;
}

/**
 * A new SQLite file in a temporary directory, or a new schema `bench_<random>` in the PostgreSQL
 * database at `postgresUrl` (Tapwire creates it on start, through the URL's `schema` parameter).
 */
export function freshDatabase(backend: Backend, postgresUrl: string): Database {
  if (backend === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'tapwire-bench-'));
    return { backend, url: join(dir, 'tapwire.db'), drop: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  const schema = `bench_${randomBytes(6).toString('hex')}`;
  const url = new URL(postgresUrl);
  url.searchParams.set('schema', schema);
  return {
    backend,
    url: url.toString(),
    drop: () => withPostgres(postgresUrl, async (client) => void (await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`))),
  };
}

/** Run `work` on one connection to `url` (a `schema` parameter sets the search_path). */
export async function withPostgres<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const parsed = new URL(url);
  const schema = parsed.searchParams.get('schema');
  parsed.searchParams.delete('schema');
  const client = new pg.Client({ connectionString: parsed.toString(), connectionTimeoutMillis: 5_000, ...(schema ? { options: `-c search_path=${schema}` } : {}) });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The server's version string, or null when it does not answer. */
export async function postgresVersion(url: string): Promise<string | null> {
  try {
    return await withPostgres(url, async (client) => (await client.query<{ server_version: string }>('SHOW server_version')).rows[0]!.server_version);
  } catch {
    return null;
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface TapwireStartOptions {
  database: Database;
  role: Role;
  /** pino level (TAPWIRE_LOG_LEVEL). */
  logLevel: string;
  /** Append the process's log here; null = discard (it is still formatted: the CPU cost stays). */
  logFile: string | null;
  /** More TAPWIRE_* settings (worker concurrency, request timeout…). */
  env?: Record<string, string>;
  /** Flags for node itself, e.g. `--cpu-prof`. */
  nodeArgs?: string[];
}

/** One `tapwire serve` process. */
export class TapwireProcess {
  private stderr = '';
  /** Rejects if the process exits before stop(); race waits against it. */
  readonly failed: Promise<never>;
  private stopping = false;

  private constructor(
    readonly child: ChildProcess,
    readonly role: Role,
    /** Base URL of its API; null for a worker-only process. */
    readonly url: string | null,
  ) {
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr = (this.stderr + chunk).slice(-8_000);
    });
    this.failed = new Promise<never>((_, reject) => {
      child.once('exit', (code, signal) => {
        if (!this.stopping) reject(new Error(`tapwire serve --role ${role} exited (${code ?? signal}):\n${this.stderr}`));
      });
    });
    this.failed.catch(() => undefined);
  }

  /**
   * Start `tapwire serve`; resolves once its API answers (api, all) or at once (worker). The port is
   * picked free just before, so another program on the machine can take it meanwhile: then the
   * process exits saying the address is in use and it starts again on another port.
   */
  static async start(options: TapwireStartOptions): Promise<TapwireProcess> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await TapwireProcess.startOnce(options);
      } catch (error) {
        if (attempt >= 5 || !(error instanceof Error) || !error.message.includes('already in use')) throw error;
      }
    }
  }

  private static async startOnce(options: TapwireStartOptions): Promise<TapwireProcess> {
    const port = options.role === 'worker' ? 0 : await freePort();
    const env: NodeJS.ProcessEnv = {};
    for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('TAPWIRE_')) env[key] = value;
    Object.assign(env, {
      TAPWIRE_DATABASE_URL: options.database.url,
      TAPWIRE_ADMIN_TOKEN: ADMIN_TOKEN,
      TAPWIRE_ALLOWED_NETWORKS: '127.0.0.0/8',
      TAPWIRE_HTTPS_ONLY: 'false',
      TAPWIRE_LOG_LEVEL: options.logLevel,
      // PostgreSQL refuses to start without a key; a fixed one keeps runs comparable (SQLite makes its own).
      ...(/^postgres/i.test(options.database.url) ? { TAPWIRE_ENCRYPTION_KEY: BENCH_ENCRYPTION_KEY } : {}),
      ...options.env,
    });
    const logFd = options.logFile ? openSync(options.logFile, 'a') : 'ignore';
    const child = spawn(process.execPath, [...(options.nodeArgs ?? []), CLI_PATH, 'serve', '--role', options.role, '--host', '127.0.0.1', '--port', String(port)], {
      env,
      stdio: ['ignore', logFd, 'pipe'],
    });
    if (typeof logFd === 'number') closeSync(logFd);
    const tapwire = new TapwireProcess(child, options.role, options.role === 'worker' ? null : `http://127.0.0.1:${port}`);
    if (tapwire.url) await Promise.race([tapwire.waitUntilAnswering(tapwire.url), tapwire.failed]);
    return tapwire;
  }

  /** Until the API answers an admin request: a health check alone could be another server that took the port. */
  private async waitUntilAnswering(url: string): Promise<void> {
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        const res = await fetch(`${url}/api/v1/app?limit=1`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
        await res.arrayBuffer();
        if (res.ok) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`tapwire at ${url} did not answer within 60 s:\n${this.stderr}`);
      if (this.child.exitCode !== null) return; // `failed` says why
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Peak RSS so far (VmHWM), MB. */
  peakRssMb(): number | null {
    return peakRssMb(this.pid);
  }

  /** SIGTERM (in-flight attempts finish), SIGKILL after `graceMs`. Returns the peak RSS it reached. */
  async stop(graceMs = 5_000): Promise<{ peakRssMb: number | null }> {
    const peak = this.peakRssMb();
    if (this.child.exitCode !== null || this.child.signalCode !== null) return { peakRssMb: peak };
    this.stopping = true;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
    return { peakRssMb: peak };
  }
}

/** A keep-alive client of one Tapwire (or relay) API, authenticated as admin. */
export class ApiClient {
  readonly pool: Pool;
  private readonly headers = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };

  constructor(
    readonly url: string,
    connections: number,
  ) {
    this.pool = new Pool(url, { connections, pipelining: 1, keepAliveTimeout: 60_000 });
  }

  /** One request; throws on an answer outside 2xx. */
  async call<T>(method: 'GET' | 'POST' | 'PATCH', path: string, body?: unknown): Promise<T> {
    const res = await this.pool.request({ method, path, headers: this.headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.body.text();
    if (res.statusCode < 200 || res.statusCode >= 300) throw new Error(`${method} ${path}: ${res.statusCode} ${text.slice(0, 500)}`);
    return (text === '' ? undefined : JSON.parse(text)) as T;
  }

  /** POST a prepared JSON body; resolves with the status and the text answered. */
  async post(path: string, body: string): Promise<{ status: number; text: string }> {
    const res = await this.pool.request({ method: 'POST', path, headers: this.headers, body });
    return { status: res.statusCode, text: await res.body.text() };
  }

  async createApp(name: string): Promise<string> {
    return (await this.call<{ id: string }>('POST', '/api/v1/app', { name })).id;
  }

  /** An endpoint; `concurrencyLimit` null = the server default. */
  async createEndpoint(appId: string, url: string, secret: string, concurrencyLimit: number | null): Promise<string> {
    const body = { url, secret, ...(concurrencyLimit === null ? {} : { concurrencyLimit }) };
    return (await this.call<{ id: string }>('POST', `/api/v1/app/${appId}/endpoint`, body)).id;
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
