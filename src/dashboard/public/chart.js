// @ts-check
// A hand-made SVG bar chart of attempts per time bucket (successes and failures stacked). No
// library: a few dozen rectangles. Colours come from the stylesheet; each bar has a tooltip and
// the chart an accessible summary, and the figures are also written out beside it.

const SVG = 'http://www.w3.org/2000/svg';

/**
 * @param {string} tag
 * @param {Record<string, string | number>} attrs
 * @param {string} [text]
 */
function svg(tag, attrs, text) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) element.setAttribute(name, String(value));
  if (text !== undefined) element.textContent = text;
  return element;
}

/**
 * @param {Date} date
 * @param {number} bucketSeconds
 */
function axisLabel(date, bucketSeconds) {
  if (bucketSeconds >= 86_400) return date.toLocaleDateString(undefined, { month: 'short', day: 'numeric' });
  if (bucketSeconds >= 3600) return date.toLocaleString(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
  return date.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
}

/**
 * The chart of an AttemptsOverTimeOut answer.
 * @param {{ buckets: { start: string, success: number, fail: number }[], bucketSeconds: number, total: { success: number, fail: number } }} data
 * @param {string} title what the chart shows, for screen readers
 * @returns {Element}
 */
export function attemptsChart(data, title) {
  const width = 720;
  const height = 220;
  const pad = { top: 12, right: 12, bottom: 28, left: 44 };
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const max = Math.max(1, ...data.buckets.map((b) => b.success + b.fail));
  // A round top for the axis: 1, 2, 5 × 10^n.
  const magnitude = 10 ** Math.floor(Math.log10(max));
  const top = [1, 2, 5, 10].map((m) => m * magnitude).find((v) => v >= max) ?? max;
  const total = data.total.success + data.total.fail;
  const rate = total ? `${((data.total.success / total) * 100).toFixed(1)} % succeeded` : 'no attempts';
  const root = svg('svg', { viewBox: `0 0 ${width} ${height}`, class: 'chart', role: 'img', 'aria-label': `${title}: ${total} attempts, ${rate}` });
  root.appendChild(svg('title', {}, `${title}: ${total} attempts, ${rate}`));

  const y = (/** @type {number} */ value) => pad.top + plotH - (value / top) * plotH;
  for (const value of [0, top / 2, top]) {
    root.appendChild(svg('line', { x1: pad.left, x2: width - pad.right, y1: y(value), y2: y(value), class: 'chart-grid' }));
    // Counts are whole: the middle line of a 0–1 or 0–5 axis gets no label.
    if (Number.isInteger(value)) root.appendChild(svg('text', { x: pad.left - 6, y: y(value) + 4, class: 'chart-axis', 'text-anchor': 'end' }, String(value)));
  }
  const n = Math.max(1, data.buckets.length);
  const slot = plotW / n;
  const barW = Math.max(1, slot * 0.75);
  data.buckets.forEach((bucket, i) => {
    const x = pad.left + i * slot + (slot - barW) / 2;
    const start = new Date(bucket.start);
    const tip = `${axisLabel(start, data.bucketSeconds)}: ${bucket.success} succeeded, ${bucket.fail} failed`;
    const group = svg('g', {});
    group.appendChild(svg('title', {}, tip));
    if (bucket.success > 0) group.appendChild(svg('rect', { x, y: y(bucket.success), width: barW, height: y(0) - y(bucket.success), class: 'chart-success' }));
    if (bucket.fail > 0) {
      group.appendChild(svg('rect', { x, y: y(bucket.success + bucket.fail), width: barW, height: y(bucket.success) - y(bucket.success + bucket.fail), class: 'chart-fail' }));
    }
    // An invisible full-height target so the tooltip shows over empty buckets too.
    group.appendChild(svg('rect', { x: pad.left + i * slot, y: pad.top, width: slot, height: plotH, class: 'chart-hit' }));
    root.appendChild(group);
  });
  const labelAt = [0, Math.floor((n - 1) / 2), n - 1].filter((v, i, all) => all.indexOf(v) === i);
  for (const i of labelAt) {
    const bucket = data.buckets[i];
    if (!bucket) continue;
    const anchor = i === 0 ? 'start' : i === n - 1 ? 'end' : 'middle';
    const x = i === 0 ? pad.left : i === n - 1 ? width - pad.right : pad.left + i * slot + slot / 2;
    root.appendChild(svg('text', { x, y: height - 8, class: 'chart-axis', 'text-anchor': anchor }, axisLabel(new Date(bucket.start), data.bucketSeconds)));
  }
  return root;
}
