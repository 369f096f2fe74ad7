// @ts-check
// The dashboard's entry point: branding, the session (a bearer token in this tab's
// sessionStorage), a small hash router, the page frame and the live-update loop.
//
// Portal links (`/portal#token=…`) carry the token in the fragment, which browsers never send to a
// server. It is moved into sessionStorage and removed from the address bar at once, so it is not
// in the history, in bookmarks, or in what a visitor copies and shares.
import { api, ApiError, readToken, saveToken, setUnauthorizedHandler } from './api.js';
import { button, field, h, replace } from './dom.js';
import { renderApplications, renderEventTypes, renderOverview } from './pages-operator.js';
import { renderAppHome, renderEndpointDetail, renderEndpointNew, renderMessageDetail, renderMessages } from './pages-app.js';
import { renderOperationalWebhooks } from './pages-operational.js';
import { renderListenSessions } from './pages-listen.js';
import { renderIngestSources } from './pages-ingest.js';

/** How often the page on screen refreshes while the tab is visible. */
const REFRESH_MS = 2500;

/**
 * @typedef {{ kind: 'admin' } | { kind: 'app', app: { id: string, name: string, uid?: string }, capabilities: string[] }} Session
 * @typedef {{
 *   main: HTMLElement,
 *   session: Session,
 *   params: Record<string, string>,
 *   query: URLSearchParams,
 *   notify: (message: string, kind?: 'ok' | 'error') => void,
 *   setTitle: (title: string) => void,
 *   navigate: (route: string) => void,
 *   isCurrent: () => boolean,
 * }} PageContext
 * @typedef {{ refresh?: () => Promise<void> } | void} PageResult
 * @typedef {(ctx: PageContext) => Promise<PageResult>} Page
 */

/** @type {{ pattern: string, page: Page, adminOnly?: boolean }[]} */
const ROUTES = [
  { pattern: '/', page: renderOverview, adminOnly: true },
  { pattern: '/apps', page: renderApplications, adminOnly: true },
  { pattern: '/apps/:app', page: renderAppHome },
  { pattern: '/apps/:app/messages', page: renderMessages },
  { pattern: '/apps/:app/endpoints/new', page: renderEndpointNew },
  { pattern: '/apps/:app/endpoints/:endpoint', page: renderEndpointDetail },
  { pattern: '/apps/:app/messages/:msg', page: renderMessageDetail },
  { pattern: '/event-types', page: renderEventTypes },
  { pattern: '/operational', page: renderOperationalWebhooks, adminOnly: true },
  { pattern: '/listen', page: renderListenSessions, adminOnly: true },
  { pattern: '/ingest', page: renderIngestSources, adminOnly: true },
];

const brand = { name: 'Tapwire' };
const isPortal = location.pathname === '/portal';
/** @type {Session | null} */
let session = null;
/** Bumped on every navigation: a page whose generation is stale stops touching the DOM. */
let generation = 0;
/** @type {(() => Promise<void>) | null} */
let refreshCurrent = null;
let refreshing = false;

const main = /** @type {HTMLElement} */ (document.getElementById('main'));
const nav = /** @type {HTMLElement} */ (document.getElementById('nav'));
const who = /** @type {HTMLElement} */ (document.getElementById('who'));
const toast = /** @type {HTMLElement} */ (document.getElementById('toast'));

/** @param {string} message @param {'ok' | 'error'} [kind] */
function notify(message, kind = 'ok') {
  replace(toast, h('p', { class: `toast toast-${kind}`, role: kind === 'error' ? 'alert' : null }, message));
  const shown = toast.firstChild;
  setTimeout(() => {
    if (toast.firstChild === shown) replace(toast);
  }, kind === 'error' ? 8000 : 4000);
}

/** Apply TAPWIRE_BRAND_*: name, logo (https only) and accent colour (hex only). */
async function loadBrand() {
  try {
    const config = await api('GET', '/ui/config');
    brand.name = String(config.brand.name || 'Tapwire');
    const nameEl = document.getElementById('brand-name');
    if (nameEl) nameEl.textContent = brand.name;
    const color = String(config.brand.color || '');
    if (/^#(?:[0-9a-f]{3}|[0-9a-f]{6})$/i.test(color)) {
      document.documentElement.style.setProperty('--brand', color);
      document.documentElement.style.setProperty('--brand-contrast', contrastText(color));
    }
    const logo = /** @type {HTMLImageElement | null} */ (document.getElementById('brand-logo'));
    if (logo && typeof config.brand.logoUrl === 'string' && config.brand.logoUrl.startsWith('https://')) {
      logo.src = config.brand.logoUrl;
      logo.hidden = false;
    }
  } catch {
    // Branding is decoration: the defaults stay.
  }
}

/**
 * Black or white, whichever reads better on `hex` (WCAG relative luminance).
 * @param {string} hex
 */
function contrastText(hex) {
  const full = hex.length === 4 ? `#${hex[1]}${hex[1]}${hex[2]}${hex[2]}${hex[3]}${hex[3]}` : hex;
  const channel = (/** @type {number} */ i) => {
    const c = parseInt(full.slice(i, i + 2), 16) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  const luminance = 0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5);
  return (1.05) / (luminance + 0.05) >= (luminance + 0.05) / 0.05 ? '#ffffff' : '#111827';
}

/** Take a token from a `#token=…` fragment (portal links), store it, and wipe it from the URL. */
function takeTokenFromFragment() {
  const fragment = new URLSearchParams(location.hash.replace(/^#\/?/, ''));
  const token = fragment.get('token');
  if (!token) return;
  saveToken(token);
  history.replaceState(null, '', `${location.pathname}${location.search}#/`);
}

/** @param {string} hash */
function parseRoute(hash) {
  const raw = hash.replace(/^#/, '') || '/';
  const [path = '/', search = ''] = raw.split('?');
  const parts = path.split('/').filter(Boolean);
  for (const route of ROUTES) {
    const want = route.pattern.split('/').filter(Boolean);
    if (want.length !== parts.length) continue;
    /** @type {Record<string, string>} */
    const params = {};
    let ok = true;
    want.forEach((segment, i) => {
      const part = parts[i] ?? '';
      if (segment.startsWith(':')) {
        try {
          params[segment.slice(1)] = decodeURIComponent(part);
        } catch {
          ok = false;
        }
      } else if (segment !== part) ok = false;
    });
    if (ok) return { route, params, query: new URLSearchParams(search), path };
  }
  return null;
}

function renderFrame() {
  if (!session) {
    replace(nav);
    replace(who);
    return;
  }
  const current = (location.hash.replace(/^#/, '').split('?')[0] || '/').replace(/\/$/, '') || '/';
  /** @type {[string, string][]} */
  const links =
    session.kind === 'admin'
      ? [['/', 'Overview'], ['/apps', 'Applications'], ['/event-types', 'Event types'], ['/operational', 'Operational webhooks'], ['/listen', 'Listen sessions'], ['/ingest', 'Ingest sources']]
      : [[`/apps/${session.app.id}`, 'Endpoints'], [`/apps/${session.app.id}/messages`, 'Messages'], ['/event-types', 'Event types']];
  // The active link is the longest one the current route starts with.
  const active = links
    .map(([route]) => route)
    .filter((route) => (route === '/' ? current === '/' : current === route || current.startsWith(`${route}/`)))
    .sort((a, b) => b.length - a.length)[0];
  replace(nav, h('ul', {}, links.map(([route, text]) => h('li', {}, h('a', { href: `#${route}`, 'aria-current': route === active ? 'page' : null }, text)))));
  replace(
    who,
    h('span', { class: 'who-label' }, session.kind === 'admin' ? 'Operator' : session.app.name),
    button('Log out', logout, { kind: 'link' }),
  );
}

async function logout() {
  await api('POST', '/auth/logout').catch(() => undefined);
  saveToken(null);
  session = null;
  renderLogin(isPortal ? 'You are logged out, and this portal link no longer works. Ask for a new one to come back.' : null);
}

/** @param {string | null} message */
function renderLogin(message) {
  generation++;
  refreshCurrent = null;
  renderFrame();
  document.title = `Log in · ${brand.name}`;
  const input = /** @type {HTMLInputElement} */ (h('input', { type: 'password', name: 'token', autocomplete: 'off', spellcheck: 'false', required: true }));
  const error = h('p', { class: 'form-error', role: 'alert' });
  const form = h(
    'form',
    {
      class: 'card login',
      onsubmit: async (/** @type {SubmitEvent} */ event) => {
        event.preventDefault();
        const token = input.value.trim();
        if (!token) return;
        saveToken(token);
        try {
          await start();
        } catch (err) {
          saveToken(null);
          replace(error, err instanceof ApiError && err.status === 401 ? 'That token is not valid (or has expired).' : String(/** @type {Error} */ (err).message));
        }
      },
    },
    h('h1', { tabindex: -1 }, isPortal ? 'Webhook portal' : `${brand.name} dashboard`),
    message ? h('p', { class: 'notice' }, message) : null,
    field('Access token', input, isPortal ? 'The token of your portal link.' : 'The admin token, or a token scoped to one application.'),
    error,
    h('button', { type: 'submit', class: 'btn btn-primary' }, 'Log in'),
  );
  replace(main, form);
  input.focus();
}

/** Ask the server who the stored token is, then show the page the address asks for. */
async function start() {
  const me = await api('GET', '/auth/whoami');
  session = me.kind === 'admin' ? { kind: 'admin' } : { kind: 'app', app: me.app, capabilities: me.capabilities ?? ['ViewBase'] };
  await route(false);
}

/** @param {boolean} moveFocus */
async function route(moveFocus) {
  if (!session) return;
  const mine = ++generation;
  refreshCurrent = null;
  const found = parseRoute(location.hash);
  if (!found) {
    location.hash = '#/';
    return;
  }
  if (found.route.adminOnly && session.kind !== 'admin') {
    // An application's token lands on its own application.
    history.replaceState(null, '', `${location.pathname}#/apps/${session.app.id}`);
    await route(moveFocus);
    return;
  }
  renderFrame();
  // Set again once the page is drawn: "this route has finished rendering", for tests and tools.
  main.removeAttribute('data-route');
  const container = h('div', { class: 'page' });
  replace(main, h('p', { class: 'loading' }, 'Loading…'));
  /** @type {PageContext} */
  const ctx = {
    main: container,
    session,
    params: found.params,
    query: found.query,
    notify,
    setTitle: (title) => {
      document.title = `${title} · ${brand.name}`;
    },
    navigate: (target) => {
      location.hash = `#${target}`;
    },
    isCurrent: () => mine === generation,
  };
  try {
    const result = await found.route.page(ctx);
    if (mine !== generation) return;
    replace(main, container);
    refreshCurrent = result && result.refresh ? result.refresh : null;
  } catch (error) {
    if (mine !== generation) return;
    const err = /** @type {Error} */ (error);
    replace(
      main,
      h('div', { class: 'card' }, h('h1', { tabindex: -1 }, err instanceof ApiError && err.status === 404 ? 'Not found' : 'Something went wrong'), h('p', { role: 'alert' }, err.message)),
    );
  }
  if (mine !== generation) return;
  main.setAttribute('data-route', location.hash);
  if (moveFocus) main.querySelector('h1')?.focus();
}

/** The live-update loop: refresh the page on screen every few seconds while the tab is visible. */
async function tick() {
  if (refreshing || !refreshCurrent || document.visibilityState !== 'visible') return;
  const mine = generation;
  const refresh = refreshCurrent;
  refreshing = true;
  try {
    await refresh();
    document.body.removeAttribute('data-stale');
  } catch {
    // Shown as a quiet marker; the next tick tries again.
    if (mine === generation) document.body.setAttribute('data-stale', 'true');
  } finally {
    refreshing = false;
  }
}

async function boot() {
  document.getElementById('skip')?.addEventListener('click', (event) => {
    event.preventDefault();
    main.focus();
  });
  setUnauthorizedHandler(() => {
    if (!session) return;
    saveToken(null);
    session = null;
    renderLogin(isPortal ? 'Your session has expired. Open your portal link again.' : 'Your session has expired. Log in again.');
  });
  takeTokenFromFragment();
  window.addEventListener('hashchange', () => {
    if (!location.hash.startsWith('#/') && location.hash !== '') return;
    void route(true);
  });
  document.addEventListener('visibilitychange', () => void tick());
  setInterval(() => void tick(), REFRESH_MS);
  await loadBrand();
  if (!readToken()) {
    renderLogin(isPortal ? 'This portal link is incomplete or has already been used in another tab. Open the link you were given again, or paste its token.' : null);
    return;
  }
  try {
    await start();
  } catch (error) {
    saveToken(null);
    session = null;
    renderLogin(error instanceof ApiError && error.status === 401 ? 'This link or token is not valid any more. Ask for a new one.' : String(/** @type {Error} */ (error).message));
  }
}

void boot();
