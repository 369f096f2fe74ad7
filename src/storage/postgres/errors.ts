// pg's errors in Tapwire's terms: a clash on a unique constraint is a conflict, a missing parent is
// not_found, a lost connection, timeout, restart or read-only server is store_unavailable (HTTP 503).
import { TapwireError } from '../../errors/tapwire-error.js';
import { conflictError, missingParentError, type ErrorContext } from '../shared/conflicts.js';

/** Unique constraints and indexes of 0001_init.sql by the `table.column` they protect. */
const UNIQUE_CONSTRAINTS: Record<string, string> = {
  applications_pkey: 'applications.id',
  applications_uid_key: 'applications.uid',
  endpoints_pkey: 'endpoints.id',
  endpoints_app_uid: 'endpoints.uid',
  event_types_pkey: 'event_types.name',
  messages_pkey: 'messages.id',
  messages_app_event_id: 'messages.event_id',
  deliveries_pkey: 'deliveries.id',
  attempts_pkey: 'attempts.id',
  api_tokens_pkey: 'api_tokens.id',
  api_tokens_token_hash_key: 'api_tokens.token_hash',
  idempotency_responses_pkey: 'idempotency_responses.key_hash',
  ingest_sources_pkey: 'ingest_sources.id',
  ingest_sources_uid: 'ingest_sources.uid',
  ingest_sources_token: 'ingest_sources.token_hash',
};

/** The driver's own words for an error (the first of a Node AggregateError's). */
export function reasonOf(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) return reasonOf(error.errors[0]);
  const message = error instanceof Error ? error.message : String(error);
  return message || ((error as { code?: string })?.code ?? 'unknown error');
}

/** Node socket errors that mean "cannot reach the server". */
const NETWORK_ERROR_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH',
  'ENETUNREACH', 'ENETDOWN', 'EADDRNOTAVAIL',
]);

/**
 * SQLSTATEs that mean "the database cannot serve us right now", not "your request is wrong":
 * connection exceptions (08), shutdown and restart (57P01–57P03), statement timeout (57014),
 * insufficient resources (53: too many connections, disk full), authentication and a missing
 * database (28, 3D000: misconfiguration, but nothing a request can fix), transaction
 * conflicts that a retry resolves (40001 serialization, 40P01 deadlock), and a server that takes no
 * writes (25006: a hot standby, say, until a failover promotes it, or default_transaction_read_only).
 */
function isUnavailable(code: string): boolean {
  return (
    code.startsWith('08') || code.startsWith('53') || code.startsWith('28') ||
    ['57P01', '57P02', '57P03', '57014', '3D000', '40001', '40P01', '25006'].includes(code)
  );
}

/** pg and pg-pool report a lost or impossible connection with these messages (and no code). */
const CONNECTION_MESSAGES = /Connection terminated|timeout exceeded when trying to connect|connection timeout|Query read timeout|not queryable|Cannot use a pool after calling end/i;

export function translateError(error: unknown, context: ErrorContext = {}): TapwireError {
  if (error instanceof TapwireError) return error;
  const first = error instanceof AggregateError && error.errors.length > 0 ? error.errors[0] : error;
  const { code = '', constraint } = (first ?? {}) as { code?: string; constraint?: string };
  const message = reasonOf(error);
  if (code === '23505') {
    const column = constraint ? UNIQUE_CONSTRAINTS[constraint] : undefined;
    return conflictError(context, (candidate) => candidate === column, column ?? constraint ?? 'unique constraint', error);
  }
  if (code === '23503') return missingParentError(context, error);
  if (code === '57014') {
    return new TapwireError('store_unavailable', { detail: 'The database did not answer in time; try again', cause: error });
  }
  if (isUnavailable(code) || NETWORK_ERROR_CODES.has(code) || CONNECTION_MESSAGES.test(message)) {
    return new TapwireError('store_unavailable', { cause: error });
  }
  // PostgreSQL text cannot hold U+0000 (SQLite can): refuse the value instead of failing with a 500.
  if (code === '22021' || code === '22P05') {
    return new TapwireError('generic_error', { detail: 'Text containing the NUL character (\\u0000) cannot be stored', cause: error });
  }
  return new TapwireError('server_error', { cause: error });
}

/**
 * Rethrow an error of a migration step; one that is neither a conflict nor an outage (say, no
 * permission to create the schema) keeps PostgreSQL's own words, which the operator needs.
 */
export function explainFailure(what: string): (error: unknown) => never {
  return (error) => {
    const translated = translateError(error);
    if (translated.code !== 'server_error') throw translated;
    throw new TapwireError('server_error', { detail: `${what}: ${reasonOf(error)}`, cause: error });
  };
}

