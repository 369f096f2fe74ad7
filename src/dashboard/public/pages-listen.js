// @ts-check
// `tapwire listen` sessions: a developer's CLI connected to the server, attached to an application
// (or an ingest source's application) as a temporary endpoint whose deliveries go down the CLI's
// connection to a local URL. Operators see every session on their own page and can end one; an
// application's home page lists that application's sessions, for the portal too.
//
// The list comes from GET /api/v1/listen-session. A server without that route answers 404: the
// page then says so instead of failing, and the application page leaves its section out.
import { api, ApiError, enc } from './api.js';
import { add, badge, button, codeBlock, h, link, replace, table, timeElement } from './dom.js';
import { redrawIfChanged } from './pages-operator.js';

/** @typedef {import('./app.js').PageContext} PageContext */

/** The URL scheme of a listen session's endpoint (the server's LISTEN_URL_SCHEME): never dialed. */
const LISTEN_URL_SCHEME = 'tapwire-listen:';

/** What to type to start a session, for the empty states. */
export const LISTEN_COMMAND = 'tapwire listen --forward-to http://localhost:3000/webhooks --app <app>';

/**
 * The session id an endpoint URL names, or null when the endpoint is an ordinary one.
 * @param {string} url
 */
export function listenSessionIdOf(url) {
  return typeof url === 'string' && url.startsWith(LISTEN_URL_SCHEME) ? url.slice(LISTEN_URL_SCHEME.length).replace(/^\/\//, '') : null;
}

/**
 * How an endpoint is named in lists: its URL, or, for a listen session's endpoint, a
 * "listen session" badge with where the CLI forwards (when known) or the session id. Its
 * `tapwire-listen://` URL is never dialed, so it is not shown as if it were a web address.
 * @param {string} url
 * @param {string | null} [forwardTo]
 */
export function endpointName(url, forwardTo) {
  const sessionId = listenSessionIdOf(url);
  if (sessionId === null) return h('span', { class: 'url' }, url);
  return h('span', { class: 'listen-endpoint' }, badge('listen session', 'muted'), ' ', forwardTo ? h('span', { class: 'url' }, `→ ${forwardTo}`) : h('code', {}, sessionId));
}

/**
 * A session's state: connected, or reconnecting while its CLI is away (the server keeps the
 * session, and queues its deliveries, until the CLI comes back or the session expires).
 * @param {any} session
 */
function statusOf(session) {
  if (session.connected) return badge('connected', 'success');
  const since = session.detachedAt ?? session.lastSeenAt;
  return h('span', { class: 'badge badge-warn', title: since ? `Disconnected since ${since}` : null }, 'reconnecting');
}

/**
 * The sessions (of one application, or all when `appId` is null), or null when this server has no
 * listen sessions at all (the route answers 404).
 * @param {string | null} appId
 * @returns {Promise<any[] | null>}
 */
async function loadSessions(appId) {
  try {
    const page = await api('GET', '/listen-session', { query: { app_id: appId } });
    return /** @type {any[]} */ (page.data);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return null;
    throw error;
  }
}

/**
 * The session table. `ends` holds each row's "End session" control across redraws, so a question
 * being asked survives a refresh (a heartbeat changes "last seen" every few seconds).
 * @param {any[]} sessions
 * @param {{ showApp: boolean, ends: Map<string, HTMLElement> | null, caption: string }} options
 */
function sessionsTable(sessions, options) {
  const columns = [
    ...(options.showApp ? ['Application', 'Source'] : []),
    'Forwards to',
    'Event types',
    'Client',
    'Started',
    'Last seen',
    'Status',
    ...(options.ends ? [''] : []),
  ];
  return table(
    options.caption,
    columns,
    sessions.map((s) => [
      ...(options.showApp
        ? [link(`/apps/${enc(s.appId)}`, s.appUid ?? s.appId), s.sourceId ? h('code', {}, s.sourceId) : '—']
        : []),
      h('span', { class: 'url' }, s.forwardTo),
      Array.isArray(s.eventTypes) && s.eventTypes.length ? s.eventTypes.join(', ') : 'all',
      s.client || '—',
      timeElement(s.createdAt),
      timeElement(s.lastSeenAt),
      statusOf(s),
      ...(options.ends ? [options.ends.get(s.id) ?? ''] : []),
    ]),
    { captionHidden: true, rowAttrs: (i) => ({ 'data-listen-session': sessions[i].id }) },
  );
}

/**
 * "End session", asked again in place (no browser dialog, which an embedding page may block).
 * @param {PageContext} ctx
 * @param {any} session
 * @param {() => Promise<void>} reload
 */
function endControl(ctx, session, reload) {
  const holder = h('div', { class: 'confirm' });
  const label = `End the listen session forwarding to ${session.forwardTo}`;
  const reset = () => replace(holder, button('End session', ask, { kind: 'danger', label }));
  const ask = () => {
    const yes = button('End session', async () => {
      try {
        await api('DELETE', `/listen-session/${enc(session.id)}`);
        ctx.notify('Session ended: its CLI was told, and its endpoint removed');
      } catch (error) {
        // Already gone (its CLI ended it, or it expired): the list catches up below.
        if (!(error instanceof ApiError && error.status === 404)) {
          ctx.notify(/** @type {Error} */ (error).message, 'error');
          reset();
          return;
        }
      }
      await reload();
    }, { kind: 'danger', label: `Yes, end the listen session forwarding to ${session.forwardTo}` });
    replace(
      holder,
      h('p', { role: 'alert' }, 'End it? The CLI stops receiving, and what is still queued for it is not delivered.'),
      h('div', { class: 'actions' }, yes, button('Cancel', () => reset())),
    );
    yes.focus();
  };
  reset();
  return holder;
}

/**
 * Redraw a session table, keeping each row's end control (and the focus inside one).
 * @param {HTMLElement} container
 * @param {any[]} sessions
 * @param {Map<string, HTMLElement>} ends
 * @param {() => Node} draw
 */
function redrawKeepingFocus(container, sessions, ends, draw) {
  redrawIfChanged(container, sessions, () => {
    // Moving a focused control into the new table blurs it: give the focus back once it is there.
    const focused = document.activeElement;
    const inside = focused instanceof HTMLElement && [...ends.values()].some((e) => e.contains(focused));
    const drawn = draw();
    if (inside) queueMicrotask(() => focused.focus());
    return [drawn];
  });
}

/** @param {PageContext} ctx */
export async function renderListenSessions(ctx) {
  ctx.setTitle('Listen sessions');
  const list = h('div', {});
  /** @type {Map<string, HTMLElement>} */
  const ends = new Map();
  let available = true;

  const load = async () => {
    const sessions = await loadSessions(null);
    if (!ctx.isCurrent()) return;
    if (sessions === null) {
      available = false;
      redrawIfChanged(list, null, () => [
        h('p', { role: 'status' }, 'Listen sessions are not available on this server.'),
        h('p', { class: 'hint' }, 'This version of the server does not accept tapwire listen connections.'),
      ]);
      return;
    }
    for (const id of [...ends.keys()]) if (!sessions.some((s) => s.id === id)) ends.delete(id);
    for (const s of sessions) if (!ends.has(s.id)) ends.set(s.id, endControl(ctx, s, load));
    if (sessions.length === 0) {
      redrawIfChanged(list, [], () => [
        h('p', { class: 'empty' }, 'Nobody is listening. Start a session from a terminal, with an admin token or a token of the application:'),
        codeBlock(LISTEN_COMMAND, 'Command that starts a listen session'),
        h('p', { class: 'hint' }, 'Use --source <source> instead of --app to listen to an ingest source, and --events a,b to receive only some event types.'),
      ]);
      return;
    }
    redrawKeepingFocus(list, sessions, ends, () => sessionsTable(sessions, { showApp: true, ends, caption: 'Listen sessions' }));
  };
  await load();
  add(
    ctx.main,
    h('div', { class: 'page-head' }, h('h1', { tabindex: -1 }, 'Listen sessions')),
    h(
      'p',
      { class: 'lead' },
      'Developers’ tapwire listen connections: each is attached to an application as a temporary endpoint, and its deliveries go down ',
      'the connection to a local URL instead of over the internet. Ending a session tells its CLI and removes its endpoint.',
    ),
    h('section', { class: 'card', 'aria-label': 'Sessions' }, list),
  );
  return {
    refresh: async () => {
      if (available) await load();
    },
  };
}

/**
 * The section of an application's home page listing its listen sessions: hidden while there are
 * none (or the server has no listen sessions). `update()` reloads it and answers the sessions, so
 * the endpoint list can name each session's endpoint by where it forwards.
 * @param {PageContext} ctx
 * @param {any} app
 * @param {() => Promise<void>} reload the page's own refresh (an ended session's endpoint leaves its list too)
 */
export function appListenSection(ctx, app, reload) {
  const list = h('div', {});
  /** @type {Map<string, HTMLElement>} */
  const ends = new Map();
  const element = h(
    'section',
    { class: 'card', 'aria-labelledby': 'listen-title', hidden: true },
    h('h2', { id: 'listen-title' }, 'Listen sessions'),
    h('p', { class: 'hint' }, 'Developers receiving this application’s webhooks on their own machine with tapwire listen.'),
    list,
  );
  let available = true;
  /** @returns {Promise<any[]>} */
  const update = async () => {
    if (!available) return [];
    /** @type {any[] | null} */
    let sessions;
    try {
      sessions = await loadSessions(app.id);
    } catch {
      // A side panel: its failure (a token without the right to list) leaves the page as it is.
      sessions = [];
    }
    if (sessions === null) {
      available = false;
      sessions = [];
    }
    if (!ctx.isCurrent()) return sessions;
    element.hidden = sessions.length === 0;
    // Ending a session deletes its endpoint: the server asks for ManageEndpoint, so does the page.
    const canEnd = ctx.session.kind === 'admin' || ctx.session.capabilities.includes('ManageEndpoint');
    for (const id of [...ends.keys()]) if (!sessions.some((s) => s.id === id)) ends.delete(id);
    if (canEnd) for (const s of sessions) if (!ends.has(s.id)) ends.set(s.id, endControl(ctx, s, reload));
    const shown = sessions;
    redrawKeepingFocus(list, shown, ends, () => sessionsTable(shown, { showApp: false, ends: canEnd ? ends : null, caption: 'Listen sessions of this application' }));
    return sessions;
  };
  return { element, update };
}
