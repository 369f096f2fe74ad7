// The API as the fuzz and tenant-isolation suites see it: every operation read from the server's own
// OpenAPI document (so a new route is fuzzed and probed without touching the suites), a raw request
// that can send anything (wrong content types, duplicate headers, bytes no client would), and the
// check that an answer has the documented shape (docs/errors.md).
import { request, type Dispatcher } from 'undici';

export interface DocumentedRoute {
  operationId: string;
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** `/api/v1/app/{app_id}/endpoint/{endpoint_id}` */
  template: string;
  /** Path parameter names in order. */
  params: string[];
  /** Documented query parameter names. */
  query: string[];
  /** Properties of the request body schema (empty when the route takes none). */
  bodyFields: Record<string, unknown>;
  hasBody: boolean;
  access: 'public' | 'admin' | 'app';
  /** Media type of 2xx answers when not JSON (GET /metrics). */
  textOn2xx: boolean;
}

/** Every operation of GET /api/v1/openapi.json. */
export async function documentedRoutes(baseUrl: string): Promise<DocumentedRoute[]> {
  const doc = (await (await fetch(`${baseUrl}/api/v1/openapi.json`)).json()) as any;
  const routes: DocumentedRoute[] = [];
  for (const [template, item] of Object.entries<any>(doc.paths)) {
    for (const method of ['get', 'post', 'put', 'patch', 'delete'] as const) {
      const op = item[method];
      if (!op) continue;
      const ref: string | undefined = op.requestBody?.content?.['application/json']?.schema?.$ref;
      const schema = ref ? doc.components.schemas[ref.split('/').pop()!] : null;
      const ok = Object.entries<any>(op.responses ?? {}).filter(([status]) => status.startsWith('2'));
      routes.push({
        operationId: op.operationId as string,
        method: method.toUpperCase() as DocumentedRoute['method'],
        template,
        params: (op.parameters ?? []).filter((p: any) => p.in === 'path').map((p: any) => p.name as string),
        query: (op.parameters ?? []).filter((p: any) => p.in === 'query').map((p: any) => p.name as string),
        bodyFields: schema?.properties ?? {},
        hasBody: Boolean(ref),
        access: op.security?.length === 0 ? 'public' : op.description?.includes('admin token') ? 'admin' : 'app',
        textOn2xx: ok.some(([, r]) => r.content && !r.content['application/json']),
      });
    }
  }
  return routes;
}

/** Percent-encode every byte of the UTF-8 form (lone surrogates become U+FFFD, never a throw). */
export function encodeSegment(value: string): string {
  let out = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    const ch = String.fromCharCode(byte);
    out += /[A-Za-z0-9._~-]/.test(ch) ? ch : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** `template` with each `{name}` replaced by `values[name]`, already encoded. */
export function fillPath(template: string, values: Record<string, string>): string {
  return template.replace(/\{(\w+)\}/g, (_m, name: string) => values[name] ?? 'x');
}

export interface RawAnswer {
  status: number;
  contentType: string;
  text: string;
  body: any;
}

/**
 * One request exactly as given: `headers` as a flat [name, value, …] list (so a name may repeat),
 * `body` as bytes or text. The answer is read in full.
 */
export async function rawRequest(
  dispatcher: Dispatcher,
  baseUrl: string,
  method: string,
  path: string,
  headers: string[],
  body?: string | Buffer,
): Promise<RawAnswer> {
  const res = await request(`${baseUrl}${path}`, { method: method as Dispatcher.HttpMethod, headers, ...(body !== undefined ? { body } : {}), dispatcher });
  const text = await res.body.text();
  const contentType = String(res.headers['content-type'] ?? '');
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: res.statusCode, contentType, text, body: parsed };
}

/**
 * Why an answer breaks the documented contract, or null: no 5xx; an error is JSON, either
 * `{code, detail}` (both non-empty strings) or a 422 `{detail: [{loc, msg, type}]}` with `loc`
 * starting at body, query, path or header; a success with a body is JSON unless the route is text.
 */
export function contractViolation(route: Pick<DocumentedRoute, 'textOn2xx'> | null, answer: RawAnswer, method: string): string | null {
  const { status, contentType, text, body } = answer;
  if (status >= 500) return `5xx: ${status} ${text.slice(0, 300)}`;
  if (status === 204 || method === 'HEAD') return text === '' ? null : `a ${status} with a body`;
  if (status < 400) {
    if (route?.textOn2xx) return null;
    if (text === '') return null;
    return /^application\/json/.test(contentType) && body !== undefined ? null : `a ${status} that is not JSON: ${contentType} ${text.slice(0, 200)}`;
  }
  if (!/^application\/json/.test(contentType) || body === undefined) return `an error that is not JSON: ${status} ${contentType} ${text.slice(0, 200)}`;
  if (status === 422 && Array.isArray(body.detail)) {
    if (Object.keys(body).length !== 1 || body.detail.length === 0) return `a 422 of the wrong shape: ${text.slice(0, 300)}`;
    for (const issue of body.detail) {
      const keys = Object.keys(issue ?? {}).sort().join(',');
      if (keys !== 'loc,msg,type' || !Array.isArray(issue.loc) || typeof issue.msg !== 'string' || typeof issue.type !== 'string') return `a 422 issue of the wrong shape: ${JSON.stringify(issue)}`;
      if (!['body', 'query', 'path', 'header'].includes(issue.loc[0])) return `a 422 loc that starts elsewhere: ${JSON.stringify(issue.loc)}`;
    }
    return null;
  }
  const keys = Object.keys(body).sort().join(',');
  if (keys !== 'code,detail' || typeof body.code !== 'string' || typeof body.detail !== 'string' || body.code === '' || body.detail === '') {
    return `an error of the wrong shape: ${status} ${text.slice(0, 300)}`;
  }
  return null;
}
