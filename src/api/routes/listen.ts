// `tapwire listen` on the API side: the WebSocket the CLI connects to (GET /api/v1/listen, upgraded),
// and the routes that list and end sessions (Tapwire's own; Svix has no such API).
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { WebSocketServer } from 'ws';

import type { ListenHub } from '../../delivery/listen-hub.js';
import { LISTEN_SESSION_ID_PATTERN } from '../../domain/listen.js';
import { TapwireError, validationError } from '../../errors/tapwire-error.js';
import { authenticate } from '../../services/auth.js';
import type { BackgroundTaskRunner } from '../../services/background-tasks.js';
import type { ServiceContext } from '../../services/context.js';
import * as listen from '../../services/listen.js';
import { defineRoute, type RouteSpec } from '../route-spec.js';
import * as S from '../schemas.js';
import { ID_CURSOR, readString } from '../query.js';
import { endWithJson } from '../raw-response.js';

export const LISTEN_PATH = '/api/v1/listen';
/** The largest frame a CLI may send: a report carries at most a response body's worth. */
const MAX_CLIENT_FRAME_BYTES = 1024 * 1024;

export function listenSessionOut(view: listen.ListenSessionView): Record<string, unknown> {
  return {
    id: view.id,
    appId: view.appId,
    appUid: view.appUid,
    endpointId: view.endpointId,
    sourceId: view.sourceId,
    forwardTo: view.forwardTo,
    eventTypes: view.eventTypes,
    client: view.client,
    createdAt: view.createdAt.toISOString(),
    lastSeenAt: view.lastSeenAt.toISOString(),
    detachedAt: view.detachedAt?.toISOString() ?? null,
    connected: view.connected,
  };
}

/** GET and DELETE /api/v1/listen-session. Without a hub (an API-only process) the list still works. */
export function listenRoutes(ctx: ServiceContext, hub: ListenHub | null): RouteSpec[] {
  const base = '/api/v1/listen-session';
  return [
    defineRoute({
      method: 'GET', url: base, operationId: 'listen_session.list', summary: 'List tapwire listen sessions (Tapwire only), newest first', tag: 'Listen', access: 'app', needs: ['ViewBase'],
      query: { app_id: "Only this application's sessions (an application's token sees its own only)" },
      responses: { 200: Type.Object({ data: Type.Array(S.ListenSessionOut) }, { title: 'ListListenSessionOut' }) },
      handler: async (req) => ({ data: (await listen.listListenSessions(ctx, req.principal, readString(req.query, 'app_id'))).map(listenSessionOut) }),
    }),
    defineRoute({
      method: 'DELETE', url: `${base}/:session_id`, operationId: 'listen_session.delete', summary: 'End a tapwire listen session: its CLI is told, its temporary endpoint is deleted', tag: 'Listen', access: 'app', needs: ['ManageEndpoint'],
      responses: { 204: null },
      handler: async (req, reply) => {
        const session = await listen.getListenSession(ctx, req.principal, req.params.session_id);
        // Held here: the CLI is told at once. Held by another process: its next heartbeat finds the row gone and tells it.
        if (!(await hub?.end(session.id, 'the session was ended on the server'))) {
          await ctx.store.deleteEndpoint(session.appId, session.endpointId, ctx.clock.now());
        }
        return reply.status(204).send();
      },
    }),
  ];
}

/**
 * Accept `tapwire listen` WebSockets on `app`'s HTTP server. Everything is checked before the
 * upgrade, so a bad token, an unknown application or a malformed query is an ordinary HTTP answer
 * (status and JSON error) the CLI can print. Without a hub (a process that runs no delivery worker)
 * the answer is 503: such a process could never push a delivery.
 */
export function acceptListenSockets(app: FastifyInstance, ctx: ServiceContext, hub: ListenHub | null, runner: BackgroundTaskRunner | null): void {
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_CLIENT_FRAME_BYTES });
  const pending = new Set<Duplex>();
  app.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname.replace(/\/+$/, '') !== LISTEN_PATH) {
      refuse(socket, new TapwireError('not_found', { detail: `No WebSocket at ${url.pathname}` }));
      return;
    }
    pending.add(socket);
    socket.on('error', () => undefined);
    void (async () => {
      try {
        if (!hub) throw new TapwireError('store_unavailable', { detail: 'This server process runs no delivery worker (TAPWIRE role api); connect tapwire listen to one that does' });
        const match = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
        if (!match) throw new TapwireError('authentication_failed', { detail: 'Missing or malformed Authorization header; expected "Bearer <token>"' });
        const principal = await authenticate(ctx, match[1]!);
        if (!principal) throw new TapwireError('authentication_failed');
        const request = readListenRequest(url.searchParams, ctx.clock.now());
        const opened = await listen.openListenSession(ctx, runner, principal, match[1]!, request);
        if (socket.destroyed) return;
        wss.handleUpgrade(req, socket, head, (ws) => {
          hub.attach(opened.session, ws, {
            type: 'ready',
            sessionId: opened.session.id,
            appId: opened.app.id,
            appUid: opened.app.uid,
            endpointId: opened.endpoint.id,
            sourceId: opened.session.sourceId,
            secret: opened.endpoint.secret,
            timeoutMs: ctx.config.requestTimeoutMs,
          });
        });
      } catch (error) {
        const mapped = error instanceof TapwireError ? error : new TapwireError('server_error');
        if (!(error instanceof TapwireError)) ctx.logger.error({ err: error }, 'opening a listen session failed');
        refuse(socket, mapped);
      } finally {
        pending.delete(socket);
      }
    })();
  });
  app.addHook('onClose', async () => {
    for (const socket of pending) socket.destroy();
    wss.close();
  });
}

/** Event types a session may filter on (as an endpoint's filter). */
const MAX_EVENT_TYPES = 100;

/** Read and check the WebSocket URL's query; every problem is a 422 naming the parameter. */
function readListenRequest(query: URLSearchParams, now: Date): listen.ListenRequest {
  const app = query.get('app') || null;
  const source = query.get('source') || null;
  if ((app === null) === (source === null)) {
    throw validationError(['query', 'app'], 'give exactly one of app (an application id or uid) and source (an ingest source id or uid)');
  }
  const sessionId = query.get('session') ?? '';
  if (!LISTEN_SESSION_ID_PATTERN.test(sessionId)) {
    throw validationError(['query', 'session'], 'session must be 16 to 64 characters of A-Z, a-z, 0-9, _ and -');
  }
  let eventTypes: string[] | null = null;
  const events = query.get('events');
  if (events) {
    eventTypes = [...new Set(events.split(',').map((e) => e.trim()).filter(Boolean))];
    if (eventTypes.length > MAX_EVENT_TYPES) throw validationError(['query', 'events'], `at most ${MAX_EVENT_TYPES} event types`);
    const bad = eventTypes.find((e) => !ID_CURSOR.name.test(e));
    if (bad !== undefined) throw validationError(['query', 'events'], `"${bad.slice(0, 64)}" is not an event type name`);
    if (eventTypes.length === 0) eventTypes = null;
  }
  let since: Date | null = null;
  const sinceText = query.get('since');
  if (sinceText) {
    since = new Date(sinceText);
    if (Number.isNaN(since.getTime())) throw validationError(['query', 'since'], 'since must be an ISO 8601 time');
    if (since > now) since = now;
  }
  const forwardTo = (query.get('forward_to') ?? '').slice(0, 2048);
  const client = (query.get('client') ?? '').slice(0, 200);
  return { app, source, sessionId, eventTypes, since, forwardTo, client };
}

/** Answer an upgrade request with an HTTP error and close the connection. */
function refuse(socket: Duplex, error: TapwireError): void {
  if (!socket.destroyed) endWithJson(socket, error.status, error.toBody());
}
