// The one error the inbox throws or reports. Its `code` says what went wrong in a stable word, so an
// adapter can answer 503 for `database_error` and a log can be searched, whatever the driver said.

/** What went wrong. Codes never change meaning once shipped. */
export type InboxErrorCode =
  /** The inbox was closed: `receive` and the other methods refuse work. */
  | 'inbox_closed'
  /** `whenIdle()` was called on an inbox that was never started (it would wait forever). */
  | 'not_started'
  /** The database failed or could not be reached; `cause` holds the driver's error. */
  | 'database_error'
  /** The database holds inbox tables of a newer version than this code knows: upgrade Tapwire. */
  | 'schema_too_new'
  /**
   * A handler finished, but its result could not be recorded because another process had taken
   * the event over after this process's lease expired (the event loop was blocked longer than the
   * lease). The other process's attempt decides the outcome. Reported to `onError`, never thrown.
   */
  | 'lease_lost';

/** Something the inbox could not do. `code` is stable; the message is for logs. */
export class InboxError extends Error {
  override readonly name = 'InboxError';
  readonly code: InboxErrorCode;

  constructor(code: InboxErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }
}

/** Whether `error` is an {@link InboxError} (also across duplicated module copies). */
export function isInboxError(error: unknown): error is InboxError {
  return (
    error instanceof InboxError ||
    (error instanceof Error && error.name === 'InboxError' && typeof (error as { code?: unknown }).code === 'string')
  );
}
