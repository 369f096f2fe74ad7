// Turns the inbox's `database` option into an open InboxStore: the only module that knows both
// backends. Each backend module (and its driver) is imported only when opened, so importing the
// receiver loads neither, and an inbox on SQLite never loads `pg`.
import { fileURLToPath } from 'node:url';

import type { InboxStore } from './inbox-store.js';

/** What `database` names, once parsed. */
export type InboxDatabase =
  | { backend: 'sqlite'; path: string }
  | { backend: 'postgres'; url: string; schema: string | undefined };

/** Schema names accepted for PostgreSQL: they are written into SQL and a startup option. */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Reads the `database` option: a `postgres://` / `postgresql://` URL (optional `?schema=`), a
 * `sqlite:` or `file:` prefixed path (`file://` URLs too), or a plain file path.
 * @throws TypeError for another URL scheme, an unusable schema name, or two different schemas.
 */
export function parseInboxDatabase(database: string, schemaOption: string | undefined): InboxDatabase {
  if (typeof database !== 'string' || database.trim() === '') throw new TypeError('database must be a non-empty string');
  if (/^postgres(ql)?:\/\//i.test(database)) {
    let url: URL;
    try {
      url = new URL(database);
    } catch (cause) {
      throw new TypeError('database: the PostgreSQL URL cannot be parsed', { cause });
    }
    const fromUrl = url.searchParams.get('schema') ?? undefined;
    if (fromUrl !== undefined && schemaOption !== undefined && fromUrl !== schemaOption) {
      throw new TypeError(`database names schema '${fromUrl}' but the schema option says '${schemaOption}'`);
    }
    const schema = schemaOption ?? fromUrl;
    if (schema !== undefined && !SCHEMA_NAME.test(schema)) {
      throw new TypeError(`Invalid schema '${schema}': use lowercase letters, digits and '_' (at most 63, not starting with a digit)`);
    }
    url.searchParams.delete('schema');
    return { backend: 'postgres', url: url.toString(), schema };
  }
  if (schemaOption !== undefined) throw new TypeError('The schema option applies to PostgreSQL only');
  if (/^file:\/\//i.test(database)) return { backend: 'sqlite', path: fileURLToPath(database) };
  const prefixed = /^(sqlite|file):(.*)$/i.exec(database);
  if (prefixed) {
    if (prefixed[2] === '') throw new TypeError(`database '${database}' names no file`);
    return { backend: 'sqlite', path: prefixed[2]! };
  }
  // Anything else that looks like a URL is a mistake (mysql://…), not a file name with a colon.
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(database)) {
    throw new TypeError(`database: unsupported URL scheme in '${database.replace(/\/\/[^@/]*@/, '//***@')}'; use a file path or postgres://`);
  }
  return { backend: 'sqlite', path: database };
}

/** Open (creating the tables if needed) the store `database` names. Loads that backend's driver only. */
export async function openInboxStore(database: InboxDatabase, options: { now: () => number; onPoolError: (error: Error) => void }): Promise<InboxStore> {
  if (database.backend === 'sqlite') {
    const { SqliteInboxStore } = await import('./sqlite-inbox-store.js');
    return SqliteInboxStore.open({ path: database.path, now: options.now });
  }
  const { PostgresInboxStore } = await import('./postgres-inbox-store.js');
  return PostgresInboxStore.open({ url: database.url, schema: database.schema, now: options.now, onPoolError: options.onPoolError });
}
