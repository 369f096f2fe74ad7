// @ts-check
// Pages of one application, shared by operators and the customer portal: endpoints (create, edit,
// enable/disable, delete, secret, headers, test events, recovery), messages with filters, and a
// message with every attempt. Each action is one call of the public API with the visitor's token.
import { api, enc } from './api.js';
import { attemptsChart } from './chart.js';
import {
  add,
  badge,
  button,
  codeBlock,
  deliveryBadge,
  field,
  formatDuration,
  h,
  isoToLocalInput,
  link,
  localInputToIso,
  nextAttemptCell,
  prettyJson,
  replace,
  statusBadge,
  table,
  timeElement,
} from './dom.js';
import { chartLegend, chartWindow, copyText, exampleOf, loadEventTypes, redrawIfChanged, windowOf, windowPicker } from './pages-operator.js';
import { eventTypesFor, OPERATIONAL_APP_UID } from './pages-operational.js';
import { appListenSection, endpointName, listenSessionIdOf } from './pages-listen.js';
import { transformationPanel } from './pages-transformation.js';

/** @typedef {import('./app.js').PageContext} PageContext */

/** Rows per list page. */
const PAGE_SIZE = 25;

/**
 * Whether this session may do something that needs any one of `needs` (a portal token's capability).
 * The admin may do everything. The server refuses the rest anyway (403); this keeps the portal from
 * offering what the token cannot do.
 * @param {PageContext} ctx
 * @param {...string} needs
 */
function can(ctx, ...needs) {
  return ctx.session.kind === 'admin' || needs.some((need) => ctx.session.kind === 'app' && ctx.session.capabilities.includes(need));
}

/** @param {PageContext} ctx */
function appPath(ctx) {
  return `/app/${enc(ctx.params.app ?? '')}`;
}

/**
 * Breadcrumbs: operators see Applications › app › … (Operational webhooks › … for the operational
 * application); the portal starts at its application.
 * @param {PageContext} ctx
 * @param {any} app
 * @param {(Node | string)[]} rest
 */
function crumbs(ctx, app, ...rest) {
  /** @type {(Node | string)[]} */
  const items = [];
  // The operational application and those of ingest sources are not in the application list: their
  // endpoints belong to their own pages.
  if (ctx.session.kind === 'admin') {
    items.push(
      app.uid === OPERATIONAL_APP_UID
        ? link('/operational', 'Operational webhooks')
        : typeof app.uid === 'string' && app.uid.startsWith('ingest-src_')
          ? link('/ingest', 'Ingest sources')
          : link('/apps', 'Applications'),
    );
  }
  items.push(rest.length ? link(`/apps/${enc(app.id)}`, app.name) : app.name);
  items.push(...rest);
  return h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('ol', {}, items.map((item, i) => h('li', { 'aria-current': i === items.length - 1 ? 'page' : null }, item))));
}

// Application home: endpoints ----------------------------------------------------------------------

/** @param {PageContext} ctx */
export async function renderAppHome(ctx) {
  const app = await api('GET', appPath(ctx));
  ctx.setTitle(app.name);
  const windowKey = windowOf(ctx.query);
  const chart = h('div', { class: 'chart-box' });
  const list = h('div', {});
  const listen = appListenSection(ctx, app, () => load());

  const load = async () => {
    const [endpoints, attempts, sessions] = await Promise.all([
      api('GET', `${appPath(ctx)}/endpoint`, { query: { limit: 250 } }),
      api('GET', `${appPath(ctx)}/stats/attempts`, { query: chartWindow(windowKey) }),
      listen.update(),
    ]);
    if (!ctx.isCurrent()) return;
    /** Where each listen session's endpoint forwards, to name it in the list. @type {Map<string, string>} */
    const forwards = new Map(sessions.map((s) => [s.endpointId, s.forwardTo]));
    redrawIfChanged(chart, attempts.buckets, () => [attemptsChart(attempts, 'Delivery attempts of this application'), chartLegend()]);
    redrawIfChanged(list, [endpoints.data, [...forwards]], () => [
      table(
        'Endpoints',
        ['URL', 'Description', 'State', 'Event types'],
        endpoints.data.map((/** @type {any} */ e) => [
          link(`/apps/${enc(app.id)}/endpoints/${enc(e.id)}`, endpointName(e.url, forwards.get(e.id))),
          e.description || '—',
          e.disabled ? badge('disabled', 'failed') : badge('enabled', 'success'),
          e.filterTypes ? e.filterTypes.join(', ') : 'all',
        ]),
        { empty: 'No endpoints yet. Add one to start receiving webhooks.', captionHidden: true },
      ),
    ]);
  };
  await load();
  add(ctx.main, 
    crumbs(ctx, app),
    h(
      'div',
      { class: 'page-head' },
      h('h1', { tabindex: -1 }, ctx.session.kind === 'admin' ? app.name : 'Endpoints'),
      can(ctx, 'ManageEndpoint') ? h('a', { href: `#/apps/${enc(app.id)}/endpoints/new`, class: 'btn btn-primary' }, 'Add endpoint') : null,
    ),
    ctx.session.kind === 'admin' ? h('p', { class: 'lead' }, h('code', {}, app.id), app.uid ? ` · uid ${app.uid}` : '') : null,
    h('section', { class: 'card' }, ctx.session.kind === 'admin' ? h('h2', {}, 'Endpoints') : null, list),
    listen.element,
    h(
      'section',
      { class: 'card' },
      h('div', { class: 'section-head' }, h('h2', {}, 'Delivery attempts'), windowPicker(`/apps/${enc(app.id)}`, windowKey)),
      chart,
      h('p', {}, link(`/apps/${enc(app.id)}/messages`, 'Browse messages →')),
    ),
  );
  return { refresh: load };
}

// Endpoint forms -------------------------------------------------------------------------------------

/**
 * "All event types" or a chosen subset of the catalogue, each with its description and example.
 * @param {any[]} types
 * @param {string[] | null} selected null = all
 */
function eventTypePicker(types, selected) {
  const name = `types-${Math.random().toString(36).slice(2, 8)}`;
  const all = /** @type {HTMLInputElement} */ (h('input', { type: 'radio', name, value: 'all', checked: selected === null }));
  const some = /** @type {HTMLInputElement} */ (h('input', { type: 'radio', name, value: 'some', checked: selected !== null }));
  /** @type {HTMLInputElement[]} */
  const boxes = [];
  const choices = h(
    'ul',
    { class: 'choices' },
    types
      .filter((t) => !t.archived || selected?.includes(t.name))
      .map((type) => {
        const box = /** @type {HTMLInputElement} */ (h('input', { type: 'checkbox', value: type.name, checked: selected?.includes(type.name) ?? false }));
        box.addEventListener('change', () => {
          if (box.checked) some.checked = true;
        });
        boxes.push(box);
        const example = exampleOf(type.schemas);
        return h(
          'li',
          {},
          h('label', { class: 'check' }, box, h('span', {}, h('code', {}, type.name), type.deprecated ? badge('deprecated', 'warn') : null, h('span', { class: 'hint block' }, type.description || ''))),
          example === undefined ? null : h('details', { class: 'example' }, h('summary', {}, `Example of ${type.name}`), codeBlock(prettyJson(example))),
        );
      }),
  );
  const element = h(
    'fieldset',
    { class: 'field' },
    h('legend', {}, 'Event types'),
    h('label', { class: 'check' }, all, 'All event types, including ones added later'),
    h('label', { class: 'check' }, some, 'Only the types chosen below'),
    types.length ? choices : h('p', { class: 'hint' }, 'The catalogue is empty: this endpoint will get every event.'),
  );
  return {
    element,
    /** @returns {string[] | null} */
    value: () => (all.checked || types.length === 0 ? null : boxes.filter((b) => b.checked).map((b) => b.value)),
  };
}

/**
 * The fields of an endpoint, for the create form and the settings of an existing one.
 * @param {any[]} types
 * @param {any} [endpoint]
 */
export function endpointFields(types, endpoint) {
  const url = /** @type {HTMLInputElement} */ (h('input', { type: 'url', required: true, value: endpoint?.url ?? '', placeholder: 'https://example.com/webhooks', autocomplete: 'off' }));
  const description = /** @type {HTMLInputElement} */ (h('input', { type: 'text', value: endpoint?.description ?? '', maxlength: 1000 }));
  const rate = /** @type {HTMLInputElement} */ (h('input', { type: 'number', min: 1, max: 65535, step: 1, value: endpoint?.rateLimit ?? '', inputmode: 'numeric' }));
  const picker = eventTypePicker(types, endpoint ? endpoint.filterTypes ?? null : null);
  const fifo = /** @type {HTMLInputElement} */ (h('input', { type: 'checkbox', checked: endpoint?.fifo ?? false }));
  return {
    elements: [
      field('Endpoint URL', url, 'Where the webhooks are POSTed.'),
      field('Description', description),
      picker.element,
      field('Rate limit (messages per second, optional)', rate, 'Empty: no limit.'),
      h(
        'div',
        { class: 'field' },
        h('label', { class: 'check' }, fifo, h('span', {}, 'FIFO: deliver in order, one at a time')),
        h('p', { class: 'hint' }, 'A failing message is retried and holds up the ones behind it until it succeeds or fails for good. Turning this off releases them all.'),
      ),
    ],
    url,
    /** The body for POST / PATCH. @returns {Record<string, unknown>} */
    body: () => {
      const types = picker.value();
      return {
        url: url.value.trim(),
        description: description.value,
        filterTypes: types && types.length ? types : null,
        rateLimit: rate.value ? Number(rate.value) : null,
        fifo: fifo.checked,
      };
    },
  };
}

/** @param {PageContext} ctx */
export async function renderEndpointNew(ctx) {
  const app = await api('GET', appPath(ctx));
  const types = await eventTypesFor(app, loadEventTypes);
  ctx.setTitle('Add endpoint');
  const fields = endpointFields(types);
  const form = h(
    'form',
    {
      class: 'card form',
      onsubmit: async (/** @type {SubmitEvent} */ event) => {
        event.preventDefault();
        try {
          const endpoint = await api('POST', `${appPath(ctx)}/endpoint`, { body: fields.body() });
          ctx.notify('Endpoint added');
          ctx.navigate(`/apps/${enc(app.id)}/endpoints/${enc(endpoint.id)}`);
        } catch (error) {
          ctx.notify(/** @type {Error} */ (error).message, 'error');
        }
      },
    },
    fields.elements,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'btn btn-primary' }, 'Create endpoint'), link(`/apps/${enc(app.id)}`, 'Cancel')),
  );
  add(ctx.main, crumbs(ctx, app, 'Add endpoint'), h('h1', { tabindex: -1 }, 'Add endpoint'), form);
}

// Endpoint detail ------------------------------------------------------------------------------------

/**
 * A button that asks again in place (no browser dialog, which an embedding page may block).
 * @param {string} text
 * @param {string} question
 * @param {() => Promise<void>} action
 * @param {'danger' | 'secondary'} [kind]
 */
function confirmButton(text, question, action, kind = 'danger') {
  const holder = h('div', { class: 'confirm' });
  const ask = () => {
    const yes = button(text, async () => {
      await action();
      reset();
    }, { kind });
    replace(holder, h('p', { role: 'alert' }, question), h('div', { class: 'actions' }, yes, button('Cancel', () => reset())));
    yes.focus();
  };
  const reset = () => replace(holder, button(text, ask, { kind }));
  reset();
  return holder;
}

/**
 * Attempts as a table; response bodies fold out. Which ones are open survives refreshes.
 * @param {any[]} attempts
 * @param {Set<string>} open
 * @param {{ appId: string, showEndpoint?: Map<string, string>, showMessage?: boolean }} options
 */
function attemptsTable(attempts, open, options) {
  const columns = ['Time', 'Status', 'HTTP', 'Duration', options.showMessage ? 'Message' : 'Endpoint', 'Response'];
  return table(
    'Attempts',
    columns,
    attempts.map((a) => {
      const details = /** @type {HTMLDetailsElement} */ (
        h('details', { class: 'response', open: open.has(a.id) }, h('summary', {}, a.response ? 'Response body' : 'No body'), codeBlock(a.response || '(empty)', 'Response body'))
      );
      details.addEventListener('toggle', () => (details.open ? open.add(a.id) : open.delete(a.id)));
      return [
        timeElement(a.timestamp),
        statusBadge(a.status),
        a.responseStatusCode ? String(a.responseStatusCode) : 'none',
        formatDuration(a.responseDurationMs),
        options.showMessage
          ? link(`/apps/${enc(options.appId)}/messages/${enc(a.msgId)}`, h('code', {}, a.msgId))
          : link(`/apps/${enc(options.appId)}/endpoints/${enc(a.endpointId)}`, endpointName(options.showEndpoint?.get(a.endpointId) ?? a.endpointId)),
        details,
      ];
    }),
    { empty: 'No attempts yet.', captionHidden: true, rowAttrs: (i) => ({ 'data-attempt': attempts[i].id, 'data-status': attempts[i].statusText }) },
  );
}

/** @param {PageContext} ctx */
export async function renderEndpointDetail(ctx) {
  const epPath = `${appPath(ctx)}/endpoint/${enc(ctx.params.endpoint ?? '')}`;
  const [app, endpoint] = await Promise.all([api('GET', appPath(ctx)), api('GET', epPath)]);
  const types = await eventTypesFor(app, loadEventTypes);
  // A listen session's endpoint is named as one: its tapwire-listen:// URL is not a web address.
  const listenId = listenSessionIdOf(endpoint.url);
  const name = listenId === null ? endpoint.url : `Listen session ${listenId}`;
  ctx.setTitle(name);
  const appRoute = `/apps/${enc(app.id)}`;
  const route = `${appRoute}/endpoints/${enc(endpoint.id)}`;
  const tab = ctx.query.get('tab') === 'settings' ? 'settings' : 'activity';
  const state = h('div', { class: 'endpoint-state' });
  let current = endpoint;

  const drawState = () =>
    replace(
      state,
      current.disabled ? badge('disabled', 'failed') : badge('enabled', 'success'),
      current.fifo ? badge('FIFO', 'muted') : null,
      !can(ctx, 'ManageEndpoint')
        ? null
        : current.disabled
          ? button('Enable endpoint', () => setDisabled(false), { kind: 'primary' })
          : button('Disable endpoint', () => setDisabled(true)),
    );
  const setDisabled = async (/** @type {boolean} */ disabled) => {
    try {
      current = await api('PATCH', epPath, { body: { disabled } });
      drawState();
      ctx.notify(disabled ? 'Endpoint disabled: nothing is sent to it until you enable it again' : 'Endpoint enabled');
    } catch (error) {
      ctx.notify(/** @type {Error} */ (error).message, 'error');
    }
  };
  drawState();

  const title = h('h1', { tabindex: -1, class: 'url' }, name);
  add(
    ctx.main,
    crumbs(ctx, app, listenId === null ? h('span', { class: 'url' }, endpoint.url) : name),
    h('div', { class: 'page-head' }, title, state),
    endpoint.description ? h('p', { class: 'lead' }, endpoint.description) : null,
    h('p', { class: 'hint' }, h('code', {}, endpoint.id), endpoint.uid ? ` · uid ${endpoint.uid}` : '', ' · receives ', endpoint.filterTypes ? endpoint.filterTypes.join(', ') : 'every event type'),
    h(
      'nav',
      { class: 'tabs', 'aria-label': 'Endpoint sections' },
      h('a', { href: `#${route}`, 'aria-current': tab === 'activity' ? 'page' : null }, 'Activity'),
      h('a', { href: `#${route}?tab=settings`, 'aria-current': tab === 'settings' ? 'page' : null }, can(ctx, 'ViewEndpointSecret', 'ManageEndpointSecret', 'ManageEndpoint') ? 'Settings and secret' : 'Settings'),
    ),
  );
  if (tab === 'settings') {
    await renderEndpointSettings(ctx, { app, endpoint, types, epPath, appRoute, title, setCurrent: (/** @type {any} */ e) => (current = e) });
    return;
  }
  return renderEndpointActivity(ctx, { app, endpoint, types, epPath, route });
}

/**
 * What happens at an endpoint: test events, delivery counts and chart, recent messages (resend,
 * recover) and recent attempts, all refreshed live.
 * @param {PageContext} ctx
 * @param {{ app: any, endpoint: any, types: any[], epPath: string, route: string }} input
 */
async function renderEndpointActivity(ctx, { app, endpoint, types, epPath, route }) {
  const windowKey = windowOf(ctx.query);
  const openAttempts = new Set();
  const statsBox = h('div', {});
  const fifoBox = h('div', { class: 'fifo-line' });
  const chart = h('div', { class: 'chart-box' });
  const messagesBox = h('div', {});
  const attemptsBox = h('div', {});
  let messageLimit = 10;
  let attemptLimit = 10;
  const moreMessages = h('div', { class: 'more' });
  const moreAttempts = h('div', { class: 'more' });

  const resend = async (/** @type {string} */ msgId) => {
    try {
      await api('POST', `${appPath(ctx)}/msg/${enc(msgId)}/endpoint/${enc(endpoint.id)}/resend`);
      ctx.notify('Resent: a new attempt is on its way');
      await load();
    } catch (error) {
      ctx.notify(/** @type {Error} */ (error).message, 'error');
    }
  };

  const load = async () => {
    const [stats, attempts, messages, overTime] = await Promise.all([
      api('GET', `${epPath}/stats`),
      api('GET', `${appPath(ctx)}/attempt/endpoint/${enc(endpoint.id)}`, { query: { limit: attemptLimit } }),
      api('GET', `${epPath}/msg`, { query: { limit: messageLimit, with_content: false } }),
      api('GET', `${epPath}/stats/attempts`, { query: chartWindow(windowKey) }),
    ]);
    // A FIFO endpoint's line: what is at its head, since when it holds the others up, how many wait.
    const line = endpoint.fifo ? await api('GET', `${epPath}/fifo`) : null;
    if (!ctx.isCurrent()) return;
    redrawIfChanged(fifoBox, line, () => (line ? [fifoLine(line, app.id)] : []));
    redrawIfChanged(statsBox, stats, () => [
      h(
        'dl',
        { class: 'stats' },
        [
          ['Succeeded', stats.success, 'success'],
          ['Pending', stats.pending, ''],
          ['Retrying', stats.sending, ''],
          ['Failed', stats.fail, stats.fail ? 'bad' : ''],
          ['Canceled', stats.canceled, ''],
        ].map(([label, value, tone]) => h('div', { class: `stat ${tone ? `stat-${tone}` : ''}` }, h('dt', {}, String(label)), h('dd', {}, String(value)))),
      ),
      h('p', { class: 'hint' }, 'Messages of the last 28 days, by their latest delivery to this endpoint.'),
      concurrencyLine(stats.concurrency),
    ]);
    redrawIfChanged(chart, overTime.buckets, () => [attemptsChart(overTime, 'Attempts to this endpoint'), chartLegend()]);
    redrawIfChanged(messagesBox, messages.data.map((/** @type {any} */ m) => [m.id, m.status, m.nextAttempt]), () => [
      table(
        'Messages',
        ['Time', 'Event type', 'Message', 'Status', 'Next attempt', ''],
        messages.data.map((/** @type {any} */ m) => [
          timeElement(m.timestamp),
          h('code', {}, m.eventType),
          link(`/apps/${enc(app.id)}/messages/${enc(m.id)}`, h('code', {}, m.eventId ?? m.id)),
          deliveryBadge(m.status, m.deliverAt),
          nextAttemptCell(m.status, m.nextAttempt, m.deliverAt),
          can(ctx, 'CreateAttempts') ? button('Resend', () => resend(m.id), { label: `Resend ${m.eventId ?? m.id}` }) : '',
        ]),
        { empty: 'No messages sent to this endpoint yet.', captionHidden: true, rowAttrs: (i) => ({ 'data-msg': messages.data[i].id, 'data-status': messages.data[i].statusText }) },
      ),
    ]);
    replace(moreMessages, messages.done || messageLimit >= 250 ? null : button('Show more messages', async () => {
      messageLimit = Math.min(250, messageLimit + 25);
      await load();
    }));
    redrawIfChanged(attemptsBox, attempts.data.map((/** @type {any} */ a) => a.id), () => [attemptsTable(attempts.data, openAttempts, { appId: app.id, showMessage: true })]);
    replace(moreAttempts, attempts.done || attemptLimit >= 250 ? null : button('Show more attempts', async () => {
      attemptLimit = Math.min(250, attemptLimit + 25);
      await load();
    }));
  };
  await load();

  const testTypes = ['svix.ping', ...types.filter((t) => !t.archived && exampleOf(t.schemas) !== undefined).map((t) => t.name)];
  const testSelect = /** @type {HTMLSelectElement} */ (h('select', {}, testTypes.map((name) => h('option', { value: name }, name))));
  const testForm = h(
    'form',
    {
      class: 'inline-form',
      onsubmit: async (/** @type {SubmitEvent} */ event) => {
        event.preventDefault();
        try {
          const message = await api('POST', `${epPath}/send-example`, { body: { eventType: testSelect.value } });
          ctx.notify(`Test event sent (${message.id})`);
          await load();
        } catch (error) {
          ctx.notify(/** @type {Error} */ (error).message, 'error');
        }
      },
    },
    field('Event type', testSelect, 'svix.ping sends {"success": true}; the others send their catalogue example.'),
    h('button', { type: 'submit', class: 'btn btn-primary' }, 'Send test event'),
  );

  add(
    ctx.main,
    can(ctx, 'CreateAttempts') ? h('section', { class: 'card', 'aria-labelledby': 'test-title' }, h('h2', { id: 'test-title' }, 'Send a test event'), testForm) : null,
    h('section', { class: 'card' }, h('div', { class: 'section-head' }, h('h2', {}, 'Deliveries'), windowPicker(route, windowKey)), fifoBox, statsBox, chart),
    h('section', { class: 'card', 'aria-labelledby': 'attempts-title' }, h('h2', { id: 'attempts-title' }, 'Recent attempts'), h('p', { class: 'hint' }, 'Updates live.'), attemptsBox, moreAttempts),
    h('section', { class: 'card', 'aria-labelledby': 'messages-title' }, h('h2', { id: 'messages-title' }, 'Recent messages'), messagesBox, moreMessages, can(ctx, 'CreateAttempts') ? recoverForm(ctx, epPath, load) : null),
  );
  return { refresh: load };
}

/**
 * A FIFO endpoint's line (GET …/fifo, docs/fifo.md): its head message and, once that has failed,
 * since when it has been blocking the messages behind it.
 * @param {{ head: { msgId: string, deliveryId: string, attemptCount: number, blockedSince: string | null } | null, held: number }} line
 * @param {string} appId
 */
function fifoLine(line, appId) {
  const waiting = `${line.held} waiting behind it`;
  if (!line.head) return h('p', { class: 'hint', 'data-fifo': 'empty' }, badge('FIFO', 'muted'), ' In order, one at a time. Nothing queued.');
  const head = link(`/apps/${enc(appId)}/messages/${enc(line.head.msgId)}`, h('code', {}, line.head.msgId));
  if (!line.head.blockedSince) return h('p', { class: 'hint', 'data-fifo': 'moving' }, badge('FIFO', 'muted'), ' Sending ', head, `; ${waiting}.`);
  return h(
    'p',
    { class: 'fifo-blocked', 'data-fifo': 'blocked', role: 'status' },
    badge('FIFO blocked', 'failed'),
    ' Head ',
    head,
    ' has failed ',
    String(line.head.attemptCount),
    line.head.attemptCount === 1 ? ' time' : ' times',
    ' and blocks the line since ',
    timeElement(line.head.blockedSince),
    `; ${waiting}.`,
  );
}

/**
 * The endpoint's concurrency as the delivery worker sees it now (docs/delivery.md): its limit, what
 * is in flight and waiting, and a pause it asked for. Nothing when no worker runs in this server.
 * @param {{ limit: number, ceiling: number, adaptive: boolean, inFlight: number, buffered: number, pausedUntil: string | null } | null | undefined} c
 */
function concurrencyLine(c) {
  if (!c) return null;
  const parts = [
    `${c.inFlight} in flight of a limit of ${c.limit}`,
    c.adaptive ? `adapting up to ${c.ceiling}` : 'fixed',
    ...(c.buffered ? [`${c.buffered} waiting for a slot`] : []),
  ];
  return h(
    'p',
    { class: 'concurrency', 'data-limit': String(c.limit), 'data-in-flight': String(c.inFlight) },
    h('strong', {}, 'Concurrency: '),
    parts.join(', '),
    c.pausedUntil ? [' · paused until ', timeElement(c.pausedUntil), ' (it asked to be retried later)'] : null,
  );
}

/**
 * An endpoint's settings: URL, description, event types, rate limit, the signing secret, custom
 * headers, and deleting it.
 * @param {PageContext} ctx
 * @param {{ app: any, endpoint: any, types: any[], epPath: string, appRoute: string, title: HTMLElement, setCurrent: (endpoint: any) => void }} input
 */
async function renderEndpointSettings(ctx, { endpoint, types, epPath, appRoute, title, setCurrent }) {
  const manage = can(ctx, 'ManageEndpoint');
  const fields = endpointFields(types, endpoint);
  const settings = h(
    'form',
    {
      class: 'form',
      onsubmit: async (/** @type {SubmitEvent} */ event) => {
        event.preventDefault();
        try {
          const saved = await api('PATCH', epPath, { body: fields.body() });
          setCurrent(saved);
          replace(title, saved.url);
          ctx.notify('Saved');
        } catch (error) {
          ctx.notify(/** @type {Error} */ (error).message, 'error');
        }
      },
    },
    h('fieldset', { class: 'plain', disabled: !manage }, fields.elements),
    endpoint.channels ? h('p', { class: 'hint' }, `Channels: ${endpoint.channels.join(', ')}`) : null,
    manage ? h('button', { type: 'submit', class: 'btn btn-primary' }, 'Save settings') : h('p', { class: 'hint' }, 'This portal link can only look at the settings.'),
  );
  const showSecret = can(ctx, 'ViewEndpointSecret', 'ManageEndpointSecret', 'ManageEndpoint');
  const [secret, headers, transformation] = await Promise.all([
    showSecret ? secretPanel(ctx, epPath) : null,
    headersPanel(ctx, epPath),
    transformationPanel(ctx, epPath, (...needs) => can(ctx, ...needs)),
  ]);
  add(
    ctx.main,
    secret ? h('section', { class: 'card', 'aria-labelledby': 'secret-title' }, h('h2', { id: 'secret-title' }, 'Signing secret'), secret) : null,
    h('section', { class: 'card', 'aria-labelledby': 'settings-title' }, h('h2', { id: 'settings-title' }, 'Settings'), settings),
    h('section', { class: 'card', 'aria-labelledby': 'headers-title' }, h('h2', { id: 'headers-title' }, 'Custom headers'), headers),
    transformation ? h('section', { class: 'card', 'aria-labelledby': 'transformation-title' }, h('h2', { id: 'transformation-title' }, 'Transformation'), transformation) : null,
    !manage ? null : h(
      'section',
      { class: 'card danger', 'aria-labelledby': 'delete-title' },
      h('h2', { id: 'delete-title' }, 'Delete endpoint'),
      h('p', {}, 'Deleting stops every delivery to it at once. Its attempt log stays.'),
      confirmButton('Delete endpoint', `Delete ${endpoint.url}? This cannot be undone.`, async () => {
        try {
          await api('DELETE', epPath);
          ctx.notify('Endpoint deleted');
          ctx.navigate(appRoute);
        } catch (error) {
          ctx.notify(/** @type {Error} */ (error).message, 'error');
        }
      }),
    ),
  );
}

/**
 * "Resend every failed message since …" (POST …/recover).
 * @param {PageContext} ctx
 * @param {string} epPath
 * @param {() => Promise<void>} reload
 */
function recoverForm(ctx, epPath, reload) {
  const since = /** @type {HTMLInputElement} */ (h('input', { type: 'datetime-local', required: true, value: isoToLocalInput(new Date(Date.now() - 86_400_000).toISOString()) }));
  return h(
    'form',
    {
      class: 'inline-form',
      onsubmit: async (/** @type {SubmitEvent} */ event) => {
        event.preventDefault();
        const iso = localInputToIso(since.value);
        if (!iso) return;
        try {
          const result = await api('POST', `${epPath}/recover`, { body: { since: iso } });
          // A background task: the resends are queued once it finishes (GET /background-task/{id}).
          ctx.notify(result.status === 'finished' ? 'Failed messages queued again' : 'Recovering: failed messages are being queued again');
          await reload();
        } catch (error) {
          ctx.notify(/** @type {Error} */ (error).message, 'error');
        }
      },
    },
    field('Resend every failed message since', since),
    h('button', { type: 'submit', class: 'btn btn-secondary' }, 'Recover failed messages'),
  );
}

/**
 * The signing secret: hidden until asked for, copy, rotate.
 * @param {PageContext} ctx
 * @param {string} epPath
 */
async function secretPanel(ctx, epPath) {
  const panel = h('div', { class: 'stack' });
  let secret = (await api('GET', `${epPath}/secret`)).key;
  let shown = false;
  // An ed25519 endpoint (whsk_ key) shows its public key (whpk_), which is all a receiver needs.
  /** @param {string} key */
  const hintFor = (key) => key.startsWith('whpk_')
    ? 'This endpoint signs with an ed25519 key (v1a): receivers verify with this public key (Standard Webhooks). Rotating here makes a new HMAC secret; to stay on ed25519, rotate through the API with a whsk_ key.'
    : 'Receivers verify each webhook’s signature with this secret (Standard Webhooks).';
  const hint = h('p', { class: 'hint' }, hintFor(secret));
  const input = /** @type {HTMLInputElement} */ (h('input', { type: 'password', readonly: true, value: secret, class: 'mono', autocomplete: 'off' }));
  const toggle = button('Show', () => {
    shown = !shown;
    input.type = shown ? 'text' : 'password';
    toggle.textContent = shown ? 'Hide' : 'Show';
  });
  const rotate = confirmButton('Rotate secret', 'Rotate now? The current secret keeps signing for 24 hours, so receivers have time to switch.', async () => {
    try {
      await api('POST', `${epPath}/secret/rotate`, { body: {} });
      secret = (await api('GET', `${epPath}/secret`)).key;
      input.value = secret;
      hint.textContent = hintFor(secret);
      ctx.notify('Secret rotated; the previous one stays valid for 24 hours');
    } catch (error) {
      ctx.notify(/** @type {Error} */ (error).message, 'error');
    }
  }, 'secondary');
  replace(
    panel,
    hint,
    h('div', { class: 'inline-form' }, field('Secret', input), h('div', { class: 'actions' }, toggle, button('Copy', () => copyText(input, ctx)))),
    can(ctx, 'ManageEndpointSecret', 'ManageEndpoint') ? rotate : null,
  );
  return panel;
}

/**
 * Custom headers sent with every delivery: list, add or change, remove.
 * @param {PageContext} ctx
 * @param {string} epPath
 */
async function headersPanel(ctx, epPath) {
  const panel = h('div', {});
  const list = h('div', {});
  const draw = async () => {
    const { headers, sensitive } = await api('GET', `${epPath}/headers`);
    const names = [...Object.keys(headers), ...sensitive.filter((/** @type {string} */ s) => !(s in headers))];
    replace(
      list,
      table(
        'Custom headers',
        ['Name', 'Value', ''],
        names.map((name) => [
          h('code', {}, name),
          name in headers ? h('code', {}, headers[name]) : h('span', { class: 'hint' }, 'hidden (sensitive)'),
          !can(ctx, 'ManageEndpoint') ? '' : button('Remove', async () => {
            try {
              await api('PATCH', `${epPath}/headers`, { body: { headers: {}, deleteHeaders: [name] } });
              await draw();
              ctx.notify(`Removed ${name}`);
            } catch (error) {
              ctx.notify(/** @type {Error} */ (error).message, 'error');
            }
          }, { label: `Remove header ${name}` }),
        ]),
        { empty: 'No custom headers.', captionHidden: true },
      ),
    );
  };
  await draw();
  const name = /** @type {HTMLInputElement} */ (h('input', { type: 'text', required: true, pattern: '[A-Za-z0-9!#$%&\'*+.^_`|~\\-]+', autocomplete: 'off' }));
  const value = /** @type {HTMLInputElement} */ (h('input', { type: 'text', required: true, autocomplete: 'off' }));
  const form = h(
    'form',
    {
      class: 'inline-form',
      onsubmit: async (/** @type {SubmitEvent} */ event) => {
        event.preventDefault();
        try {
          await api('PATCH', `${epPath}/headers`, { body: { headers: { [name.value.trim()]: value.value } } });
          ctx.notify(`Saved ${name.value.trim()}`);
          name.value = '';
          value.value = '';
          await draw();
        } catch (error) {
          ctx.notify(/** @type {Error} */ (error).message, 'error');
        }
      },
    },
    field('Header name', name),
    field('Value', value),
    h('button', { type: 'submit', class: 'btn btn-secondary' }, 'Add header'),
  );
  replace(panel, list, can(ctx, 'ManageEndpoint') ? form : null);
  return panel;
}

// Messages ---------------------------------------------------------------------------------------------

const STATUS_FILTERS = [
  ['', 'Any status'],
  ['0', 'Succeeded'],
  ['1', 'Pending'],
  ['3', 'Retrying'],
  ['2', 'Failed'],
  ['4', 'Canceled'],
];

/** @param {PageContext} ctx */
export async function renderMessages(ctx) {
  const [app, types] = await Promise.all([api('GET', appPath(ctx)), loadEventTypes()]);
  ctx.setTitle('Messages');
  const route = `/apps/${enc(app.id)}/messages`;
  const q = ctx.query;
  const filters = {
    eventType: q.get('event_type') ?? '',
    status: q.get('status') ?? '',
    after: q.get('after') ?? '',
    before: q.get('before') ?? '',
    search: q.get('q') ?? '',
  };

  // The filter form writes its values into the address; the page re-renders from there.
  const eventType = /** @type {HTMLSelectElement} */ (
    h('select', { name: 'event_type' }, h('option', { value: '' }, 'Any event type'), types.map((t) => h('option', { value: t.name, selected: t.name === filters.eventType }, t.name)))
  );
  const status = /** @type {HTMLSelectElement} */ (h('select', { name: 'status' }, STATUS_FILTERS.map(([value, label]) => h('option', { value, selected: value === filters.status }, label))));
  const after = /** @type {HTMLInputElement} */ (h('input', { type: 'datetime-local', name: 'after', value: isoToLocalInput(filters.after || null) }));
  const before = /** @type {HTMLInputElement} */ (h('input', { type: 'datetime-local', name: 'before', value: isoToLocalInput(filters.before || null) }));
  const search = /** @type {HTMLInputElement} */ (h('input', { type: 'search', name: 'q', value: filters.search, placeholder: 'msg_… or your eventId', autocomplete: 'off' }));
  const form = h(
    'form',
    {
      class: 'card filters',
      role: 'search',
      onsubmit: (/** @type {SubmitEvent} */ event) => {
        event.preventDefault();
        const params = new URLSearchParams();
        if (search.value.trim()) params.set('q', search.value.trim());
        if (eventType.value) params.set('event_type', eventType.value);
        if (status.value) params.set('status', status.value);
        const afterIso = localInputToIso(after.value);
        const beforeIso = localInputToIso(before.value);
        if (afterIso) params.set('after', afterIso);
        if (beforeIso) params.set('before', beforeIso);
        const text = params.toString();
        ctx.navigate(text ? `${route}?${text}` : route);
      },
    },
    field('Id or eventId', search),
    field('Event type', eventType),
    field('Delivery status', status),
    field('After', after),
    field('Before', before),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'btn btn-primary' }, 'Filter'), link(route, 'Clear')),
  );

  const listBox = h('div', {});
  const more = h('div', { class: 'more' });
  /** @type {any[]} */
  const messages = [];
  const columns = ['Time', 'Event type', 'Message', 'Event id'];
  const draw = () =>
    replace(
      listBox,
      table(
        'Messages',
        filters.status ? [...columns, 'Status'] : columns,
        messages.map((m) => [
          timeElement(m.timestamp),
          h('code', {}, m.eventType),
          link(`/apps/${enc(app.id)}/messages/${enc(m.id)}`, h('code', {}, m.id)),
          m.eventId ?? '—',
          filters.status ? statusBadge(Number(filters.status)) : null,
        ]),
        { empty: filters.search ? 'No message has that id or eventId.' : 'No messages match.', captionHidden: true, rowAttrs: (i) => ({ 'data-msg': messages[i].id }) },
      ),
    );
  const query = () => ({ limit: PAGE_SIZE, with_content: false, event_types: filters.eventType || null, status: filters.status || null, after: filters.after || null, before: filters.before || null });

  /** @type {(() => Promise<void>) | undefined} */
  let refresh;
  if (filters.search) {
    // An id or eventId is one lookup, not a scan.
    try {
      messages.push(await api('GET', `${appPath(ctx)}/msg/${enc(filters.search)}`, { query: { with_content: false } }));
    } catch (error) {
      if (/** @type {any} */ (error).status !== 404) throw error;
    }
    draw();
  } else {
    /** @param {string | null} iterator */
    const loadPage = async (iterator) => {
      const page = await api('GET', `${appPath(ctx)}/msg`, { query: { ...query(), iterator } });
      messages.push(...page.data);
      draw();
      replace(more, page.done ? null : button('Older messages', () => loadPage(page.iterator)));
    };
    await loadPage(null);
    // Live: new messages appear at the top (only when no upper time bound hides them).
    if (!filters.before) {
      refresh = async () => {
        const page = await api('GET', `${appPath(ctx)}/msg`, { query: query() });
        if (!ctx.isCurrent()) return;
        const known = new Set(messages.map((m) => m.id));
        const fresh = page.data.filter((/** @type {any} */ m) => !known.has(m.id));
        if (fresh.length === 0) return;
        messages.unshift(...fresh);
        draw();
      };
    }
  }

  add(ctx.main, 
    crumbs(ctx, app, 'Messages'),
    h('div', { class: 'page-head' }, h('h1', { tabindex: -1 }, 'Messages')),
    form,
    h('section', { class: 'card' }, listBox, more),
  );
  return refresh ? { refresh } : undefined;
}

/** @param {PageContext} ctx */
export async function renderMessageDetail(ctx) {
  const msgPath = `${appPath(ctx)}/msg/${enc(ctx.params.msg ?? '')}`;
  const [app, message] = await Promise.all([api('GET', appPath(ctx)), api('GET', msgPath)]);
  ctx.setTitle(`Message ${message.eventId ?? message.id}`);
  const openAttempts = new Set();
  const destinationsBox = h('div', {});
  const attemptsBox = h('div', {});

  const resend = async (/** @type {string} */ endpointId) => {
    try {
      await api('POST', `${appPath(ctx)}/msg/${enc(message.id)}/endpoint/${enc(endpointId)}/resend`);
      ctx.notify('Resent: a new attempt is on its way');
      await load();
    } catch (error) {
      ctx.notify(/** @type {Error} */ (error).message, 'error');
    }
  };

  const load = async () => {
    const [destinations, attempts] = await Promise.all([
      api('GET', `${msgPath}/endpoint`, { query: { limit: 250 } }),
      api('GET', `${appPath(ctx)}/attempt/msg/${enc(message.id)}`, { query: { limit: 250 } }),
    ]);
    if (!ctx.isCurrent()) return;
    /** @type {Map<string, string>} */
    const urls = new Map(destinations.data.map((/** @type {any} */ d) => [d.id, d.url]));
    redrawIfChanged(destinationsBox, destinations.data.map((/** @type {any} */ d) => [d.id, d.status, d.nextAttempt]), () => [
      table(
        'Destinations',
        ['Endpoint', 'Status', 'Next attempt', ''],
        destinations.data.map((/** @type {any} */ d) => [
          link(`/apps/${enc(app.id)}/endpoints/${enc(d.id)}`, endpointName(d.url)),
          deliveryBadge(d.status, message.deliverAt),
          nextAttemptCell(d.status, d.nextAttempt, message.deliverAt),
          can(ctx, 'CreateAttempts') ? button('Resend', () => resend(d.id), { label: `Resend to ${d.url}` }) : '',
        ]),
        { empty: 'No endpoint was subscribed to this message.', captionHidden: true, rowAttrs: (i) => ({ 'data-endpoint': destinations.data[i].id, 'data-status': destinations.data[i].statusText }) },
      ),
    ]);
    redrawIfChanged(attemptsBox, attempts.data.map((/** @type {any} */ a) => a.id), () => [attemptsTable(attempts.data, openAttempts, { appId: app.id, showEndpoint: urls })]);
  };
  await load();

  const payload = message.payload && typeof message.payload === 'object' && message.payload.expired === true && Object.keys(message.payload).length === 1
    ? h('p', { class: 'hint' }, 'The payload has expired or was deleted.')
    : message.transformationsParams?.rawPayload !== undefined
      ? codeBlock(message.transformationsParams.rawPayload, 'Payload')
      : codeBlock(prettyJson(message.payload), 'Payload');
  add(ctx.main, 
    crumbs(ctx, app, link(`/apps/${enc(app.id)}/messages`, 'Messages'), h('code', {}, message.eventId ?? message.id)),
    h('div', { class: 'page-head' }, h('h1', { tabindex: -1 }, h('code', {}, message.eventType))),
    h(
      'dl',
      { class: 'facts' },
      h('div', {}, h('dt', {}, 'Message id'), h('dd', {}, h('code', {}, message.id))),
      h('div', {}, h('dt', {}, 'Event id'), h('dd', {}, message.eventId ?? '—')),
      h('div', {}, h('dt', {}, 'Created'), h('dd', {}, timeElement(message.timestamp))),
      message.channels ? h('div', {}, h('dt', {}, 'Channels'), h('dd', {}, message.channels.join(', '))) : null,
      message.tags ? h('div', {}, h('dt', {}, 'Tags'), h('dd', {}, message.tags.join(', '))) : null,
      message.deliverAt ? h('div', {}, h('dt', {}, 'Scheduled for'), h('dd', { 'data-deliver-at': message.deliverAt }, timeElement(message.deliverAt))) : null,
      message.transformationsParams ? h('div', {}, h('dt', {}, 'Content type'), h('dd', {}, h('code', {}, message.transformationsParams.headers['content-type']))) : null,
    ),
    h('section', { class: 'card', 'aria-labelledby': 'payload-title' }, h('h2', { id: 'payload-title' }, 'Payload'), payload),
    h('section', { class: 'card', 'aria-labelledby': 'dest-title' }, h('h2', { id: 'dest-title' }, 'Destinations'), destinationsBox),
    h('section', { class: 'card', 'aria-labelledby': 'attempts-title' }, h('h2', { id: 'attempts-title' }, 'Attempts'), h('p', { class: 'hint' }, 'Updates live.'), attemptsBox),
  );
  return { refresh: load };
}
