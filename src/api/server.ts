// The HTTP API: a Fastify instance with the Svix-compatible routes of routes/, bearer auth, POST
// idempotency, Svix-shaped errors and the OpenAPI document. Never calls listen() itself, so tests
// use inject().
import { createHash } from 'node:crypto';
import { Ajv, type ErrorObject } from 'ajv';
import addFormatsModule from 'ajv-formats';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { TapwireError, type ValidationIssue } from '../errors/tapwire-error.js';
import type { ServiceContext } from '../services/context.js';
import { allows } from '../domain/token-scopes.js';
import { authenticate, type Principal } from '../services/auth.js';
import { lookUpApplication } from '../services/lookup-cache.js';
import { exceedsJsonDepth, MAX_JSON_DEPTH } from './raw-json.js';
import { endWithJson } from './raw-response.js';
import { registerRoute, type Access, type ApiOptions, type RouteSpec } from './route-spec.js';
import { applicationRoutes } from './routes/applications.js';
import { attemptRoutes } from './routes/attempts.js';
import { authRoutes } from './routes/auth.js';
import { backgroundTaskRoutes } from './routes/background-tasks.js';
import { endpointRoutes } from './routes/endpoints.js';
import { transformationRoutes } from './routes/transformations.js';
import { acceptListenSockets, listenRoutes } from './routes/listen.js';
import { eventTypeRoutes } from './routes/event-types.js';
import { healthRoutes } from './routes/health.js';
import { ingestRoutes, INGEST_RECEIVE_URL } from './routes/ingest.js';
import { integrationRoutes } from './routes/integrations.js';
import { operationalWebhookRoutes } from './routes/operational-webhooks.js';
import { messageRoutes } from './routes/messages.js';
import { statsRoutes } from './routes/stats.js';
import { statisticsRoutes } from './routes/statistics.js';
import { environmentRoutes } from './routes/environment.js';
import { dashboardRoutes } from '../dashboard/dashboard-routes.js';
import { buildOpenApiDocument, type RouteDoc } from './openapi.js';
import { registerTokenRateLimits, type TokenRateLimiter } from './token-rate-limit.js';
import { VERSION } from '../version.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The request body exactly as received (JSON bodies only). */
    rawBody?: string;
    principal?: Principal;
    idempotencyKeyHash?: string;
  }
}

/** How long a concurrent duplicate waits for the first request with the same idempotency key. */
const IDEMPOTENCY_WAIT_MS = 5000;
/** How long a 2xx response is replayed for the same key. */
const IDEMPOTENCY_TTL_MS = 12 * 3600_000;

/** Build the API server (not listening). */
export async function buildApiServer(ctx: ServiceContext, options: ApiOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: ctx.logger.child({ component: 'api' }) as unknown as FastifyBaseLogger,
    // One log line per delivery attempt matters; one per API request would drown it.
    logController: new LogController({ disableRequestLogging: true }),
    // The Svix JS client 1.x joins serverUrl and paths without trimming slashes. A uid (or eventId)
    // may be 256 characters, so path parameters must hold that much (Fastify's default is 100).
    routerOptions: { ignoreTrailingSlash: true, ignoreDuplicateSlashes: true, maxParamLength: 1024 },
    // Errors the router raises before any route runs (malformed percent-encoding, an over-long
    // path parameter) skip setErrorHandler; without this they answer Fastify's own error shape.
    frameworkErrors: (error, _request, reply: FastifyReply) => {
      const mapped =
        error.code === 'FST_ERR_MAX_PARAM_LENGTH'
          ? new TapwireError('not_found', { detail: 'No entity has an id or uid that long' })
          : mapError(error);
      void reply.status(mapped.status).type('application/json').send(mapped.toBody());
    },
    bodyLimit: ctx.config.maxPayloadBytes + 64 * 1024,
    // Slow or stalled clients (often anonymous: the portal must be reachable) are cut off instead of
    // holding a connection for minutes. Fastify disables Node's request deadline unless told.
    requestTimeout: ctx.config.apiRequestTimeoutMs,
    connectionTimeout: ctx.config.apiConnectionTimeoutMs,
    keepAliveTimeout: ctx.config.apiKeepAliveTimeoutMs,
    http: {
      requestTimeout: ctx.config.apiRequestTimeoutMs,
      headersTimeout: ctx.config.apiHeadersTimeoutMs,
      // Node enforces both deadlines by sweeping connections at this interval (30 s by default, which
      // would let a 10 s deadline run to 40 s): a tenth of the shorter one, within 25 ms..1 s.
      connectionsCheckingInterval: Math.min(1000, Math.max(25, Math.floor(Math.min(ctx.config.apiRequestTimeoutMs, ctx.config.apiHeadersTimeoutMs) / 10))),
    },
    // Bodies are validated strictly (no coercion); queries are read by src/api/query.ts.
    ajv: { customOptions: {} },
    return503OnClosing: true,
    // On close, drop idle keep-alive sockets but let requests in flight finish (graceful stop).
    forceCloseConnections: 'idle',
    // Malformed HTTP that never reaches a route (bad request line, headers too large) still gets
    // a JSON error in our shape.
    clientErrorHandler: (error: NodeJS.ErrnoException, socket) => {
      if (error.code === 'ECONNRESET' || !socket.writable) return socket.destroy();
      // A response already under way on this socket cannot be followed by another one.
      if ((socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent) return socket.destroy();
      const tooLarge = error.code === 'HPE_HEADER_OVERFLOW';
      // Headers or body not received within the API's deadlines (TAPWIRE_API_*_TIMEOUT).
      const timedOut = error.code === 'ERR_HTTP_REQUEST_TIMEOUT';
      const status = tooLarge ? 431 : timedOut ? 408 : 400;
      const detail = tooLarge ? 'Request headers are too large' : timedOut ? 'The request was not received in time' : 'Malformed HTTP request';
      endWithJson(socket, status, { code: 'generic_error', detail });
    },
  });

  const bodyAjv = new Ajv({ allErrors: true, coerceTypes: false, removeAdditional: false, useDefaults: false, strict: false });
  (addFormatsModule as unknown as (ajv: Ajv) => void)(bodyAjv);
  app.setValidatorCompiler(({ schema }) => bodyAjv.compile(schema));
  app.setSchemaErrorFormatter((errors) => {
    return new TapwireError('validation_error', { issues: errors.map((e) => toIssue(e as ErrorObject)) });
  });

  // Every body is read as JSON whatever its content type (curl -d sends form encoding by default),
  // and kept raw so message payloads are delivered byte-for-byte.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (request, body, done) => {
    const buffer = body as Buffer;
    if (buffer.length === 0) return done(null, undefined);
    // An ingest URL takes the provider's bytes as they are (any content type): its signature covers them.
    if (request.routeOptions.url === INGEST_RECEIVE_URL) return done(null, buffer);
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(buffer);
    } catch {
      return done(invalidJson('the body is not valid UTF-8'), undefined);
    }
    // The depth is bounded before parsing, not after: a linear scan that stops at the first bracket
    // too deep, so a deeply nested body costs no parse (and no parse tree) at all.
    if (exceedsJsonDepth(text)) return done(invalidJson(`nesting deeper than ${MAX_JSON_DEPTH} levels`), undefined);
    try {
      const parsed: unknown = JSON.parse(text);
      request.rawBody = text;
      done(null, parsed);
    } catch (error) {
      done(invalidJson((error as Error).message), undefined);
    }
  });

  app.setErrorHandler((error, request, reply) => {
    const mapped = mapError(error);
    if (mapped.code === 'store_unavailable') {
      // Expected while the database is down: one short line per request, not a stack trace each.
      request.log.warn({ method: request.method, url: request.url, reason: mapped.detail }, 'request refused: database unavailable');
    } else if (mapped.status >= 500) {
      request.log.error({ err: error, method: request.method, url: request.url }, 'request failed');
    }
    void reply.status(mapped.status).type('application/json').send(mapped.toBody());
  });
  app.setNotFoundHandler((request, reply) => {
    void reply.status(404).send({ code: 'not_found', detail: `No route for ${request.method} ${request.url.split('?')[0]}` });
  });

  // Requests in flight when close starts finish, but their keep-alive connections must not: Node
  // waits for every open connection before the server counts as closed, and a client's idle
  // keep-alive socket would hold a graceful stop for TAPWIRE_API_KEEP_ALIVE_TIMEOUT (72 s). Answers
  // sent once closing has begun say `Connection: close`, and any connection left idle is dropped.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onSend', async (_request, reply, payload) => {
    if (closing) void reply.header('connection', 'close');
    return payload;
  });
  app.addHook('onResponse', async () => {
    if (closing) app.server.closeIdleConnections();
  });

  // CORS: the API is used from browsers (dashboards, the portal embedded by senders).
  app.addHook('onRequest', async (request, reply) => {
    const origin = request.headers.origin;
    if (origin) {
      void reply.header('access-control-allow-origin', '*');
      void reply.header('access-control-expose-headers', '*');
    }
  });
  app.options('*', async (request, reply) => {
    void reply
      .header('access-control-allow-origin', '*')
      .header('access-control-allow-methods', 'GET, POST, PUT, PATCH, DELETE, OPTIONS')
      .header('access-control-allow-headers', request.headers['access-control-request-headers'] ?? '*')
      .header('access-control-max-age', '600')
      .status(204)
      .send();
  });

  const inFlightKeys = new Map<string, Promise<void>>();
  const docs: RouteDoc[] = [];
  const limitRate = await registerTokenRateLimits(app, { app: ctx.config.appRateLimit, admin: ctx.config.adminRateLimit }, ctx.clock);

  const register = (spec: RouteSpec): void => {
    docs.push(spec);
    registerRoute(app, spec, {
      // Before the body is read: an anonymous client gets its 401 (a token without the capability its
      // 403) without the server parsing a byte.
      authenticate: async (request, reply) => {
        if (spec.access !== 'public') {
          await authorize(ctx, spec.access, request, reply, limitRate);
          requireCapability(spec, request);
        }
      },
      guard: async (request, reply) =>
        spec.method === 'POST' && !spec.carriesCredentials && (await beginIdempotent(ctx, request, reply, inFlightKeys)),
    });
  };

  // The request finished (any status): let waiting duplicates go.
  app.addHook('onResponse', async (request) => {
    (request as unknown as { releaseIdempotency?: () => void }).releaseIdempotency?.();
  });
  app.addHook('onSend', async (request, reply, payload) => {
    const hash = request.idempotencyKeyHash;
    if (hash && reply.statusCode >= 200 && reply.statusCode < 300 && !reply.getHeader('idempotent-replayed')) {
      const body = typeof payload === 'string' ? payload : payload == null ? '' : String(payload);
      const contentType = reply.getHeader('content-type');
      await ctx.store.saveIdempotentResponse(
        hash,
        { statusCode: reply.statusCode, body, contentType: typeof contentType === 'string' ? contentType : null },
        new Date(ctx.clock.now().getTime() + IDEMPOTENCY_TTL_MS),
      );
    }
    return payload;
  });

  for (const spec of apiRoutes(ctx, options)) register(spec);

  // Registered like every other route so the document lists itself (it is part of what we serve).
  register({
    method: 'GET', url: '/api/v1/openapi.json', operationId: 'openapi.get', summary: 'This OpenAPI document', tag: 'Health', access: 'public',
    responses: { 200: null },
    handler: async () => buildOpenApiDocument(docs, VERSION),
  });

  // Connections beyond the cap are dropped as they arrive, before any byte is read.
  app.server.maxConnections = ctx.config.apiMaxConnections;
  acceptListenSockets(app, ctx, options.listen ?? null, options.backgroundTasks ?? null);
  return app;
}

/** Every route of the API and the dashboard, in the order of the OpenAPI document (the document itself aside). */
export function apiRoutes(ctx: ServiceContext, options: ApiOptions = {}): RouteSpec[] {
  return [
    ...healthRoutes(ctx, options),
    ...applicationRoutes(ctx),
    ...endpointRoutes(ctx, options),
    ...transformationRoutes(ctx),
    ...messageRoutes(ctx, options),
    ...attemptRoutes(ctx),
    ...backgroundTaskRoutes(ctx),
    ...eventTypeRoutes(ctx),
    ...authRoutes(ctx),
    ...statsRoutes(ctx),
    ...integrationRoutes(ctx),
    ...operationalWebhookRoutes(ctx),
    ...ingestRoutes(ctx),
    ...listenRoutes(ctx, options.listen ?? null),
    ...statisticsRoutes(ctx, options),
    ...environmentRoutes(ctx),
    ...dashboardRoutes(ctx),
  ];
}

/**
 * Check the bearer token, count the request against the token's rate limit, and for app-scoped
 * tokens check that the path's application is theirs. Every authenticated request counts, refused
 * ones too (403, another tenant's 404): a flood of them is a flood all the same.
 */
async function authorize(
  ctx: ServiceContext,
  access: Exclude<Access, 'public'>,
  request: FastifyRequest,
  reply: FastifyReply,
  limitRate: TokenRateLimiter,
): Promise<void> {
  const header = request.headers.authorization ?? '';
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match) throw new TapwireError('authentication_failed', { detail: 'Missing or malformed Authorization header; expected "Bearer <token>"' });
  const principal = await authenticate(ctx, match[1]!);
  if (!principal) throw new TapwireError('authentication_failed');
  request.principal = principal;
  await limitRate(request, reply, principal, match[1]!);
  if (principal.kind === 'admin') return;
  if (access === 'admin') throw new TapwireError('insufficient access');
  const appIdOrUid = (request.params as { app_id?: string }).app_id;
  // Routes open to app tokens without an application in the path (the event-type catalogue,
  // logout) hold nothing tenant-specific.
  if (!appIdOrUid) return;
  const app = await lookUpApplication(ctx, appIdOrUid);
  // Another tenant's application is indistinguishable from a missing one.
  if (!app || app.id !== principal.appId) throw new TapwireError('not_found', { detail: 'Application not found' });
}

/**
 * An application's token may use a route only with what the route needs (RouteSpec.needs); a route
 * that declares nothing needs every capability. Admin tokens may do everything.
 */
function requireCapability(spec: RouteSpec, request: FastifyRequest): void {
  const principal = request.principal;
  if (!principal || principal.kind === 'admin') return;
  if (allows(principal.scope, spec.needs ?? 'all')) return;
  throw new TapwireError('insufficient access', { detail: 'This token is not allowed to do this (its capabilities do not include it)' });
}

/**
 * POST idempotency (Svix semantics): with both `idempotency-key` and a token, the first 2xx
 * response for (token, key, URL) is replayed for 12 h. A duplicate arriving while the first is
 * still running waits for it (up to 5 s). Non-2xx responses are not cached, so a retry runs again.
 * Routes whose answer carries a token or a secret (`carriesCredentials`) never come here: nothing
 * of theirs is stored or replayed, so a retry runs again.
 */
async function beginIdempotent(
  ctx: ServiceContext,
  request: FastifyRequest,
  reply: FastifyReply,
  inFlight: Map<string, Promise<void>>,
): Promise<boolean> {
  const key = request.headers['idempotency-key'];
  const auth = request.headers.authorization;
  if (typeof key !== 'string' || key === '' || !auth) return false;
  if (key.length > 256) {
    throw new TapwireError('validation_error', { issues: [{ loc: ['header', 'idempotency-key'], msg: 'idempotency-key is too long', type: 'value_error' }] });
  }
  const hash = createHash('sha256').update(`${auth}\n${key}\n${request.url}`).digest('hex');
  const deadline = Date.now() + IDEMPOTENCY_WAIT_MS;
  while (inFlight.has(hash)) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) throw new TapwireError('idempotency_conflict');
    await Promise.race([inFlight.get(hash), new Promise((r) => setTimeout(r, remaining))]);
  }
  // Claim the key before looking in the store, with no await since the check above: a duplicate
  // arriving during that lookup (a network round trip on PostgreSQL) must wait, not run too.
  let resolve!: () => void;
  inFlight.set(hash, new Promise<void>((r) => (resolve = r)));
  const release = (): void => {
    inFlight.delete(hash);
    resolve();
  };
  let cached: Awaited<ReturnType<typeof ctx.store.getIdempotentResponse>>;
  try {
    cached = await ctx.store.getIdempotentResponse(hash, ctx.clock.now());
  } catch (error) {
    release();
    throw error;
  }
  if (cached) {
    release();
    void reply.status(cached.statusCode).header('idempotent-replayed', 'true');
    if (cached.contentType) void reply.type(cached.contentType);
    await reply.send(cached.body === '' ? undefined : cached.body);
    return true;
  }
  request.idempotencyKeyHash = hash;
  (request as unknown as { releaseIdempotency: () => void }).releaseIdempotency = release;
  return false;
}

function invalidJson(message: string): TapwireError {
  return new TapwireError('validation_error', {
    issues: [{ loc: ['body'], msg: `Invalid JSON: ${message}`, type: 'value_error.jsondecode' }],
  });
}

/** Ajv error → Svix-style issue with `loc` starting at `body`. */
function toIssue(error: ErrorObject): ValidationIssue {
  const path = error.instancePath
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  // Array indices stay strings ("0"): Svix's loc is a list of strings.
  const loc: string[] = ['body', ...path];
  switch (error.keyword) {
    case 'required':
      return { loc: [...loc, (error.params as { missingProperty: string }).missingProperty], msg: 'field required', type: 'value_error.missing' };
    case 'type':
      return { loc, msg: `must be ${String((error.params as { type: string | string[] }).type).replace(',', ' or ')}`, type: `type_error.${String((error.params as { type: string }).type).split(',')[0]}` };
    case 'pattern':
      return { loc, msg: `string does not match regex "${(error.params as { pattern: string }).pattern}"`, type: 'value_error.str.regex' };
    case 'minLength':
    case 'maxLength':
    case 'minItems':
    case 'maxItems':
    case 'minimum':
    case 'maximum':
      return { loc, msg: error.message ?? 'out of range', type: `value_error.${error.keyword}` };
    case 'format':
      return { loc, msg: `must be a valid ${(error.params as { format: string }).format}`, type: 'value_error.format' };
    default:
      return { loc, msg: error.message ?? 'invalid value', type: 'value_error' };
  }
}

/** Anything thrown → a TapwireError with the right status. */
function mapError(error: unknown): TapwireError {
  if (error instanceof TapwireError) return error;
  const e = error as { code?: string; statusCode?: number; validation?: unknown; message?: string };
  if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new TapwireError('payload_too_large');
  if (e.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return new TapwireError('unsupported_media_type');
  if (e.code === 'FST_ERR_CTP_INVALID_CONTENT_LENGTH') return new TapwireError('generic_error', { detail: 'Content-Length does not match the body' });
  if (e.code === 'FST_ERR_BAD_URL' || e.code === 'FST_ERR_ASYNC_CONSTRAINT') return new TapwireError('generic_error', { detail: 'Malformed URL' });
  if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500) {
    return new TapwireError('generic_error', { detail: e.message ?? 'Bad request' });
  }
  return new TapwireError('server_error', { cause: error });
}
