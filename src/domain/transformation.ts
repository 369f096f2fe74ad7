// Endpoint transformations (Svix's): an endpoint may carry JavaScript defining `handler(webhook)`,
// which rewrites each request before it is signed and sent, or cancels it. This module holds the
// pure rules: the object the handler is given, and what it may hand back. Running the code is
// delivery/'s (a QuickJS sandbox off the main thread).

/** The longest transformation code accepted, in UTF-8 bytes (64 KiB). */
export const MAX_TRANSFORMATION_CODE_BYTES = 65_536;

/** The HTTP methods a transformation may choose (Svix documents POST and PUT; PATCH costs nothing more). */
export const TRANSFORMATION_METHODS = ['POST', 'PUT', 'PATCH'] as const;
export type TransformationMethod = (typeof TRANSFORMATION_METHODS)[number];

/** An endpoint's transformation, as stored. */
export interface EndpointTransformation {
  code: string;
  enabled: boolean;
  updatedAt: Date;
}

/** The object `handler(webhook)` receives. */
export interface WebhookInput {
  method: 'POST';
  url: string;
  /** The message payload, parsed (a raw, non-JSON payload is given as its string). */
  payload: unknown;
  eventType: string;
  /** Headers to add to the request: empty on the way in. */
  headers: Record<string, string>;
}

/** What a valid handler result turns into: the request to sign and send, or a cancellation. */
export type TransformedRequest =
  | { cancel: true }
  | { cancel: false; method: TransformationMethod; url: string; payload: unknown; headers: Record<string, string> };

/** The keys a handler's result may carry (the input's, plus `cancel`). */
const RESULT_KEYS = new Set(['method', 'url', 'payload', 'eventType', 'headers', 'cancel']);
/** The longest URL a transformation may set. */
const MAX_URL_LENGTH = 2048;

/**
 * Header names a client may not set on an endpoint or through a transformation: they would break
 * delivery or forge Tapwire's own headers (the signature ones above all).
 */
const FORBIDDEN_HEADERS = new Set([
  'accept-encoding', 'connection', 'content-length', 'content-type', 'expect', 'host', 'keep-alive',
  'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'user-agent', 'http2-settings',
  'proxy-authorization',
]);
const FORBIDDEN_HEADER_PREFIXES = ['webhook-', 'svix-', 'x-svix-', 'x-amz-', 'x-goog-', 'x-azure-', 'x-tapwire-'];
/**
 * Header names refused because a receiver would misread the request: `content-encoding` claims the
 * signed JSON body is compressed, and the client-address headers (`forwarded`, `x-real-ip`,
 * `x-forwarded-*`) are what a receiver's reverse proxy trusts to say who is calling, so a tenant
 * could make its deliveries look as if they came from an address of its choosing.
 */
const MISLEADING_HEADERS = new Set(['content-encoding', 'forwarded', 'x-real-ip']);
const MISLEADING_HEADER_PREFIXES = ['x-forwarded-'];

/**
 * Why a custom header (an endpoint's, or one a transformation adds) may not be sent, or null when
 * it may. `setOn` names what sets it in the message ("an endpoint", "a transformation").
 */
export function customHeaderRefusal(name: string, value: unknown, setOn: string): string | null {
  const lower = name.toLowerCase();
  if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name)) return 'not a valid HTTP header name';
  if (FORBIDDEN_HEADERS.has(lower) || FORBIDDEN_HEADER_PREFIXES.some((p) => lower.startsWith(p))) {
    return `the header '${name}' is set by Tapwire and cannot be overridden`;
  }
  if (MISLEADING_HEADERS.has(lower) || MISLEADING_HEADER_PREFIXES.some((p) => lower.startsWith(p))) {
    const why = lower === 'content-encoding' ? 'it would misdescribe the signed payload' : 'receivers trust it to name the calling address';
    return `the header '${name}' cannot be set on ${setOn}: ${why}`;
  }
  // What HTTP (RFC 9110 field-value) and undici accept; anything else would fail every delivery.
  if (typeof value !== 'string' || /[^\t\x20-\x7e\x80-\xff]/.test(value)) {
    return 'header values must be strings of printable Latin-1 characters, without line breaks';
  }
  return null;
}

/**
 * Judge what a handler returned (already parsed from the sandbox's JSON): a request to send, or
 * `{ cancel: true }`; otherwise a sentence saying what is wrong with it, for the attempt's response.
 * The URL's destination is judged later, by the same SSRF guard as any endpoint URL.
 */
export function checkTransformed(result: unknown): { ok: true; request: TransformedRequest } | { ok: false; reason: string } {
  const invalid = (reason: string) => ({ ok: false as const, reason });
  if (typeof result !== 'object' || result === null || Array.isArray(result)) {
    return invalid(`the handler must return the webhook object, got ${describe(result)}`);
  }
  const r = result as Record<string, unknown>;
  const unknownKeys = Object.keys(r).filter((key) => !RESULT_KEYS.has(key));
  if (unknownKeys.length > 0) return invalid(`the returned webhook has unknown fields: ${unknownKeys.slice(0, 5).join(', ')}`);
  if (r.cancel !== undefined && typeof r.cancel !== 'boolean') return invalid(`cancel must be a boolean, got ${describe(r.cancel)}`);
  if (r.cancel === true) return { ok: true, request: { cancel: true } };
  if (typeof r.method !== 'string' || !(TRANSFORMATION_METHODS as readonly string[]).includes(r.method)) {
    return invalid(`method must be one of ${TRANSFORMATION_METHODS.join(', ')}, got ${describe(r.method)}`);
  }
  if (typeof r.url !== 'string') return invalid(`url must be a string, got ${describe(r.url)}`);
  if (r.url.length > MAX_URL_LENGTH) return invalid(`url must be at most ${MAX_URL_LENGTH} characters`);
  let url: URL;
  try {
    url = new URL(r.url);
  } catch {
    return invalid(`url is not a valid URL: ${JSON.stringify(r.url.slice(0, 200))}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return invalid(`url must be http or https, got ${url.protocol}`);
  if (!('payload' in r) || r.payload === undefined) return invalid('payload is missing');
  const headers = r.headers ?? {};
  if (typeof headers !== 'object' || headers === null || Array.isArray(headers)) return invalid(`headers must be an object of strings, got ${describe(headers)}`);
  for (const [name, value] of Object.entries(headers)) {
    const refusal = customHeaderRefusal(name, value, 'a transformation');
    if (refusal) return invalid(`header '${name}': ${refusal}`);
  }
  return { ok: true, request: { cancel: false, method: r.method as TransformationMethod, url: r.url, payload: r.payload, headers: headers as Record<string, string> } };
}

/** A value's kind for an error message: `a number`, `null`, `an array`… */
function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'nothing (undefined)';
  if (Array.isArray(value)) return 'an array';
  const type = typeof value;
  return type === 'object' ? 'an object' : `a ${type} (${JSON.stringify(value)?.slice(0, 60)})`;
}
