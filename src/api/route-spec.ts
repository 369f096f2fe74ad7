// What a route of the API is: one spec says where it is, who may call it and what it accepts, and
// feeds both Fastify and the OpenAPI document. Route modules (routes/*.ts, the dashboard) build specs
// with defineRoute(); the server adds each with registerRoute() and its own authentication.
import type { ListenHub } from '../delivery/listen-hub.js';
import type { Static, TSchema } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { TapwireError } from '../errors/tapwire-error.js';
import type { CapabilityNeed } from '../domain/token-scopes.js';
import type { Principal } from '../services/auth.js';
import type { BackgroundTaskRunner } from '../services/background-tasks.js';
import type { RawQuery } from './query.js';

/** Who may call a route: anyone, the admin token only, or any token scoped to the path's application. */
export type Access = 'public' | 'admin' | 'app';

/** The parameters a route path declares: `/app/:app_id/msg/:msg_id` → `{ app_id: string; msg_id: string }`. */
export type PathParams<Url extends string> = Url extends `${string}:${infer Name}/${infer Rest}`
  ? { [K in Name]: string } & PathParams<`/${Rest}`>
  : Url extends `${string}:${infer Name}`
    ? { [K in Name]: string }
    : unknown;

/**
 * The request a handler receives, typed from its spec: every parameter of the path (the router
 * matched them all), the raw query (read with query.ts), the body its schema validated, and for
 * non-public routes the authenticated caller.
 */
export type RouteRequest<Url extends string, Body, A extends Access> = FastifyRequest<{
  Params: PathParams<Url>;
  Querystring: RawQuery;
  Body: Body;
}> &
  (A extends 'public' ? unknown : { principal: Principal });

/** The validated body of a route with schema `B`; without a schema the handler has no body to read. */
type BodyOf<B extends TSchema | undefined> = B extends TSchema ? Static<B> : unknown;

/** One route. The defaults are the form the server stores and registers, whatever the route's types. */
export interface RouteSpec<Url extends string = string, Body extends TSchema | undefined = TSchema | undefined, A extends Access = Access> {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: Url;
  operationId: string;
  summary: string;
  tag: string;
  access: A;
  /**
   * What an application's portal token needs for this route (any one of the capabilities, or `all`);
   * every route open to app tokens declares it, and the server refuses others with 403. Admin tokens
   * may do everything.
   */
  needs?: CapabilityNeed;
  body?: Body;
  /** An absent body is read as `{}` (every field of `body` is optional, e.g. secret rotation). */
  bodyOptional?: boolean;
  /** Documented query parameters: name → description. */
  query?: Record<string, string>;
  /** Documented responses: status → schema (null = no body). */
  responses: Record<number, TSchema | null>;
  /** The media type of successful answers when it is not JSON (e.g. /metrics); documented as text. */
  textContentType?: string;
  /** More than the summary says, for the OpenAPI document (e.g. when a public route may need a token). */
  description?: string;
  /** A public route that may still ask for a bearer token, depending on configuration (/metrics). */
  bearerOptional?: boolean;
  /**
   * The answer holds a token or a secret (app-portal-access mints a token). Such an answer is never
   * stored for idempotency replay, where it would sit in clear in the database for 12 h: a repeated
   * request with the same idempotency-key runs again (and mints a fresh token). Default false.
   */
  carriesCredentials?: boolean;
  handler(request: RouteRequest<Url, BodyOf<Body>, A>, reply: FastifyReply): Promise<unknown>;
}

/** What the routes are given besides the services context: the options of buildApiServer. */
export interface ApiOptions {
  /** Reports whether the in-process worker is running, for the health document. */
  workerStatus?: () => { running: boolean; activeAttempts: number } | null;
  /** Served at GET /metrics in Prometheus text format; without it the route answers 404. */
  metrics?: { render(): Promise<string>; readonly contentType: string };
  /** Runs the background tasks requests start (replay-missing); without it, maintenance rounds pick them up. */
  backgroundTasks?: BackgroundTaskRunner;
  /** The `tapwire listen` sessions of this process's worker; without it listen WebSockets are refused (503). */
  listen?: ListenHub | null;
}

/**
 * A route spec whose handler is typed from the spec's own `url`, `body` and `access`, so it reads
 * `request.params.app_id` or `request.principal` without casts or non-null assertions.
 */
export function defineRoute<const Url extends string, Body extends TSchema | undefined = undefined, A extends Access = Access>(
  spec: RouteSpec<Url, Body, A>,
): RouteSpec {
  // Widening is sound: registerRoute calls the handler only with requests of this very route.
  return spec;
}

/** What the server runs around each route's handler (see {@link registerRoute}). */
export interface RouteGuards {
  /**
   * Runs once the path is matched and before any byte of the body is read or parsed: a bad or
   * missing token is refused here (throws), so anonymous clients cannot make the server parse.
   * `reply` takes the rate limit headers of an authenticated caller.
   */
  authenticate(request: FastifyRequest, reply: FastifyReply): Promise<void>;
  /** Runs after the body is parsed (a replayed idempotent response); true when it has answered itself. */
  guard(request: FastifyRequest, reply: FastifyReply): Promise<boolean>;
}

/**
 * Add `spec` to `app`. `authenticate` runs first, in Fastify's `onRequest` hook, before the body
 * is read; then the body is parsed, `guard` runs and returns true when it has answered the request
 * itself; then a missing body is refused, or read as `{}` when `bodyOptional`, Fastify validates
 * it against `body`, and the handler runs.
 */
export function registerRoute(app: FastifyInstance, spec: RouteSpec, guards: RouteGuards): void {
  const { authenticate, guard } = guards;
  app.route({
    method: spec.method,
    url: spec.url,
    ...(spec.body ? { schema: { body: spec.body } } : {}),
    // onRequest runs after routing (params are known) and before the content-type parser.
    onRequest: async (request, reply) => {
      await authenticate(request, reply);
    },
    preValidation: async (request, reply) => {
      if (await guard(request, reply)) return reply;
      if (spec.body && request.body === undefined && spec.bodyOptional) {
        request.body = {};
      } else if (spec.body && request.body === undefined) {
        throw new TapwireError('validation_error', {
          issues: [{ loc: ['body'], msg: 'a JSON body is required', type: 'value_error.missing' }],
        });
      }
    },
    handler: async (request, reply) => {
      // What RouteRequest promises holds here: the router matched the path, the body passed its
      // schema, and authenticate checked the token of every route that is not public.
      const result = await spec.handler(request as RouteRequest<string, unknown, Access>, reply);
      if (reply.sent) return reply;
      return result === undefined ? reply.send() : result;
    },
  });
}
