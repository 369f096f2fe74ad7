// PostgreSQL connection strings: our own `schema` parameter turned into a search_path startup option,
// session settings added to a URL, and the server named in messages without the password.
import { TapwireError } from '../../errors/tapwire-error.js';

/** Schema names we accept in the URL: they go into SQL and a startup option unquoted-safe. */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Split our own `schema` parameter off a PostgreSQL URL. The schema is applied to every connection
 * as a startup option (`-c search_path=NAME`), merged into any `options` the URL already has.
 */
export function parsePostgresUrl(url: string): { connectionString: string; schema: string | null } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (error) {
    throw new TapwireError('generic_error', { detail: 'The PostgreSQL URL cannot be parsed', cause: error });
  }
  const schema = parsed.searchParams.get('schema');
  if (schema === null) return { connectionString: url, schema: null };
  if (!SCHEMA_NAME.test(schema)) {
    throw new TapwireError('generic_error', {
      detail: `Invalid schema '${schema}' in the database URL: use lowercase letters, digits and '_' (at most 63, not starting with a digit)`,
    });
  }
  parsed.searchParams.delete('schema');
  const options = parsed.searchParams.get('options');
  parsed.searchParams.set('options', `${options ? `${options} ` : ''}-c search_path=${schema}`);
  return { connectionString: parsed.toString(), schema };
}

/** `connectionString` with `options` (startup `-c name=value` settings) added to any it already has. */
export function withSessionOptions(connectionString: string, options: string): string {
  const parsed = new URL(connectionString);
  const existing = parsed.searchParams.get('options');
  parsed.searchParams.set('options', existing ? `${existing} ${options}` : options);
  return parsed.toString();
}

/** `host:port/database` of a connection string, for messages (never the user or password). */
export function serverOf(connectionString: string): string {
  try {
    const url = new URL(connectionString);
    return `${url.host || 'localhost'}${url.pathname}`;
  } catch {
    return 'the configured server';
  }
}
