// The `tapwire` binary as users run it: real processes of dist/cli/main.js in a temp working
// directory with no TAPWIRE_* variables inherited. Exit statuses: 0 ok, 1 failed (e.g. unknown
// application), 2 usage (bad flag, bad env value, no command), 3 unavailable (database, listen).
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { assertCliBuilt, callApi, killAllProcesses, runCli, startServe } from './helpers/tapwire-process.js';
import { eventually } from './helpers/delivery.js';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
const ADMIN_TOKEN = 'tw_admin_cli_test_0123456789';
const ADMIN_TOKEN_PATTERN = /tw_admin_[A-Za-z0-9_-]+/g;

let dir: string;
const dirs: string[] = [];

beforeAll(() => assertCliBuilt());

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tapwire-cli-'));
  dirs.push(dir);
});

afterEach(async () => {
  await killAllProcesses();
});

afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('tapwire usage', () => {
  it('prints the package version for --version and -v, exit 0', async () => {
    for (const flag of ['--version', '-v']) {
      const run = await runCli([flag], { cwd: dir });
      expect(run.code).toBe(0);
      expect(run.stdout.trim()).toBe(pkg.version);
      expect(run.stderr).toBe('');
    }
  });

  it('lists serve, migrate and token for --help, exit 0', async () => {
    const run = await runCli(['--help'], { cwd: dir });
    expect(run.code).toBe(0);
    for (const command of ['serve', 'migrate', 'token']) expect(run.stdout).toMatch(new RegExp(`^\\s+${command}\\b`, 'm'));
    expect(run.stderr).toBe('');
  });

  it('documents the env variables in serve --help', async () => {
    const run = await runCli(['serve', '--help'], { cwd: dir });
    expect(run.code).toBe(0);
    for (const text of ['--port', '--host', '--role', '--database-url', 'TAPWIRE_PORT', 'TAPWIRE_DATABASE_URL']) expect(run.stdout).toContain(text);
    // Every variable is listed, the security ones included.
    for (const text of ['TAPWIRE_ADMIN_TOKEN', 'TAPWIRE_APP_TOKEN_TTL', 'TAPWIRE_METRICS_TOKEN', 'TAPWIRE_MAX_ENDPOINTS_PER_APP', 'TAPWIRE_API_REQUEST_TIMEOUT']) {
      expect(run.stdout).toContain(text);
    }
  });

  it('prints help on stderr and exits 2 when no command is given', async () => {
    const run = await runCli([], { cwd: dir });
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain('Usage: tapwire');
    expect(run.stderr).toContain('serve');
  });

  it.each([
    [['bogus'], /unknown command 'bogus'/],
    [['serve', '--bogus'], /unknown option '--bogus'/],
    [['serve', '--port', 'abc'], /--port.*'abc'.*port number/],
    [['serve', '--port', '70000'], /--port.*port number/],
    [['serve', '--role', 'bogus'], /--role.*'bogus'.*api, worker, all/],
    [['token', 'create'], /required option '-a, --app <id>'/],
  ])('rejects %j with exit 2 and says why on stderr', async (args, message) => {
    const run = await runCli(args, { cwd: dir });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
    expect(run.stdout).toBe('');
    expect(existsSync(join(dir, 'data'))).toBe(false);
  });

  it('exits 2 naming the variable for a bad TAPWIRE_PORT, before touching the database', async () => {
    const run = await runCli(['serve'], { cwd: dir, env: { TAPWIRE_PORT: 'eighty' } });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^tapwire: TAPWIRE_PORT: .*'eighty'/m);
    expect(existsSync(join(dir, 'data'))).toBe(false);
  });

  it('exits 2 naming the variable for other bad env values', async () => {
    const cases: Array<[string, string]> = [
      ['TAPWIRE_HTTPS_ONLY', 'maybe'],
      ['TAPWIRE_RETRY_SCHEDULE', '5s,,5m'],
      ['TAPWIRE_ALLOWED_NETWORKS', '10.0.0.0/33'],
      ['TAPWIRE_ADMIN_TOKEN', 'tw_admin_with.dot.inside'],
      // Shorter than 24 characters.
      ['TAPWIRE_ADMIN_TOKEN', 'tw_admin_0123456789abc'],
      ['TAPWIRE_SIGNATURE_HEADERS', 'stripe'],
      ['TAPWIRE_ENCRYPTION_KEY', 'not-a-key'],
    ];
    for (const [variable, value] of cases) {
      const run = await runCli(['serve'], { cwd: dir, env: { [variable]: value } });
      expect({ variable, code: run.code }).toEqual({ variable, code: 2 });
      expect(run.stderr).toMatch(new RegExp(`^tapwire: ${variable}: `, 'm'));
    }
  });

  it('exits 2 naming a TAPWIRE_ALLOWED_NETWORKS entry that is not a canonical, aligned range', async () => {
    for (const entry of ['010.0.0.0/8', '10.0.0.1/8']) {
      const run = await runCli(['serve'], { cwd: dir, env: { TAPWIRE_ALLOWED_NETWORKS: `127.0.0.0/8,${entry}` } });
      expect({ entry, code: run.code }).toEqual({ entry, code: 2 });
      expect(run.stderr).toContain(`tapwire: TAPWIRE_ALLOWED_NETWORKS: '${entry}' `);
    }
    expect(existsSync(join(dir, 'data'))).toBe(false);
  });
});

describe('tapwire migrate', () => {
  it('applies the migrations to ./data/tapwire.db, then reports it up to date', async () => {
    const first = await runCli(['migrate'], { cwd: dir });
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/Applied migrations \d+/);
    expect(existsSync(join(dir, 'data', 'tapwire.db'))).toBe(true);
    const second = await runCli(['migrate'], { cwd: dir });
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/up to date/);
    expect(second.stdout).not.toMatch(/Applied/);
  });

  it('takes the database from TAPWIRE_DATABASE_URL or --database-url (flag wins)', async () => {
    const fromEnv = await runCli(['migrate'], { cwd: dir, env: { TAPWIRE_DATABASE_URL: `sqlite:${join(dir, 'env.db')}` } });
    expect(fromEnv.code).toBe(0);
    expect(existsSync(join(dir, 'env.db'))).toBe(true);
    const fromFlag = await runCli(['migrate', '--database-url', join(dir, 'flag.db')], { cwd: dir, env: { TAPWIRE_DATABASE_URL: join(dir, 'env.db') } });
    expect(fromFlag.code).toBe(0);
    expect(fromFlag.stdout).toMatch(/Applied migrations/);
    expect(existsSync(join(dir, 'flag.db'))).toBe(true);
  });

  it('exits 3 with a clear message when the database directory cannot be created', async () => {
    writeFileSync(join(dir, 'a-file'), 'not a directory');
    for (const path of [join(dir, 'a-file', 'sub', 'x.db'), '/proc/tapwire-forbidden/x.db']) {
      const run = await runCli(['migrate', '--database-url', path], { cwd: dir, timeoutMs: 10_000 });
      expect({ path, code: run.code }).toEqual({ path, code: 3 });
      expect(run.stderr).toMatch(/^tapwire: cannot open the database/m);
      expect(run.stderr).toContain(path);
      expect(run.stderr).not.toMatch(/^\s+at /m);
    }
  });

  it('exits 3 for a PostgreSQL server it cannot reach, with a clear message, without printing the password', async () => {
    const run = await runCli(['migrate'], { cwd: dir, env: { TAPWIRE_DATABASE_URL: 'postgres://tapwire:s3cret-pw@127.0.0.1:1/tapwire' }, timeoutMs: 15_000 });
    expect(run.code).toBe(3);
    expect(run.stderr).toMatch(/postgres/i);
    expect(run.stderr).not.toContain('s3cret-pw');
    expect(run.stderr).not.toMatch(/^\s+at /m);
  });
});

describe('tapwire serve', () => {
  it('creates ./data/tapwire.db, prints a generated admin token once, and keeps it across restarts', async () => {
    const first = await startServe({ cwd: dir });
    expect(existsSync(join(dir, 'data', 'tapwire.db'))).toBe(true);
    expect(first.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const tokens = first.stderr.match(ADMIN_TOKEN_PATTERN) ?? [];
    expect(tokens).toHaveLength(1);
    const token = tokens[0]!;
    expect(token).not.toContain('.');
    expect(first.stdout).not.toContain(token);

    expect((await callApi(first.url, 'GET', '/api/v1/health/ping')).status).toBe(204);
    expect((await callApi(first.url, 'GET', '/api/v1/app', { token })).status).toBe(200);
    expect((await callApi(first.url, 'GET', '/api/v1/app')).status).toBe(401);
    expect((await callApi(first.url, 'GET', '/api/v1/app', { token: `${token}x` })).status).toBe(401);
    expect(await first.stop()).toEqual({ code: 0, signal: null });

    const second = await startServe({ cwd: dir });
    expect(second.stderr).not.toMatch(ADMIN_TOKEN_PATTERN);
    expect((await callApi(second.url, 'GET', '/api/v1/app', { token })).status).toBe(200);
    expect(await second.stop()).toEqual({ code: 0, signal: null });
  });

  it('prints no token when TAPWIRE_ADMIN_TOKEN is set, and accepts that token', async () => {
    const server = await startServe({ cwd: dir, env: { TAPWIRE_ADMIN_TOKEN: ADMIN_TOKEN } });
    expect(server.stderr).not.toMatch(ADMIN_TOKEN_PATTERN);
    expect((await callApi(server.url, 'GET', '/api/v1/app', { token: ADMIN_TOKEN })).status).toBe(200);
    expect((await callApi(server.url, 'GET', '/api/v1/app', { token: 'tw_admin_someone_else_0123' })).status).toBe(401);
    expect(await server.stop()).toEqual({ code: 0, signal: null });
  });

  it('links the app portal to the port it really listens on when started with --port 0', async () => {
    const server = await startServe({ cwd: dir, env: { TAPWIRE_ADMIN_TOKEN: ADMIN_TOKEN } });
    const app = await callApi(server.url, 'POST', '/api/v1/app', { token: ADMIN_TOKEN, body: { name: 'Portal' } });
    const access = await callApi(server.url, 'POST', `/api/v1/auth/app-portal-access/${app.body.id}`, { token: ADMIN_TOKEN, body: {} });
    expect(access.status).toBe(200);
    expect(access.body.url.startsWith(`${server.url}/`)).toBe(true);
  });

  it('exits 0 on SIGTERM and logs the shutdown', async () => {
    const server = await startServe({ cwd: dir, env: { TAPWIRE_ADMIN_TOKEN: ADMIN_TOKEN } });
    expect(await server.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    const messages = server.logs.map((line) => line.msg);
    expect(messages).toContain('shutting down; finishing in-flight attempts');
    expect(messages[messages.length - 1]).toBe('stopped');
    expect(server.logs.find((line) => line.msg === 'shutting down; finishing in-flight attempts')).toMatchObject({ signal: 'SIGTERM' });
  });

  it('runs only the worker with --role worker, and only the API with --role api', async () => {
    const env = { TAPWIRE_ADMIN_TOKEN: ADMIN_TOKEN, TAPWIRE_DATABASE_URL: join(dir, 'roles.db') };
    const worker = await startServe({ cwd: dir, env, args: ['--role', 'worker'], ready: (line) => line.msg === 'tapwire worker running' });
    expect(worker.logs.some((line) => line.msg === 'tapwire listening')).toBe(false);
    expect(await worker.stop()).toEqual({ code: 0, signal: null });
    const api = await startServe({ cwd: dir, env, args: ['--role', 'api'] });
    expect(api.logs.find((line) => line.msg === 'tapwire listening')).toMatchObject({ role: 'api' });
    expect((await callApi(api.url, 'GET', '/api/v1/health/ping')).status).toBe(204);
    expect(await api.stop()).toEqual({ code: 0, signal: null });
  });

  it('exits 0 on SIGINT (Ctrl-C) too', async () => {
    const server = await startServe({ cwd: dir, env: { TAPWIRE_ADMIN_TOKEN: ADMIN_TOKEN } });
    expect(await server.stop('SIGINT')).toEqual({ code: 0, signal: null });
    expect(server.logs.map((line) => line.msg)).toContain('stopped');
  });

  it('exits 3 with a clear message when the port is already in use', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    try {
      const port = (blocker.address() as AddressInfo).port;
      const run = await runCli(['serve', '--port', String(port)], { cwd: dir, env: { TAPWIRE_ADMIN_TOKEN: ADMIN_TOKEN } });
      expect(run.code).toBe(3);
      expect(run.stderr).toMatch(new RegExp(`^tapwire: cannot listen on 127\\.0\\.0\\.1:${port}: the address is already in use`, 'm'));
      expect(run.stderr).not.toMatch(/^\s+at /m);
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });

  it('exits 3 when it cannot open the database', async () => {
    writeFileSync(join(dir, 'data'), 'a file where the data directory should be');
    const run = await runCli(['serve', '--port', '0'], { cwd: dir });
    expect(run.code).toBe(3);
    expect(run.stderr).toMatch(/^tapwire: cannot open the database/m);
  });
});

describe('tapwire token create', () => {
  it('prints an app-scoped token that works for that application only', async () => {
    const dbPath = join(dir, 'tokens.db');
    const env = { TAPWIRE_ADMIN_TOKEN: ADMIN_TOKEN, TAPWIRE_DATABASE_URL: dbPath };
    const server = await startServe({ cwd: dir, env });
    const mine = await callApi(server.url, 'POST', '/api/v1/app', { token: ADMIN_TOKEN, body: { name: 'Mine', uid: 'cli-mine' } });
    const other = await callApi(server.url, 'POST', '/api/v1/app', { token: ADMIN_TOKEN, body: { name: 'Other', uid: 'cli-other' } });
    expect([mine.status, other.status]).toEqual([201, 201]);

    // Minted by a second process on the same database while the server runs.
    const run = await runCli(['token', 'create', '--app', 'cli-mine'], { cwd: dir, env });
    expect(run.code).toBe(0);
    const token = run.stdout.trim();
    expect(token).toMatch(/^tw_app_[A-Za-z0-9_-]+$/);
    expect(run.stdout.split('\n').filter(Boolean)).toHaveLength(1);
    expect(run.stderr).toContain(mine.body.id);

    expect((await callApi(server.url, 'GET', '/api/v1/app/cli-mine/endpoint', { token })).status).toBe(200);
    expect((await callApi(server.url, 'GET', `/api/v1/app/${mine.body.id}/msg`, { token })).status).toBe(200);
    expect((await callApi(server.url, 'GET', '/api/v1/app/cli-other/endpoint', { token })).status).toBe(404);
    expect((await callApi(server.url, 'GET', `/api/v1/app/${other.body.id}`, { token })).status).toBe(404);

    // The id works as well as the uid, and each call mints a new token.
    const byId = await runCli(['token', 'create', '--app', mine.body.id, '--ttl', '1h'], { cwd: dir, env });
    expect(byId.code).toBe(0);
    expect(byId.stdout.trim()).toMatch(/^tw_app_/);
    expect(byId.stdout.trim()).not.toBe(token);
    expect((await callApi(server.url, 'GET', '/api/v1/app/cli-mine/endpoint', { token: byId.stdout.trim() })).status).toBe(200);
    expect(await server.stop()).toEqual({ code: 0, signal: null });
  });

  it('exits 1 with a clear message for an unknown application', async () => {
    const run = await runCli(['token', 'create', '--app', 'nope'], { cwd: dir });
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/^tapwire: no application 'nope'/m);
  });

  it('exits 2 for a bad --ttl', async () => {
    const run = await runCli(['token', 'create', '--app', 'x', '--ttl', 'forever'], { cwd: dir });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^tapwire: --ttl: /m);
  });
});

describe('tapwire token list, revoke and rotate-admin', () => {
  it('lists tokens by id (never the token), revokes one, and refuses list without --app or --admin', async () => {
    const dbPath = join(dir, 'revoke.db');
    const env = { TAPWIRE_ADMIN_TOKEN: ADMIN_TOKEN, TAPWIRE_DATABASE_URL: dbPath };
    const server = await startServe({ cwd: dir, env });
    expect((await callApi(server.url, 'POST', '/api/v1/app', { token: ADMIN_TOKEN, body: { name: 'Listed', uid: 'cli-listed' } })).status).toBe(201);
    const created = await runCli(['token', 'create', '--app', 'cli-listed', '--read-only', '--session-id', 'sess-7'], { cwd: dir, env });
    expect(created.code).toBe(0);
    const token = created.stdout.trim();
    expect((await callApi(server.url, 'GET', '/api/v1/app/cli-listed/endpoint', { token })).status).toBe(200);
    expect((await callApi(server.url, 'POST', '/api/v1/app/cli-listed/endpoint', { token, body: { url: 'https://receiver.example/x' } })).status).toBe(403);

    const listed = await runCli(['token', 'list', '--app', 'cli-listed'], { cwd: dir, env });
    expect(listed.code).toBe(0);
    expect(listed.stdout).not.toContain(token);
    const row = listed.stdout.split('\n').find((line) => line.startsWith('tok_'))!;
    expect(row).toMatch(/sess-7\s+ViewBase$/);
    const id = row.split(/\s+/)[0]!;

    const revoked = await runCli(['token', 'revoke', id], { cwd: dir, env });
    expect(revoked.code).toBe(0);
    // The server may remember the token for TAPWIRE_LOOKUP_CACHE_TTL (1 s by default).
    await eventually(async () => (await callApi(server.url, 'GET', '/api/v1/app/cli-listed/endpoint', { token })).status, (status) => status === 401, {
      timeoutMs: 5_000,
      what: 'the revoked token refused',
    });
    expect((await runCli(['token', 'revoke', id], { cwd: dir, env })).code).toBe(1);
    expect((await runCli(['token', 'list'], { cwd: dir, env })).code).toBe(2);
    expect(await server.stop()).toEqual({ code: 0, signal: null });
  });

  it('rotate-admin replaces the stored admin token: the old one stops working, the new one works', async () => {
    const env = { TAPWIRE_DATABASE_URL: join(dir, 'rotate.db') };
    const first = await runCli(['token', 'rotate-admin'], { cwd: dir, env });
    expect(first.code).toBe(0);
    const oldToken = first.stdout.trim();
    expect(oldToken).toMatch(/^tw_admin_/);
    const server = await startServe({ cwd: dir, env });
    expect((await callApi(server.url, 'GET', '/api/v1/app', { token: oldToken })).status).toBe(200);
    expect((await runCli(['token', 'list', '--admin'], { cwd: dir, env })).stdout).toMatch(/^tok_\S+.*admin$/m);

    const second = await runCli(['token', 'rotate-admin'], { cwd: dir, env });
    expect(second.code).toBe(0);
    const newToken = second.stdout.trim();
    expect(newToken).not.toBe(oldToken);
    await eventually(async () => (await callApi(server.url, 'GET', '/api/v1/app', { token: oldToken })).status, (status) => status === 401, {
      timeoutMs: 5_000,
      what: 'the old admin token refused',
    });
    expect((await callApi(server.url, 'GET', '/api/v1/app', { token: newToken })).status).toBe(200);
    expect(await server.stop()).toEqual({ code: 0, signal: null });

    // With TAPWIRE_ADMIN_TOKEN set there is nothing to rotate.
    const refused = await runCli(['token', 'rotate-admin'], { cwd: dir, env: { ...env, TAPWIRE_ADMIN_TOKEN: ADMIN_TOKEN } });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/TAPWIRE_ADMIN_TOKEN is set/);
  });
});

describe('tapwire key generate and rotate', () => {
  it('generates keys; serve seals with a key file beside SQLite by default; rotate reseals under a new first key', async () => {
    const generated = await runCli(['key', 'generate'], { cwd: dir });
    expect(generated.code).toBe(0);
    const key = generated.stdout.trim();
    expect(Buffer.from(key, 'base64')).toHaveLength(32);
    expect((await runCli(['key', 'generate'], { cwd: dir })).stdout.trim()).not.toBe(key);

    const dbPath = join(dir, 'sealed', 'tapwire.db');
    const env = { TAPWIRE_ADMIN_TOKEN: ADMIN_TOKEN, TAPWIRE_DATABASE_URL: dbPath, TAPWIRE_ENCRYPTION_KEY: '' };
    const server = await startServe({ cwd: dir, env });
    const app = await callApi(server.url, 'POST', '/api/v1/app', { token: ADMIN_TOKEN, body: { name: 'Sealed' } });
    const endpoint = await callApi(server.url, 'POST', `/api/v1/app/${app.body.id}/endpoint`, { token: ADMIN_TOKEN, body: { url: 'https://receiver.example/x', secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' } });
    expect(endpoint.status).toBe(201);
    expect(await server.stop()).toEqual({ code: 0, signal: null });
    const storedSecret = (): string => {
      const db = new Database(dbPath, { readonly: true });
      try {
        return (db.prepare('SELECT secret FROM endpoints').get() as { secret: string }).secret;
      } finally {
        db.close();
      }
    };
    const keyFile = join(dir, 'sealed', 'tapwire.key');
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    const fileKey = readFileSync(keyFile, 'utf8').trim();
    const before = storedSecret();
    expect(before).toMatch(/^tw1:/);

    const refused = await runCli(['key', 'rotate'], { cwd: dir, env: { ...env, TAPWIRE_ENCRYPTION_KEY: 'none' } });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/TAPWIRE_ENCRYPTION_KEY=none/);
    const rotated = await runCli(['key', 'rotate'], { cwd: dir, env: { ...env, TAPWIRE_ENCRYPTION_KEY: `${key},${fileKey}` } });
    expect(rotated.code).toBe(0);
    expect(rotated.stderr).toMatch(/Sealed 1 endpoint/);
    const after = storedSecret();
    expect(after).toMatch(/^tw1:/);
    expect(after.split(':')[1]).not.toBe(before.split(':')[1]);
  });
});
