// `tapwire migrate` and `tapwire serve` against each backend: migrations apply once and are
// reported, and a database migrated by a newer Tapwire is refused with a clear message.
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { backends, dropSchema, freshSchemaUrl, withClient, type Backend } from './helpers/postgres.js';
import { assertCliBuilt, killAllProcesses, runCli, startServe } from './helpers/tapwire-process.js';

const cleanups: (() => Promise<void>)[] = [];
beforeAll(() => assertCliBuilt());
afterEach(async () => {
  await killAllProcesses();
  while (cleanups.length > 0) await cleanups.pop()!();
});

/** A fresh database of this backend, removed after the test; returns its URL. */
function freshDatabase(backend: Backend): string {
  if (backend === 'postgres') {
    const url = freshSchemaUrl('cli');
    cleanups.push(() => dropSchema(url));
    return url;
  }
  const dir = mkdtempSync(join(tmpdir(), 'tapwire-cli-'));
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'tapwire.db');
}

/** Record a migration this version of Tapwire does not have, as a newer release would. */
async function pretendNewerRelease(backend: Backend, url: string): Promise<void> {
  const sql = "INSERT INTO schema_migrations (version, applied_at) VALUES (9999, '2030-01-01T00:00:00Z')";
  if (backend === 'postgres') {
    await withClient(url, (client) => client.query(sql));
    return;
  }
  const db = new Database(url);
  db.prepare(sql).run();
  db.close();
}

describe.each(await backends())('%s', (backend) => {
  it('seals secrets without TAPWIRE_ENCRYPTION_KEY only where a key can be kept: a key file beside SQLite, a refusal (exit 2) on PostgreSQL', async () => {
    const url = freshDatabase(backend);
    const cwd = tmpdir();
    const unset = await runCli(['migrate', '--database-url', url], { cwd, env: { TAPWIRE_ENCRYPTION_KEY: '' } });
    if (backend === 'postgres') {
      expect(unset.code).toBe(2);
      expect(unset.stderr).toMatch(/TAPWIRE_ENCRYPTION_KEY is required with PostgreSQL.*tapwire key generate/);
      const served = await runCli(['serve', '--port', '0'], { cwd, env: { TAPWIRE_ENCRYPTION_KEY: '', TAPWIRE_DATABASE_URL: url } });
      expect(served.code).toBe(2);
      // On purpose, in clear.
      expect((await runCli(['migrate', '--database-url', url], { cwd, env: { TAPWIRE_ENCRYPTION_KEY: 'none' } })).code).toBe(0);
    } else {
      expect(unset.code).toBe(0);
      const keyFile = join(dirname(url), 'tapwire.key');
      expect(statSync(keyFile).mode & 0o777).toBe(0o600);
      expect(Buffer.from(readFileSync(keyFile, 'utf8').trim(), 'base64')).toHaveLength(32);
    }
  });

  it('tapwire migrate applies the migrations once, then reports the database up to date', async () => {
    const url = freshDatabase(backend);
    const cwd = tmpdir();
    const first = await runCli(['migrate', '--database-url', url], { cwd });
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^Applied migrations 1\b/m);
    const second = await runCli(['migrate', '--database-url', url], { cwd });
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/up to date/);
  });

  it('tapwire serve runs on a migrated database and refuses one migrated by a newer Tapwire', async () => {
    const url = freshDatabase(backend);
    const cwd = tmpdir();
    const env = { TAPWIRE_DATABASE_URL: url, TAPWIRE_ADMIN_TOKEN: 'tw_admin_cli_backend_token' };
    const server = await startServe({ cwd, env });
    expect((await fetch(`${server.url}/api/v1/health`)).status).toBe(200);
    await killAllProcesses();

    await pretendNewerRelease(backend, url);
    const refused = await runCli(['serve', '--port', '0'], { cwd, env });
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/refusing to use the database.*schema version 9999.*upgrade Tapwire/);
    expect(refused.stderr).not.toMatch(/^\s+at /m);
    const migrate = await runCli(['migrate', '--database-url', url], { cwd });
    expect(migrate.code).toBe(3);
  });
});
