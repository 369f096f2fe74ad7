// @ts-check
// The dashboard's only way to the server: the public /api/v1 routes (and the Ingest API under
// /ingest/api/v1, which takes the same tokens), with the visitor's token as
// `Authorization: Bearer`. No cookies are involved, so another site cannot make the browser send
// an authenticated request (no CSRF), and the page can do nothing the token itself cannot.

const TOKEN_KEY = 'tapwire.token';

/** Where the token lives: this tab's sessionStorage, or memory when storage is blocked (some iframes). */
let memoryToken = /** @type {string | null} */ (null);

export function readToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY) ?? memoryToken;
  } catch {
    return memoryToken;
  }
}

/** @param {string | null} token */
export function saveToken(token) {
  memoryToken = token;
  try {
    if (token === null) sessionStorage.removeItem(TOKEN_KEY);
    else sessionStorage.setItem(TOKEN_KEY, token);
  } catch {
    // Storage unavailable: the token stays in memory for this page only.
  }
}

/** An error answer of the API: the HTTP status and its `{code, detail}` body. */
export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} code
   * @param {string} message
   */
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Called when the server refuses the token (expired or revoked): the app shows the login again. */
let onUnauthorized = () => {};
/** @param {() => void} handler */
export function setUnauthorizedHandler(handler) {
  onUnauthorized = handler;
}

/**
 * Call the API. `query` values that are null, undefined or '' are left out; arrays are joined
 * with commas.
 * @param {string} method
 * @param {string} path e.g. `/app/app_123/endpoint` (under /api/v1, or under `options.base`)
 * @param {{ body?: unknown, query?: Record<string, string | number | boolean | string[] | null | undefined>, base?: string }} [options]
 *   `base`: the API's root path, `/api/v1` unless given (`/ingest/api/v1` for the Ingest API)
 * @returns {Promise<any>}
 */
export async function api(method, path, options = {}) {
  const url = new URL(`${options.base ?? '/api/v1'}${path}`, location.origin);
  for (const [name, value] of Object.entries(options.query ?? {})) {
    if (value === null || value === undefined || value === '') continue;
    url.searchParams.set(name, Array.isArray(value) ? value.join(',') : String(value));
  }
  /** @type {Record<string, string>} */
  const headers = { accept: 'application/json' };
  const token = readToken();
  if (token) headers.authorization = `Bearer ${token}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(url, {
    method,
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
    credentials: 'omit',
    cache: 'no-store',
  });
  const text = await response.text();
  /** @type {any} */
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!response.ok) {
    if (response.status === 401) onUnauthorized();
    throw new ApiError(response.status, body?.code ?? 'error', describeError(response.status, body));
  }
  return body;
}

/**
 * A readable sentence from an error body: `detail` text, or the first validation issue.
 * @param {number} status
 * @param {any} body
 */
function describeError(status, body) {
  if (body && typeof body.detail === 'string') return body.detail;
  if (body && Array.isArray(body.detail) && body.detail.length > 0) {
    const issue = body.detail[0];
    const where = Array.isArray(issue.loc) ? issue.loc.filter((/** @type {unknown} */ p) => p !== 'body').join('.') : '';
    return `${where ? `${where}: ` : ''}${issue.msg}`;
  }
  return `The server answered ${status}`;
}

/** @param {string} value */
export const enc = (value) => encodeURIComponent(value);
