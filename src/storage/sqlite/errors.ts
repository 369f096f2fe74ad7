// better-sqlite3's errors in Tapwire's terms: a clash on a unique column is a conflict, a missing
// parent is not_found, a busy, full, read-only or broken file is store_unavailable (HTTP 503).
import { TapwireError } from '../../errors/tapwire-error.js';
import { conflictError, missingParentError, type ErrorContext } from '../shared/conflicts.js';

/** Driver error codes that mean "the database cannot be used right now", not "your request is wrong". */
const UNAVAILABLE_CODES = ['SQLITE_BUSY', 'SQLITE_LOCKED', 'SQLITE_IOERR', 'SQLITE_FULL', 'SQLITE_READONLY', 'SQLITE_CANTOPEN', 'SQLITE_CORRUPT', 'SQLITE_NOTADB', 'SQLITE_PROTOCOL'];

export function translateError(error: unknown, context: ErrorContext): TapwireError {
  if (error instanceof TapwireError) return error;
  const code = typeof (error as { code?: unknown })?.code === 'string' ? (error as { code: string }).code : '';
  const message = error instanceof Error ? error.message : String(error);
  if (code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
    // "UNIQUE constraint failed: table.column[, table.column]"
    const columns = message.replace(/^UNIQUE constraint failed: /, '');
    return conflictError(context, (column) => columns.includes(column), columns, error);
  }
  if (code === 'SQLITE_CONSTRAINT_FOREIGNKEY') return missingParentError(context, error);
  if (UNAVAILABLE_CODES.some((prefix) => code.startsWith(prefix))) {
    return new TapwireError('store_unavailable', { cause: error });
  }
  if (error instanceof TypeError && /database connection is not open/.test(message)) {
    return new TapwireError('store_unavailable', { detail: 'The store is closed', cause: error });
  }
  return new TapwireError('server_error', { cause: error });
}
