// @ts-check
// An endpoint's transformation on its settings tab: the code in a plain editor, the switch, Save,
// and "Try it on a recent message", which runs the code as written (saved or not) through the
// simulate API and shows what would be sent, or the error, before anything is saved.
import { api } from './api.js';
import { button, codeBlock, field, h, prettyJson, replace } from './dom.js';

/** @typedef {import('./app.js').PageContext} PageContext */

/** What an empty editor starts with: a handler that changes nothing, to edit. */
const STARTER = `function handler(webhook) {
  // webhook: { method, url, payload, eventType, headers }
  // Change what you need and return it, or set webhook.cancel = true to skip this message.
  return webhook;
}
`;

/**
 * The transformation card's content, or null when the session may not manage transformations
 * (the portal shows it only to tokens with ManageTransformations; the server refuses the rest).
 * @param {PageContext} ctx
 * @param {string} epPath the endpoint's API path
 * @param {(...needs: string[]) => boolean} may whether the session has one of these capabilities
 */
export async function transformationPanel(ctx, epPath, may) {
  if (!may('ManageTransformations')) return null;
  const path = `${epPath}/transformation`;
  const saved = await api('GET', path);
  const code = /** @type {HTMLTextAreaElement} */ (
    h('textarea', { rows: 12, spellcheck: 'false', autocomplete: 'off' }, saved.code ?? STARTER)
  );
  const enabled = /** @type {HTMLInputElement} */ (h('input', { type: 'checkbox', checked: saved.enabled }));
  const result = h('div', { 'aria-live': 'polite' });

  const save = button(
    'Save transformation',
    async () => {
      try {
        const text = code.value.trim() === '' ? null : code.value;
        await api('PATCH', path, { body: { code: text, enabled: text === null ? false : enabled.checked } });
        if (text === null) enabled.checked = false;
        ctx.notify(text === null ? 'Transformation removed' : enabled.checked ? 'Transformation saved; deliveries run it from now on' : 'Transformation saved (off)');
      } catch (error) {
        ctx.notify(/** @type {Error} */ (error).message, 'error');
      }
    },
    { kind: 'primary' },
  );

  const tryIt = button('Try it on a recent message', async () => {
    try {
      const msgId = await recentMessageId(epPath);
      if (msgId === null) {
        replace(result, h('p', { class: 'hint' }, 'No message has been sent to this application yet: send a test event first.'));
        return;
      }
      const out = await api('POST', `${path}/simulate`, { body: { code: code.value, msgId } });
      replace(result, describeResult(out, msgId));
    } catch (error) {
      replace(result, h('p', { class: 'form-error', role: 'alert' }, /** @type {Error} */ (error).message));
    }
  });

  return h(
    'div',
    {},
    h(
      'p',
      { class: 'hint' },
      'JavaScript defining handler(webhook), run before each delivery is signed: return webhook with a new payload, url, method or extra headers, ',
      'or set webhook.cancel = true to skip the message. It runs in a sandbox with no network, timers or files; a handler that throws, ',
      'runs too long or uses too much memory makes a failed attempt.',
    ),
    field('Code', code),
    h('label', { class: 'inline-check' }, enabled, ' Run it on deliveries'),
    h('div', { class: 'actions' }, save, tryIt),
    result,
  );
}

/**
 * The newest message sent to this endpoint, else the application's newest message; null when none.
 * @param {string} epPath
 * @returns {Promise<string | null>}
 */
async function recentMessageId(epPath) {
  const sent = await api('GET', `${epPath}/msg?limit=1&with_content=false`);
  if (sent.data.length > 0) return sent.data[0].id;
  const appPath = epPath.slice(0, epPath.lastIndexOf('/endpoint/'));
  const any = await api('GET', `${appPath}/msg?limit=1&with_content=false`);
  return any.data.length > 0 ? any.data[0].id : null;
}

/**
 * @param {any} out the simulate answer
 * @param {string} msgId
 */
function describeResult(out, msgId) {
  const on = h('p', { class: 'hint' }, 'Tried on message ', h('code', {}, msgId), ` in ${out.durationMs.toFixed(1)} ms. Nothing was sent.`);
  if (out.outcome === 'ok') {
    return h(
      'div',
      {},
      on,
      h('p', {}, h('strong', {}, `${out.method} `), h('span', { class: 'url' }, out.url)),
      Object.keys(out.headers).length > 0 ? codeBlock(Object.entries(out.headers).map(([k, v]) => `${k}: ${v}`).join('\n'), 'Added headers') : null,
      codeBlock(prettyJson(out.body), 'Body that would be signed and sent'),
    );
  }
  if (out.outcome === 'cancel') return h('div', {}, on, h('p', {}, 'The handler cancels this message: the delivery would end canceled, nothing sent.'));
  return h('div', {}, on, h('p', { class: 'form-error', role: 'alert' }, out.error));
}

