// "Nothing stored" measured from outside the server: the number of rows in every table of a test
// server's database (its SQLite file or its PostgreSQL schema). Two snapshots that are equal mean a
// request left no row behind, whatever table the implementation would have used.
import Database from 'better-sqlite3';
import { schemaOf, withClient } from './postgres.js';

export type RowCounts = Record<string, number>;

/** Rows per table of the database at `databaseUrl` (a SQLite path or `sqlite:PATH`, or a PostgreSQL URL with `?schema=`). */
export async function countRows(databaseUrl: string): Promise<RowCounts> {
  if (/^postgres(ql)?:\/\//.test(databaseUrl)) {
    const schema = schemaOf(databaseUrl);
    return withClient(databaseUrl, async (client) => {
      const tables = await client.query<{ table_name: string }>(
        `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE' ORDER BY table_name`,
        [schema],
      );
      const counts: RowCounts = {};
      for (const { table_name } of tables.rows) {
        const res = await client.query<{ n: string }>(`SELECT count(*) AS n FROM "${schema}"."${table_name}"`);
        counts[table_name] = Number(res.rows[0]!.n);
      }
      return counts;
    });
  }
  const db = new Database(databaseUrl.replace(/^sqlite:/, ''), { readonly: true, fileMustExist: true });
  try {
    const tables = db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`).all() as Array<{ name: string }>;
    const counts: RowCounts = {};
    for (const { name } of tables) counts[name] = (db.prepare(`SELECT count(*) AS n FROM "${name}"`).get() as { n: number }).n;
    return counts;
  } finally {
    db.close();
  }
}

/**
 * Poll until two reads a little apart agree, for a server that may still be writing the outcome of
 * work the test already saw (an attempt recorded just after the receiver answered).
 */
export async function settledRowCounts(databaseUrl: string, timeoutMs = 10_000): Promise<RowCounts> {
  const deadline = Date.now() + timeoutMs;
  let last = JSON.stringify(await countRows(databaseUrl));
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 150));
    const now = await countRows(databaseUrl);
    if (JSON.stringify(now) === last) return now;
    if (Date.now() > deadline) throw new Error(`row counts still changing after ${timeoutMs} ms: ${JSON.stringify(now)}`);
    last = JSON.stringify(now);
  }
}
