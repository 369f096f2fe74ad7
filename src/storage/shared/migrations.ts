// The numbered `NNNN_name.sql` files of each database (sqlite/migrations/, postgres/migrations/, the
// same numbers on both) and the rule both apply before migrating: never touch a newer schema.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { TapwireError } from '../../errors/tapwire-error.js';

export interface MigrationFile {
  version: number;
  file: string;
  sql: string;
}

/** The numbered `NNNN_name.sql` files in `folder` (each database has its own), in order. */
export function readMigrations(folder: URL): MigrationFile[] {
  const dir = fileURLToPath(folder);
  return readdirSync(dir)
    .map((file) => ({ file, match: /^(\d+)_.+\.sql$/.exec(file) }))
    .filter((entry): entry is { file: string; match: RegExpExecArray } => entry.match !== null)
    .map(({ file, match }) => ({ version: Number(match[1]), file, sql: readFileSync(join(dir, file), 'utf8') }))
    .sort((a, b) => a.version - b.version);
}

/**
 * Throws TapwireError('schema_too_new') when the database holds a migration newer than any this
 * version knows (a newer Tapwire migrated it): running against it could corrupt data.
 */
export function refuseNewerSchema(newestApplied: number, migrations: MigrationFile[]): void {
  const known = migrations.at(-1)?.version ?? 0;
  if (newestApplied > known) {
    throw new TapwireError('schema_too_new', {
      detail: `The database is at schema version ${newestApplied}, but this version of Tapwire knows migrations up to ${known}; upgrade Tapwire`,
    });
  }
}
