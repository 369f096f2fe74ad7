// What a database error means for the caller, written once: each database finds which unique
// column clashed or that a parent row is missing (sqlite/errors.ts, postgres/errors.ts), and the
// method's ErrorContext says it in the caller's words.
import type { Application, Endpoint, EventType, Message } from '../../domain/types.js';
import { TapwireError } from '../../errors/tapwire-error.js';

/** What a driver error means in the context of one method. */
export interface ErrorContext {
  /** Conflict detail by the `table.column` whose uniqueness clashed. */
  conflicts?: Record<string, string>;
  /** Detail for a foreign key failure (a parent row that does not exist). */
  missingParent?: string;
}

/**
 * TapwireError('conflict') for a uniqueness clash: the context's detail for the first of its
 * columns `clashed` accepts, else "Already exists (what)".
 */
export function conflictError(context: ErrorContext, clashed: (column: string) => boolean, what: string, cause: unknown): TapwireError {
  const match = Object.entries(context.conflicts ?? {}).find(([column]) => clashed(column));
  return new TapwireError('conflict', { detail: match?.[1] ?? `Already exists (${what})`, cause });
}

/** TapwireError('not_found') for a foreign key that points at nothing. */
export function missingParentError(context: ErrorContext, cause: unknown): TapwireError {
  return new TapwireError('not_found', { detail: context.missingParent ?? 'A referenced entity was not found', cause });
}

/** The conflict details of each kind of record, by the column that clashed. */
export const conflictsOf = {
  application: (app: Application): Record<string, string> => ({
    'applications.uid': `An application with uid '${app.uid}' already exists`,
    'applications.id': `An application with id '${app.id}' already exists`,
  }),
  endpoint: (e: Endpoint): Record<string, string> => ({
    'endpoints.uid': `An endpoint with uid '${e.uid}' already exists in this application`,
    'endpoints.id': `An endpoint with id '${e.id}' already exists`,
  }),
  eventType: (t: EventType): Record<string, string> => ({ 'event_types.name': `An event type named '${t.name}' already exists` }),
  message: (m: Message): Record<string, string> => ({
    'messages.event_id': `A message with eventId '${m.eventId}' already exists in this application`,
    'messages.id': `A message with id '${m.id}' already exists`,
  }),
  delivery: (id: string): Record<string, string> => ({ 'deliveries.id': `A delivery with id '${id}' already exists` }),
  attempt: (id: string): Record<string, string> => ({ 'attempts.id': `An attempt with id '${id}' already exists` }),
  token: (id: string): Record<string, string> => ({
    'api_tokens.token_hash': 'A token with this hash already exists',
    'api_tokens.id': `A token with id '${id}' already exists`,
  }),
  backgroundTask: (id: string): Record<string, string> => ({ 'background_tasks.id': `A background task with id '${id}' already exists` }),
};
