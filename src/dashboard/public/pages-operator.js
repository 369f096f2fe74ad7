// @ts-check
// Operator pages (admin token): the health overview, the applications, and the event-type
// catalogue (which application tokens see too, read-only).
import { api, enc } from './api.js';
import { attemptsChart } from './chart.js';
import { add, badge, button, codeBlock, field, formatDuration, h, link, prettyJson, replace, table, timeElement } from './dom.js';

/** @typedef {import('./app.js').PageContext} PageContext */

/** Chart windows the overview offers: label, length and bucket width. */
const WINDOWS = /** @type {const} */ ({
  '1h': { label: 'Last hour', ms: 3600_000, bucket: '1m', bucketMs: 60_000 },
  '24h': { label: 'Last 24 hours', ms: 86_400_000, bucket: '1h', bucketMs: 3600_000 },
  '7d': { label: 'Last 7 days', ms: 7 * 86_400_000, bucket: '6h', bucketMs: 6 * 3600_000 },
});

/**
 * The window ending at the end of the current bucket, so buckets stay put between refreshes.
 * @param {keyof typeof WINDOWS} key
 */
export function chartWindow(key) {
  const w = WINDOWS[key];
  const until = Math.ceil(Date.now() / w.bucketMs) * w.bucketMs;
  return { since: new Date(until - w.ms).toISOString(), until: new Date(until).toISOString(), bucket: w.bucket };
}

/**
 * A window picker: links that keep the choice in the address, so reload and back keep it.
 * @param {string} route
 * @param {string} current
 */
export function windowPicker(route, current) {
  return h(
    'div',
    { class: 'segmented', role: 'group', 'aria-label': 'Time window' },
    Object.entries(WINDOWS).map(([key, w]) => h('a', { href: `#${route}?window=${key}`, 'aria-current': key === current ? 'true' : null }, w.label)),
  );
}

/** @param {URLSearchParams} query @returns {keyof typeof WINDOWS} */
export function windowOf(query) {
  const value = query.get('window');
  return value === '1h' || value === '7d' ? value : '24h';
}

/**
 * Re-draw `container` only when `data` changed, so focus and scroll stay put between refreshes.
 * @param {HTMLElement} container
 * @param {unknown} data
 * @param {() => (Node | string | null)[]} draw
 */
export function redrawIfChanged(container, data, draw) {
  const fingerprint = JSON.stringify(data);
  if (container.dataset.fingerprint === fingerprint) return;
  container.dataset.fingerprint = fingerprint;
  replace(container, ...draw());
}

/** @param {{ label: string, value: string, hint?: string, tone?: string }[]} items */
function statCards(items) {
  return h(
    'dl',
    { class: 'stats' },
    items.map((item) => h('div', { class: `stat ${item.tone ? `stat-${item.tone}` : ''}` }, h('dt', {}, item.label), h('dd', {}, item.value), item.hint ? h('p', { class: 'hint' }, item.hint) : null)),
  );
}

/** @param {PageContext} ctx */
export async function renderOverview(ctx) {
  ctx.setTitle('Overview');
  const windowKey = windowOf(ctx.query);
  const cards = h('div', {});
  const chart = h('div', { class: 'chart-box' });
  const failing = h('div', {});
  const disabled = h('div', {});
  const slowest = h('div', {});

  const load = async () => {
    const [attempts, queue, endpoints] = await Promise.all([
      api('GET', '/stats/attempts', { query: chartWindow(windowKey) }),
      api('GET', '/stats/queue'),
      api('GET', '/stats/endpoints', { query: { limit: 10 } }),
    ]);
    if (!ctx.isCurrent()) return;
    const total = attempts.total.success + attempts.total.fail;
    redrawIfChanged(cards, { total: attempts.total, queue }, () => [
      statCards([
        { label: 'Attempts', value: String(total), hint: WINDOWS[windowKey].label },
        { label: 'Success rate', value: total ? `${((attempts.total.success / total) * 100).toFixed(1)} %` : '—', hint: `${attempts.total.fail} failed`, tone: total && attempts.total.fail / total > 0.1 ? 'bad' : undefined },
        { label: 'Queue', value: String(queue.pending), hint: `${queue.due} due now` },
        { label: 'Oldest due', value: queue.oldestDueAgeSeconds === null ? '—' : formatDuration(queue.oldestDueAgeSeconds * 1000), hint: 'waiting past its due time', tone: queue.oldestDueAgeSeconds > 60 ? 'bad' : undefined },
      ]),
    ]);
    redrawIfChanged(chart, attempts.buckets, () => [attemptsChart(attempts, `Attempts, ${WINDOWS[windowKey].label.toLowerCase()}`), chartLegend()]);
    const endpointCell = (/** @type {any} */ e) => link(`/apps/${enc(e.appId)}/endpoints/${enc(e.endpointId)}`, e.url ?? e.endpointId);
    const appCell = (/** @type {any} */ e) => link(`/apps/${enc(e.appId)}`, e.appName ?? e.appId);
    redrawIfChanged(failing, endpoints.failing, () => [
      table('Failing endpoints', ['Endpoint', 'Application', 'Failing since'], endpoints.failing.map((/** @type {any} */ e) => [endpointCell(e), appCell(e), timeElement(e.failingSince)]), {
        empty: 'No endpoint is failing.',
      }),
    ]);
    redrawIfChanged(disabled, endpoints.disabled, () => [
      table('Disabled endpoints', ['Endpoint', 'Application', 'Disabled at'], endpoints.disabled.map((/** @type {any} */ e) => [endpointCell(e), appCell(e), timeElement(e.updatedAt)]), {
        empty: 'No endpoint is disabled.',
      }),
    ]);
    redrawIfChanged(slowest, endpoints.slowest, () => [
      table(
        'Slowest endpoints, last hour',
        ['Endpoint', 'Application', 'Average', 'Slowest', 'Attempts'],
        endpoints.slowest.map((/** @type {any} */ e) => [endpointCell(e), appCell(e), formatDuration(e.avgDurationMs), formatDuration(e.maxDurationMs), String(e.attempts)]),
        { empty: 'No attempts in the last hour.' },
      ),
    ]);
  };
  await load();
  add(ctx.main, 
    h('div', { class: 'page-head' }, h('h1', { tabindex: -1 }, 'Overview'), windowPicker('/', windowKey)),
    cards,
    h('section', { class: 'card', 'aria-labelledby': 'chart-title' }, h('h2', { id: 'chart-title' }, 'Delivery attempts'), chart),
    h('div', { class: 'grid-2' }, h('section', { class: 'card' }, failing), h('section', { class: 'card' }, disabled)),
    h('section', { class: 'card' }, slowest),
  );
  // Server-wide counts read a whole time window: every fourth tick (10 s) is live enough.
  let ticks = 0;
  return {
    refresh: async () => {
      if (++ticks % 4 === 0) await load();
    },
  };
}

export function chartLegend() {
  return h('p', { class: 'legend' }, h('span', { class: 'swatch swatch-success' }), 'succeeded ', h('span', { class: 'swatch swatch-fail' }), 'failed');
}

/** @param {PageContext} ctx */
export async function renderApplications(ctx) {
  ctx.setTitle('Applications');
  const list = h('div', {});
  const more = h('div', { class: 'more' });
  const portal = h('div', { 'aria-live': 'polite' });
  /** @type {any[]} */
  const apps = [];

  const showPortalLink = async (/** @type {any} */ app) => {
    const access = await api('POST', `/auth/app-portal-access/${enc(app.id)}`, { body: {} });
    const input = /** @type {HTMLInputElement} */ (h('input', { type: 'text', readonly: true, value: access.url }));
    replace(
      portal,
      h(
        'div',
        { class: 'card portal-link' },
        h('h2', {}, `Portal link for ${app.name}`),
        field('Link', input, 'Whoever opens this link can manage this application’s endpoints until the token expires. Send it privately.'),
        h('div', { class: 'actions' }, button('Copy link', () => copyText(input, ctx)), h('a', { href: access.url, target: '_blank', rel: 'noopener noreferrer', class: 'btn btn-secondary' }, 'Open portal')),
      ),
    );
    input.focus();
    input.select();
  };

  const draw = () =>
    replace(
      list,
      table(
        'Applications',
        ['Name', 'UID', 'ID', 'Created', ''],
        apps.map((app) => [link(`/apps/${enc(app.id)}`, app.name), app.uid ?? '—', h('code', {}, app.id), timeElement(app.createdAt), button('Portal link', () => showPortalLink(app), { label: `Portal link for ${app.name}` })]),
        { empty: 'No applications yet. Create one below, or through the API.', captionHidden: true },
      ),
    );

  /** @param {string | null} iterator */
  const loadPage = async (iterator) => {
    const page = await api('GET', '/app', { query: { limit: 50, iterator, order: 'descending' } });
    apps.push(...page.data);
    draw();
    replace(more, page.done ? null : button('Load more', () => loadPage(page.iterator)));
  };
  await loadPage(null);

  const name = /** @type {HTMLInputElement} */ (h('input', { type: 'text', required: true, maxlength: 1024 }));
  const uid = /** @type {HTMLInputElement} */ (h('input', { type: 'text', pattern: '[a-zA-Z0-9\\-_.]+', maxlength: 256 }));
  const create = h(
    'form',
    {
      class: 'card form',
      onsubmit: async (/** @type {SubmitEvent} */ event) => {
        event.preventDefault();
        try {
          const app = await api('POST', '/app', { body: { name: name.value.trim(), ...(uid.value.trim() ? { uid: uid.value.trim() } : {}) } });
          ctx.notify(`Created ${app.name}`);
          ctx.navigate(`/apps/${enc(app.id)}`);
        } catch (error) {
          ctx.notify(/** @type {Error} */ (error).message, 'error');
        }
      },
    },
    h('h2', {}, 'New application'),
    h('div', { class: 'row' }, field('Name', name), field('UID (optional)', uid, 'Your own id for it, usable in API paths.')),
    h('button', { type: 'submit', class: 'btn btn-primary' }, 'Create application'),
  );

  add(ctx.main, h('div', { class: 'page-head' }, h('h1', { tabindex: -1 }, 'Applications')), portal, h('section', { class: 'card' }, list, more), create);
}

/**
 * Copy the value of `input`; where the clipboard API is refused (plain http), the text stays
 * selected for Ctrl+C.
 * @param {HTMLInputElement} input
 * @param {PageContext} ctx
 */
export async function copyText(input, ctx) {
  input.select();
  try {
    await navigator.clipboard.writeText(input.value);
    ctx.notify('Copied');
  } catch {
    ctx.notify('Selected: press Ctrl+C (⌘C) to copy');
  }
}

/**
 * The example payload of an event type's newest schema (`examples[0]` or `example`), as the
 * server's send-example reads it.
 * @param {any} schemas
 */
export function exampleOf(schemas) {
  if (!schemas || typeof schemas !== 'object') return undefined;
  const versions = Object.keys(schemas).sort((a, b) => Number(b) - Number(a));
  for (const version of versions) {
    const schema = schemas[version];
    if (schema && Array.isArray(schema.examples) && schema.examples.length > 0) return schema.examples[0];
    if (schema && schema.example !== undefined) return schema.example;
  }
  return undefined;
}

/** Every event type of the catalogue (with schemas), at most 250. */
export async function loadEventTypes() {
  const page = await api('GET', '/event-type', { query: { with_content: true, limit: 250 } });
  return /** @type {any[]} */ (page.data);
}

/** @param {PageContext} ctx */
export async function renderEventTypes(ctx) {
  ctx.setTitle('Event types');
  const types = await loadEventTypes();
  const list = h(
    'ul',
    { class: 'catalogue' },
    types.map((type) => {
      const example = exampleOf(type.schemas);
      return h(
        'li',
        { class: 'card' },
        h('h2', {}, h('code', {}, type.name), type.deprecated ? badge('deprecated', 'warn') : null, type.archived ? badge('archived', 'muted') : null),
        h('p', {}, type.description || 'No description.'),
        example === undefined ? h('p', { class: 'hint' }, 'No example payload.') : h('details', {}, h('summary', {}, 'Example payload'), codeBlock(prettyJson(example), `Example payload of ${type.name}`)),
      );
    }),
  );
  add(ctx.main, 
    h('div', { class: 'page-head' }, h('h1', { tabindex: -1 }, 'Event types')),
    h('p', { class: 'lead' }, 'The kinds of events that can be sent. An endpoint receives every type, or only the ones it subscribes to.'),
    types.length ? list : h('p', { class: 'card empty' }, 'No event types yet.'),
    ctx.session.kind === 'admin' ? eventTypeForm(ctx) : null,
  );
}

/** @param {PageContext} ctx */
function eventTypeForm(ctx) {
  const name = /** @type {HTMLInputElement} */ (h('input', { type: 'text', required: true, pattern: '[a-zA-Z0-9\\-_.]+', maxlength: 256, placeholder: 'invoice.paid' }));
  const description = /** @type {HTMLInputElement} */ (h('input', { type: 'text', maxlength: 8192 }));
  const example = /** @type {HTMLTextAreaElement} */ (h('textarea', { rows: 5, spellcheck: 'false', placeholder: '{"invoice": "inv_1001", "amount": 4200}' }));
  return h(
    'form',
    {
      class: 'card form',
      onsubmit: async (/** @type {SubmitEvent} */ event) => {
        event.preventDefault();
        /** @type {any} */
        let schemas = null;
        if (example.value.trim()) {
          try {
            schemas = { 1: { type: 'object', examples: [JSON.parse(example.value)] } };
          } catch {
            ctx.notify('The example is not valid JSON', 'error');
            example.focus();
            return;
          }
        }
        try {
          await api('POST', '/event-type', { body: { name: name.value.trim(), description: description.value, ...(schemas ? { schemas } : {}) } });
          ctx.notify(`Added ${name.value.trim()}`);
          ctx.navigate(`/event-types?added=${enc(name.value.trim())}`);
        } catch (error) {
          ctx.notify(/** @type {Error} */ (error).message, 'error');
        }
      },
    },
    h('h2', {}, 'New event type'),
    h('div', { class: 'row' }, field('Name', name), field('Description', description)),
    field('Example payload (JSON, optional)', example, 'Shown in the catalogue and sent by “Send test event”.'),
    h('button', { type: 'submit', class: 'btn btn-primary' }, 'Add event type'),
  );
}
