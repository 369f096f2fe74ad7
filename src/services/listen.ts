// `tapwire listen` sessions, server side: open (or reopen after a reconnect) a session as a
// temporary endpoint of an application or an ingest source, list them, end them.
//
// The session's endpoint is an ordinary endpoint of the application (uid `listen-<session id>`,
// URL `tapwire-listen://<session id>`), so fan-out, retries, the attempt log, replay, the dashboard
// and metrics treat it as any other; only the worker's last step differs (see delivery/listen-hub.ts).
// Its signing secret is derived from the API token and the application, so the same developer with
// the same token gets the same `whsec_…` every time and configures their receiver once.
import { createHash, createHmac } from 'node:crypto';

import type { Application, Endpoint } from '../domain/types.js';
import { listenEndpointUid, listenEndpointUrl, type ListenSession } from '../domain/listen.js';
import { newId } from '../domain/ids.js';
import { TapwireError, notFound } from '../errors/tapwire-error.js';
import type { Principal } from './auth.js';
import { allows } from '../domain/token-scopes.js';
import type { ServiceContext } from './context.js';
import { replayMissing, type BackgroundTaskRunner } from './background-tasks.js';

/** What a CLI asks for when it connects (the WebSocket URL's query). */
export interface ListenRequest {
  /** Application id or uid; exactly one of app and source. */
  app: string | null;
  /** Ingest source id or uid (admin tokens only, as the Ingest API). */
  source: string | null;
  sessionId: string;
  eventTypes: string[] | null;
  /** Replay messages accepted since then when the session's endpoint is (re)created. */
  since: Date | null;
  forwardTo: string;
  client: string;
}

/** A session ready to attach, and what the CLI is told. */
export interface OpenedSession {
  session: ListenSession;
  app: Application;
  endpoint: Endpoint;
  /** The endpoint was made now (a new session, or one whose endpoint the timeout removed). */
  created: boolean;
}

/**
 * The signing secret of `principal`'s sessions on `appId`: an HMAC of the application id under the
 * token itself, so it is stable across restarts of the CLI and the server, different per token and
 * application, and cannot be worked out without the token.
 */
export function listenSecret(rawToken: string, appId: string): string {
  return `whsec_${createHmac('sha256', rawToken).update(`tapwire-listen/v1\0${appId}`).digest('base64')}`;
}

/**
 * Open the session: check the token may listen there, then find the session's endpoint (a
 * reconnect) or make it, and store the session row. A reconnect must come from the same token and
 * name the same application. With `since`, a new endpoint is sent every message accepted since
 * then (replay-missing, as a background task), so a CLI that was away past the session timeout
 * still gets what arrived meanwhile.
 */
export async function openListenSession(
  ctx: ServiceContext,
  runner: BackgroundTaskRunner | null,
  principal: Principal,
  rawToken: string,
  request: ListenRequest,
): Promise<OpenedSession> {
  const { app, sourceId } = await listenTarget(ctx, principal, request);
  const now = ctx.clock.now();
  const tokenHash = createHash('sha256').update(rawToken).digest('hex');
  const existing = await ctx.store.getListenSession(request.sessionId);
  if (existing && (existing.tokenHash !== tokenHash || existing.appId !== app.id)) {
    // Another token's session (or another application's) is never taken over; its id is not revealed either.
    throw new TapwireError('conflict', { detail: 'This session id is in use; start tapwire listen again for a new one' });
  }
  let endpoint = existing ? await ctx.store.getEndpoint(app.id, existing.endpointId) : null;
  let created = false;
  if (!endpoint) {
    endpoint = await ctx.store.createEndpoint({
      id: newId('ep', now.getTime()),
      appId: app.id,
      uid: listenEndpointUid(request.sessionId),
      url: listenEndpointUrl(request.sessionId),
      description: describe(request),
      disabled: false,
      eventTypes: request.eventTypes,
      channels: null,
      throttleRate: null,
      version: 1,
      metadata: { 'tapwire-listen': request.sessionId },
      secret: listenSecret(rawToken, app.id),
      oldSecrets: [],
      headers: {},
      createdAt: now,
      updatedAt: now,
    });
    created = true;
  }
  const session = await ctx.store.saveListenSession({
    id: request.sessionId,
    appId: app.id,
    endpointId: endpoint.id,
    sourceId,
    tokenHash,
    forwardTo: request.forwardTo,
    eventTypes: request.eventTypes,
    client: request.client,
    createdAt: existing?.createdAt ?? now,
    lastSeenAt: now,
    detachedAt: null,
  });
  if (created && request.since) {
    await replayMissing(ctx, runner, app.id, endpoint.id, { since: request.since });
  }
  return { session, app, endpoint, created };
}

/** The application a request listens to, checked against the token. */
async function listenTarget(ctx: ServiceContext, principal: Principal, request: ListenRequest): Promise<{ app: Application; sourceId: string | null }> {
  if (request.source !== null) {
    // The Ingest API is the admin token's; so are its sources' events.
    if (principal.kind !== 'admin') throw new TapwireError('insufficient access', { detail: 'Listening to an ingest source needs the admin token' });
    const source = await ctx.store.getIngestSource(request.source);
    if (!source) throw notFound('Ingest source');
    const app = await ctx.store.getApplication(source.appId);
    if (!app) throw notFound('Ingest source');
    return { app, sourceId: source.id };
  }
  const app = await ctx.store.getApplication(request.app!);
  // Another tenant's application is indistinguishable from a missing one.
  if (!app || (principal.kind === 'app' && principal.appId !== app.id)) throw notFound('Application');
  if (principal.kind === 'app' && !allows(principal.scope, ['ManageEndpoint'])) {
    throw new TapwireError('insufficient access', { detail: 'Listening adds an endpoint: this token needs the ManageEndpoint capability' });
  }
  return { app, sourceId: null };
}

function describe(request: ListenRequest): string {
  const to = request.forwardTo ? ` → ${request.forwardTo}` : '';
  return `tapwire listen${request.client ? ` (${request.client})` : ''}${to}`.slice(0, 500);
}

/** A session as the API shows it. */
export interface ListenSessionView extends ListenSession {
  appUid: string | null;
  /** A process holds its socket now (seen within three heartbeats, and not detached since). */
  connected: boolean;
}

/** Heartbeats are 10 s apart: a session not seen for this long has no socket anywhere. */
const CONNECTED_WITHIN_MS = 30_000;

/** Sessions, newest first: every one for the admin (or one application's), an app token's own only. */
export async function listListenSessions(ctx: ServiceContext, principal: Principal, appIdOrUid: string | null): Promise<ListenSessionView[]> {
  let appId: string | null = null;
  if (appIdOrUid) {
    const app = await ctx.store.getApplication(appIdOrUid);
    if (!app || (principal.kind === 'app' && principal.appId !== app.id)) throw notFound('Application');
    appId = app.id;
  } else if (principal.kind === 'app') {
    appId = principal.appId;
  }
  const sessions = await ctx.store.listListenSessions({ appId, limit: 200 });
  const now = ctx.clock.now().getTime();
  const uids = new Map<string, string | null>();
  const views: ListenSessionView[] = [];
  for (const session of sessions) {
    if (!uids.has(session.appId)) uids.set(session.appId, (await ctx.store.getApplication(session.appId))?.uid ?? null);
    views.push({
      ...session,
      appUid: uids.get(session.appId) ?? null,
      connected: session.detachedAt === null && now - session.lastSeenAt.getTime() < CONNECTED_WITHIN_MS,
    });
  }
  return views;
}

/** The session, if `principal` may see it (an app token: its own application's only). */
export async function getListenSession(ctx: ServiceContext, principal: Principal, id: string): Promise<ListenSession> {
  const session = await ctx.store.getListenSession(id);
  if (!session || (principal.kind === 'app' && principal.appId !== session.appId)) throw notFound('Listen session');
  return session;
}
