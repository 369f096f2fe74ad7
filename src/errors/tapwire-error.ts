// Every error the API can return is declared once here, with a stable code and its HTTP status.
// Codes never change meaning once shipped; docs/errors.md is checked against this registry by a test.

/** The registry: code → HTTP status and a default human-readable detail. */
export const ERROR_CODES = {
  generic_error: { status: 400, detail: 'Bad request' },
  invalid_json: { status: 400, detail: 'The request body is not valid JSON' },
  bad_query: { status: 400, detail: 'Invalid query string' },
  invalid_scheme: { status: 400, detail: 'The event type has no example to send' },
  missing_payload: { status: 400, detail: 'The message payload has expired or was expunged' },
  limit_reached: { status: 400, detail: 'Too many unexpired old secrets; wait for one to expire' },
  authentication_failed: { status: 401, detail: 'Invalid token' },
  'insufficient access': { status: 403, detail: 'This token is not allowed to do this' },
  not_found: { status: 404, detail: 'Entity not found' },
  method_not_allowed: { status: 405, detail: 'Method not allowed' },
  conflict: { status: 409, detail: 'An entity with this uid already exists' },
  idempotency_conflict: { status: 409, detail: 'A request with this idempotency key is still in progress' },
  payload_too_large: { status: 413, detail: 'The request body is larger than the configured maximum' },
  unsupported_media_type: { status: 415, detail: 'The request body must be application/json' },
  validation_error: { status: 422, detail: 'Validation error' },
  too_many_requests: { status: 429, detail: 'Too many requests' },
  server_error: { status: 500, detail: 'Internal server error' },
  store_unavailable: { status: 503, detail: 'The database is unavailable; try again' },
  schema_too_new: { status: 503, detail: 'The database schema is newer than this version of Tapwire understands; upgrade Tapwire' },
} as const satisfies Record<string, { status: number; detail: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

/**
 * One entry of a 422 body: where the problem is, what it is, and its machine type. Every `loc`
 * element is a string, array indices too (`["body", "channels", "0"]`): Svix declares `loc` as a
 * list of strings, and strictly typed clients fail to decode anything else.
 */
export interface ValidationIssue {
  loc: string[];
  msg: string;
  type: string;
}

/** An issue as code may write it, with array indices as numbers; {@link TapwireError} makes them strings. */
export type ValidationIssueInput = Omit<ValidationIssue, 'loc'> & { loc: readonly (string | number)[] };

/**
 * The one error type of Tapwire. The code fixes the HTTP status; `issues` is set only for
 * `validation_error` and becomes the Svix-style `{detail: [{loc, msg, type}]}` body.
 */
export class TapwireError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly detail: string;
  readonly issues: ValidationIssue[] | undefined;

  constructor(code: ErrorCode, options: { detail?: string; issues?: ValidationIssueInput[]; cause?: unknown } = {}) {
    const detail = options.detail ?? ERROR_CODES[code].detail;
    super(detail, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TapwireError';
    this.code = code;
    this.status = ERROR_CODES[code].status;
    this.detail = detail;
    this.issues = options.issues?.map((issue) => ({ ...issue, loc: issue.loc.map(String) }));
  }

  /** The JSON body the API sends for this error. */
  toBody(): { code: string; detail: string } | { detail: ValidationIssue[] } {
    if (this.code === 'validation_error' && this.issues) return { detail: this.issues };
    return { code: this.code, detail: this.detail };
  }
}

/** Shorthand for a 422 with one issue. */
export function validationError(loc: readonly (string | number)[], msg: string, type = 'value_error'): TapwireError {
  return new TapwireError('validation_error', { detail: msg, issues: [{ loc, msg, type }] });
}

/** Shorthand for a 404 naming the kind of entity that was not found. */
export function notFound(what: string): TapwireError {
  return new TapwireError('not_found', { detail: `${what} not found` });
}
