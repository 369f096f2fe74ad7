// PostgreSQL for tests: where it is (TAPWIRE_TEST_POSTGRES_URL), whether it answers, and a fresh
// schema per test file or test, so files run in parallel on one database without seeing each other.
import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The store backends a test file loops over. */
export type Backend = 'sqlite' | 'postgres';

/** The key test servers on PostgreSQL seal secrets with (base64 of 32 bytes; not a secret), as PostgreSQL needs one. */
export const TEST_ENCRYPTION_KEY = Buffer.alloc(32, 0x5e).toString('base64');

/** The default of design.md §3. */
const DEFAULT_TEST_POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432/test';

/** The test server: TAPWIRE_TEST_POSTGRES_URL, default `postgres://postgres@127.0.0.1:5432/test`. */
export function postgresUrl(): string {
  return process.env.TAPWIRE_TEST_POSTGRES_URL || DEFAULT_TEST_POSTGRES_URL;
}

let reachable: Promise<boolean> | null = null;

/** Whether the test server answers a `SELECT 1` within 3 s; asked once per test process. */
export function isPostgresReachable(): Promise<boolean> {
  reachable ??= (async () => {
    const client = new pg.Client({ connectionString: postgresUrl(), connectionTimeoutMillis: 3_000 });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.query('SELECT 1');
      return true;
    } catch {
      return false;
    } finally {
      await client.end().catch(() => undefined);
    }
  })();
  return reachable;
}

let warned = false;

/**
 * The backends to run: `['sqlite', 'postgres']`, or only `['sqlite']` when PostgreSQL is
 * unreachable outside CI (with one loud warning per process). Under `CI=true` an unreachable
 * PostgreSQL throws, so the suite fails instead of quietly testing less (design.md §9).
 */
export async function backends(): Promise<Backend[]> {
  if (await isPostgresReachable()) return ['sqlite', 'postgres'];
  const where = redact(postgresUrl());
  if (process.env.CI === 'true') {
    throw new Error(`PostgreSQL unreachable at ${where} and CI=true: start it (see .ci/run) or set TAPWIRE_TEST_POSTGRES_URL`);
  }
  if (!warned) {
    warned = true;
    console.warn(
      `\n${'!'.repeat(78)}\n!! PostgreSQL unreachable at ${where}: skipping PostgreSQL tests.\n` +
        `!! Start it or set TAPWIRE_TEST_POSTGRES_URL; under CI=true this fails.\n${'!'.repeat(78)}\n`,
    );
  }
  return ['sqlite'];
}

/**
 * The test server's URL with `?schema=` naming a schema nobody else uses (`t_<prefix>_<random>`).
 * The store creates it on `migrate()`; drop it with {@link dropSchema}.
 */
export function freshSchemaUrl(prefix: string): string {
  const clean = prefix.toLowerCase().replace(/[^a-z0-9_]+/g, '_').slice(0, 40);
  const schema = `t_${clean}_${randomBytes(6).toString('hex')}`;
  const url = new URL(postgresUrl());
  url.searchParams.set('schema', schema);
  return url.toString();
}

/** The `schema` parameter of a URL from {@link freshSchemaUrl}. */
export function schemaOf(url: string): string {
  const schema = new URL(url).searchParams.get('schema');
  if (!schema || !/^[a-z_][a-z0-9_]*$/.test(schema)) throw new Error(`No usable schema parameter in ${redact(url)}`);
  return schema;
}

/** Drop the schema a {@link freshSchemaUrl} URL names, with everything in it. */
export async function dropSchema(url: string): Promise<void> {
  await withClient(url, (client) => client.query(`DROP SCHEMA IF EXISTS "${schemaOf(url)}" CASCADE`));
}

/** Run `work` on a plain connection to the test server (outside any store), inside the URL's schema when it has one. */
export async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const parsed = new URL(url);
  const schema = parsed.searchParams.get('schema');
  parsed.searchParams.delete('schema');
  const client = new pg.Client({
    connectionString: parsed.toString(),
    connectionTimeoutMillis: 5_000,
    ...(schema ? { options: `-c search_path=${schema}` } : {}),
  });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

function redact(url: string): string {
  return url.replace(/(\/\/[^/:@]*:)[^@/]*@/, '$1***@');
}
