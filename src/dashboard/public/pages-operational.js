// @ts-check
// Operational webhooks, for operators: the endpoints where Tapwire sends its own events
// (endpoint.disabled, message.attempt.exhausted…), listed and created through
// /api/v1/operational-webhook/endpoint. They are endpoints of the reserved operational application,
// so each one opens in the ordinary endpoint pages (activity, settings, secret and rotation, custom
// headers, delete), where the event-type picker offers the operational events.
import { api, enc } from './api.js';
import { add, badge, h, link, table } from './dom.js';
import { endpointFields } from './pages-app.js';
import { redrawIfChanged } from './pages-operator.js';

/** @typedef {import('./app.js').PageContext} PageContext */

/** uid of the reserved application that holds the operational endpoints (the server's OPERATIONAL_APP_UID). */
export const OPERATIONAL_APP_UID = 'tapwire-operational';

/** The operational events, as the event-type picker shows them. */
export const OPERATIONAL_EVENT_TYPES = [
  ['endpoint.created', 'An endpoint was created'],
  ['endpoint.updated', 'An endpoint was changed (settings, secret rotation, headers)'],
  ['endpoint.deleted', 'An endpoint was deleted'],
  ['endpoint.disabled', 'An endpoint was disabled: 410 Gone, failing too long, or through the API'],
  ['endpoint.enabled', 'A disabled endpoint was enabled again'],
  ['message.attempt.failing', 'A message failed its 4th attempt to an endpoint and will be retried'],
  ['message.attempt.exhausted', 'A message will not be retried: its schedule ran out'],
  ['message.attempt.recovered', 'A message that was failing reached its endpoint'],
].map(([name, description]) => ({ name, description, archived: false, deprecated: false, schemas: null }));

/**
 * The event types an application's endpoints choose from: the operational events for the
 * operational application, else the catalogue `load()` reads.
 * @param {any} app
 * @param {() => Promise<any[]>} load
 */
export function eventTypesFor(app, load) {
  return app.uid === OPERATIONAL_APP_UID ? Promise.resolve(OPERATIONAL_EVENT_TYPES) : load();
}

/** @param {PageContext} ctx */
export async function renderOperationalWebhooks(ctx) {
  ctx.setTitle('Operational webhooks');
  const list = h('div', {});
  const endpointRoute = (/** @type {any} */ e) => `/apps/${OPERATIONAL_APP_UID}/endpoints/${enc(e.id)}`;
  const load = async () => {
    const page = await api('GET', '/operational-webhook/endpoint', { query: { limit: 250 } });
    if (!ctx.isCurrent()) return;
    redrawIfChanged(list, page.data, () => [
      table(
        'Operational webhook endpoints',
        ['URL', 'Description', 'State', 'Events'],
        page.data.map((/** @type {any} */ e) => [
          link(endpointRoute(e), h('span', { class: 'url' }, e.url)),
          e.description || '—',
          e.disabled ? badge('disabled', 'failed') : badge('enabled', 'success'),
          e.filterTypes ? e.filterTypes.join(', ') : 'all',
        ]),
        { empty: 'No operational endpoints: Tapwire sends none of its own events.', captionHidden: true },
      ),
    ]);
  };
  await load();

  const fields = endpointFields(OPERATIONAL_EVENT_TYPES);
  const form = h(
    'form',
    {
      class: 'card form',
      onsubmit: async (/** @type {SubmitEvent} */ event) => {
        event.preventDefault();
        try {
          const endpoint = await api('POST', '/operational-webhook/endpoint', { body: fields.body() });
          ctx.notify('Operational endpoint added');
          ctx.navigate(endpointRoute(endpoint));
        } catch (error) {
          ctx.notify(/** @type {Error} */ (error).message, 'error');
        }
      },
    },
    h('h2', {}, 'Add an operational endpoint'),
    fields.elements,
    h('button', { type: 'submit', class: 'btn btn-primary' }, 'Create operational endpoint'),
  );
  add(
    ctx.main,
    h('div', { class: 'page-head' }, h('h1', { tabindex: -1 }, 'Operational webhooks')),
    h(
      'p',
      { class: 'lead' },
      'Where Tapwire tells you about your customers’ endpoints: created, changed, disabled, and messages that keep failing. ',
      'Each endpoint is signed, retried and logged like any other; open one for its deliveries, secret and headers.',
    ),
    h('section', { class: 'card' }, list),
    form,
  );
  return { refresh: load };
}
