// @ts-check
// Building DOM without HTML strings: every piece of data becomes a text node, so a payload or a
// response body holding "<script>" shows as those characters and never runs. Nothing in the
// dashboard hands data to an HTML parser.

/**
 * @typedef {string | number | Node | null | undefined | false} Child
 * @typedef {Record<string, string | number | boolean | null | undefined | ((event: any) => void)>} Attrs
 */

/**
 * Create an element. Attributes starting with `on` are listeners; `true` sets a boolean attribute,
 * `false`/null/undefined leave it out. Children may be strings (text), nodes or arrays of them.
 * @param {string} tag
 * @param {Attrs} [attrs]
 * @param {...(Child | Child[])} children
 * @returns {HTMLElement}
 */
export function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (typeof value === 'function') element.addEventListener(name.slice(2).toLowerCase(), value);
    else if (value === true) element.setAttribute(name, '');
    else element.setAttribute(name, String(value));
  }
  append(element, children);
  return element;
}

/**
 * @param {Node} parent
 * @param {(Child | Child[])[]} children
 */
export function append(parent, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(typeof child === 'string' || typeof child === 'number' ? document.createTextNode(String(child)) : child);
  }
}

/**
 * Append children (null, undefined and false are skipped).
 * @param {Node} parent
 * @param {...(Child | Child[])} children
 */
export function add(parent, ...children) {
  append(parent, children);
}

/**
 * Replace every child of `parent`.
 * @param {Node} parent
 * @param {...(Child | Child[])} children
 */
export function replace(parent, ...children) {
  while (parent.firstChild) parent.removeChild(parent.firstChild);
  append(parent, children);
}

/** @param {string | null | undefined} iso */
export function formatTime(iso) {
  if (!iso) return '—';
  const date = new Date(iso);
  const sameYear = date.getFullYear() === new Date().getFullYear();
  return date.toLocaleString(undefined, {
    ...(sameYear ? {} : { year: 'numeric' }),
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
  });
}

/** @param {string | null | undefined} iso */
export function timeElement(iso) {
  return h('time', { datetime: iso ?? '', title: iso ?? null }, formatTime(iso));
}

/** @param {number | null | undefined} ms */
export function formatDuration(ms) {
  if (ms === null || ms === undefined) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  const minutes = Math.floor(ms / 60_000);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  return hours < 48 ? `${hours} h ${minutes % 60} min` : `${Math.floor(hours / 24)} d`;
}

/** Delivery and attempt status as numbered by the API. */
export const STATUS = /** @type {const} */ ({ 0: 'success', 1: 'pending', 2: 'failed', 3: 'sending', 4: 'canceled' });

/**
 * A status badge: the word is always written out, so colour is never the only signal.
 * @param {number} status
 */
export function statusBadge(status) {
  const name = STATUS[/** @type {0 | 1 | 2 | 3} */ (status)] ?? 'unknown';
  return h('span', { class: `badge badge-${name}` }, name);
}

/**
 * True when a delivery (its status) waits for its message's scheduled time (deliverAt, ISO) rather
 * than for a retry: still pending, with that time ahead.
 * @param {number} status
 * @param {string | null | undefined} deliverAt
 */
export function isScheduled(status, deliverAt) {
  return status === 1 && typeof deliverAt === 'string' && Date.parse(deliverAt) > Date.now();
}

/**
 * A delivery's status badge, or `scheduled` (with its time as a tooltip) while it waits for its
 * message's deliverAt: not to be read as an ordinary pending retry.
 * @param {number} status
 * @param {string | null | undefined} deliverAt
 */
export function deliveryBadge(status, deliverAt) {
  if (!isScheduled(status, deliverAt)) return statusBadge(status);
  return h('span', { class: 'badge badge-scheduled', title: `Scheduled for ${deliverAt}` }, 'scheduled');
}

/**
 * A delivery's next-attempt cell: `scheduled for <time>` while it waits for deliverAt, else the
 * next attempt's time, or — when none.
 * @param {number} status
 * @param {string | null | undefined} nextAttempt
 * @param {string | null | undefined} deliverAt
 */
export function nextAttemptCell(status, nextAttempt, deliverAt) {
  if (isScheduled(status, deliverAt)) return h('span', { class: 'scheduled-for' }, 'scheduled for ', timeElement(/** @type {string} */ (deliverAt)));
  return nextAttempt ? timeElement(nextAttempt) : '—';
}

/**
 * A small label badge (enabled, disabled, deprecated…).
 * @param {string} text
 * @param {string} kind
 */
export function badge(text, kind) {
  return h('span', { class: `badge badge-${kind}` }, text);
}

/**
 * JSON shown as indented text (as text: never parsed as HTML).
 * @param {unknown} value
 */
export function prettyJson(value) {
  if (typeof value === 'string') {
    try {
      return JSON.stringify(JSON.parse(value), null, 2);
    } catch {
      return value;
    }
  }
  return JSON.stringify(value, null, 2);
}

/**
 * A `<pre>` of code-like text that scrolls on its own instead of widening the page.
 * @param {string} text
 * @param {string} [label] accessible name
 */
export function codeBlock(text, label) {
  return h('pre', { class: 'code', tabindex: 0, 'aria-label': label ?? null }, h('code', {}, text));
}

/**
 * Hash link to a dashboard route.
 * @param {string} route e.g. `/apps/app_123`
 * @param {...(Child | Child[])} children
 */
export function link(route, ...children) {
  return h('a', { href: `#${route}` }, ...children);
}

/**
 * A labelled form field. `input` gets an id so the label points at it.
 * @param {string} label
 * @param {HTMLElement} input
 * @param {string} [hint]
 */
export function field(label, input, hint) {
  const id = input.id || `f-${Math.random().toString(36).slice(2, 10)}`;
  input.id = id;
  const hintId = hint ? `${id}-hint` : null;
  if (hintId) input.setAttribute('aria-describedby', hintId);
  return h('div', { class: 'field' }, h('label', { for: id }, label), input, hint ? h('p', { class: 'hint', id: hintId }, hint) : null);
}

/**
 * A table whose header is `columns` and whose body is `rows` (each a list of cells). Wrapped so it
 * scrolls sideways on a phone instead of breaking the layout.
 * @param {string} caption
 * @param {string[]} columns
 * @param {(Child | Child[])[][]} rows
 * @param {{ empty?: string, captionHidden?: boolean, rowAttrs?: (index: number) => Attrs }} [options]
 */
export function table(caption, columns, rows, options = {}) {
  const body = rows.length
    ? rows.map((cells, i) => h('tr', options.rowAttrs?.(i) ?? {}, cells.map((cell, c) => h('td', { 'data-label': columns[c] }, cell))))
    : [h('tr', {}, h('td', { colspan: columns.length, class: 'empty' }, options.empty ?? 'Nothing here yet.'))];
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      {},
      h('caption', { class: options.captionHidden ? 'visually-hidden' : null }, caption),
      h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, body),
    ),
  );
}

/**
 * A button that runs `action`, disabled while it runs.
 * @param {string} text
 * @param {() => Promise<unknown> | unknown} action
 * @param {{ kind?: 'primary' | 'secondary' | 'danger' | 'link', type?: string, label?: string }} [options]
 */
export function button(text, action, options = {}) {
  const element = /** @type {HTMLButtonElement} */ (
    h('button', { type: options.type ?? 'button', class: `btn btn-${options.kind ?? 'secondary'}`, 'aria-label': options.label ?? null }, text)
  );
  element.addEventListener('click', async () => {
    element.disabled = true;
    try {
      await action();
    } finally {
      element.disabled = false;
    }
  });
  return element;
}

/** `datetime-local` value (local time, no zone) → ISO string, or null when empty. @param {string} value */
export function localInputToIso(value) {
  if (!value) return null;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}

/** ISO string → `datetime-local` value in local time. @param {string | null} iso */
export function isoToLocalInput(iso) {
  if (!iso) return '';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '';
  const pad = (/** @type {number} */ n) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}
