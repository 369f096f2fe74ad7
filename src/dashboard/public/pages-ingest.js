// @ts-check
// Ingest sources, for operators: the URLs given to Stripe, GitHub and other providers, listed
// through the Ingest API (GET /ingest/api/v1/source, which takes the same admin token as /api/v1).
// Each source owns an application (uid `ingest-<source id>`) that is left out of the application
// list; its ingest endpoints and received events open in the ordinary application pages.
import { api, enc } from './api.js';
import { add, button, codeBlock, h, link, replace, table, timeElement } from './dom.js';
import { copyText } from './pages-operator.js';

/** @typedef {import('./app.js').PageContext} PageContext */

/** The root of the Ingest API. */
const INGEST_API = '/ingest/api/v1';

/**
 * The ingest URL, selectable and copyable. It holds the source's token, so it is shown to the
 * operator only (this page is admin-only, like the Ingest API).
 * @param {any} source
 * @param {PageContext} ctx
 */
function ingestUrlCell(source, ctx) {
  const input = /** @type {HTMLInputElement} */ (
    h('input', { type: 'text', readonly: true, value: source.ingestUrl, class: 'mono ingest-url', 'aria-label': `Ingest URL of ${source.name}`, autocomplete: 'off', spellcheck: 'false' })
  );
  return h('div', { class: 'copy-field' }, input, button('Copy', () => copyText(input, ctx), { label: `Copy the ingest URL of ${source.name}` }));
}

/** @param {PageContext} ctx */
export async function renderIngestSources(ctx) {
  ctx.setTitle('Ingest sources');
  const list = h('div', {});
  const more = h('div', { class: 'more' });
  /** @type {any[]} */
  const sources = [];

  const draw = () => {
    if (sources.length === 0) {
      replace(
        list,
        h('p', { class: 'empty' }, 'No ingest sources yet. Create one through the Ingest API, with the admin token:'),
        codeBlock(
          `curl -X POST "${location.origin}${INGEST_API}/source" \\\n  -H "Authorization: Bearer $TAPWIRE_ADMIN_TOKEN" -H "Content-Type: application/json" \\\n  -d '{"name": "Stripe (live)", "type": "stripe", "config": {"secret": "whsec_…"}}'`,
          'Command that creates an ingest source',
        ),
      );
      return;
    }
    replace(
      list,
      table(
        'Ingest sources',
        ['Name', 'Type', 'Ingest URL', 'Events and endpoints', 'Created'],
        sources.map((s) => [
          h('span', {}, s.name, h('span', { class: 'hint block' }, h('code', {}, s.id), s.uid ? ` · uid ${s.uid}` : '')),
          h('code', {}, s.type),
          ingestUrlCell(s, ctx),
          link(`/apps/ingest-${enc(s.id)}`, 'Endpoints and events', h('span', { class: 'visually-hidden' }, ` of ${s.name}`)),
          timeElement(s.createdAt),
        ]),
        { captionHidden: true, rowAttrs: (i) => ({ 'data-source': sources[i].id }) },
      ),
    );
  };

  /** @param {string | null} iterator */
  const loadPage = async (iterator) => {
    const page = await api('GET', '/source', { base: INGEST_API, query: { limit: 50, iterator } });
    sources.push(...page.data);
    draw();
    replace(more, page.done ? null : button('Load more', () => loadPage(page.iterator)));
  };
  await loadPage(null);

  add(
    ctx.main,
    h('div', { class: 'page-head' }, h('h1', { tabindex: -1 }, 'Ingest sources')),
    h(
      'p',
      { class: 'lead' },
      'Webhooks Tapwire receives from providers (Stripe, GitHub, Shopify, Slack, any Svix sender): each source has a URL to give the provider, ',
      'checks its signatures, keeps every event and forwards it to the source’s ingest endpoints with retries. ',
      'Treat an ingest URL like a password: it is all a sender needs.',
    ),
    h('section', { class: 'card', 'aria-label': 'Sources' }, list, more),
  );
}
