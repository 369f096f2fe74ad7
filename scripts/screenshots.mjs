// Screenshots of the dashboard for docs/: starts a Tapwire from dist/ on a throw-away SQLite file,
// fills it with a day of traffic to two receivers on 127.0.0.1 (one healthy, one failing), and
// photographs the main pages with Debian's Chromium at laptop and phone width.
//
//   npm run build && node scripts/screenshots.mjs [--out docs/screenshots]
//
// Needs /usr/bin/chromium (or CHROMIUM_PATH); playwright's own browser download is never used.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pino from 'pino';
import { chromium } from 'playwright-core';
import { loadConfig } from '../dist/config/config.js';
import { TapwireServer } from '../dist/tapwire-server.js';

const outIndex = process.argv.indexOf('--out');
const outDir = resolve(outIndex > 0 ? process.argv[outIndex + 1] : 'docs/screenshots');
const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ADMIN_TOKEN = 'tw_admin_screenshots_0123456789';
const HOUR = 3600_000;

/** A receiver on 127.0.0.1 answering `status` after `delayMs()`. */
async function startReceiver(status, delayMs) {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => setTimeout(() => res.writeHead(status(), { 'content-type': 'application/json' }).end(status() < 300 ? '{"ok":true}' : '{"error":"database is read-only"}'), delayMs()));
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}`, close: () => new Promise((r) => server.close(r)) };
}

const dir = mkdtempSync(join(tmpdir(), 'tapwire-shots-'));
// The server's clock runs behind the real one while the past day is filled in, then catches up.
let offsetMs = 0;
const clock = { now: () => new Date(Date.now() - offsetMs) };
const config = loadConfig({
  env: {
    TAPWIRE_DATABASE_URL: join(dir, 'tapwire.db'),
    TAPWIRE_PORT: '0',
    TAPWIRE_ADMIN_TOKEN: ADMIN_TOKEN,
    TAPWIRE_ALLOWED_NETWORKS: '127.0.0.0/8',
    TAPWIRE_HTTPS_ONLY: 'false',
    TAPWIRE_RETRY_SCHEDULE: '10m,30m',
    TAPWIRE_BRAND_NAME: 'Acme Webhooks',
  },
});
const server = await TapwireServer.create({ config, clock, logger: pino({ level: 'silent' }), workerMaxIdleMs: 20 });
const base = await server.start();
let seed = 7;
const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
const healthy = await startReceiver(() => 200, () => 5 + Math.floor(random() * 40));
let flakyFailing = true;
const flaky = await startReceiver(() => (flakyFailing ? 503 : 200), () => 20 + Math.floor(random() * 200));
const slow = await startReceiver(() => 200, () => 300 + Math.floor(random() * 300));

async function call(method, path, body, token = ADMIN_TOKEN) {
  const res = await fetch(`${base}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

const browser = await chromium.launch({ executablePath: chromiumPath, headless: true });
try {
  for (const [name, description, example] of [
    ['invoice.paid', 'An invoice was paid in full.', { invoice: 'inv_1001', customer: 'cus_42', amount: 4200, currency: 'eur' }],
    ['invoice.payment_failed', 'A payment attempt for an invoice failed.', { invoice: 'inv_1002', customer: 'cus_42', reason: 'card_declined' }],
    ['customer.created', 'A new customer signed up.', { customer: 'cus_43', email: 'ada@example.com' }],
    ['subscription.canceled', 'A subscription was canceled; it ends at the close of the period.', { subscription: 'sub_9', endsAt: '2026-12-31T23:59:59Z' }],
  ]) {
    await call('POST', '/event-type', { name, description, schemas: { 1: { type: 'object', examples: [example] } } });
  }
  const acme = await call('POST', '/app', { name: 'Acme Inc', uid: 'acme' });
  await call('POST', '/app', { name: 'Globex Corporation', uid: 'globex' });
  await call('POST', '/app', { name: 'Initech', uid: 'initech' });
  const billing = await call('POST', '/app/acme/endpoint', { url: `${healthy.url}/webhooks/billing`, description: 'Billing service', filterTypes: ['invoice.paid', 'invoice.payment_failed'] });
  await call('PUT', `/app/acme/endpoint/${billing.id}/headers`, { headers: { 'X-Team': 'billing' } });
  const crm = await call('POST', '/app/acme/endpoint', { url: `${flaky.url}/hooks/crm`, description: 'CRM sync (staging)' });
  await call('POST', '/app/acme/endpoint', { url: `${slow.url}/slow/audit-log`, description: 'Audit log archive' });
  const globexEp = await call('POST', '/app/globex/endpoint', { url: `${healthy.url}/globex`, description: 'Globex main' });
  await call('POST', '/app/initech/endpoint', { url: 'http://127.0.0.1:9/tps-reports', description: 'TPS reports', disabled: true });

  // A day of traffic, an hour at a time, on the server's delayed clock.
  const types = ['invoice.paid', 'invoice.paid', 'customer.created', 'invoice.payment_failed', 'subscription.canceled'];
  let n = 1000;
  for (let hoursAgo = 23; hoursAgo >= 0; hoursAgo--) {
    offsetMs = hoursAgo * HOUR + 20 * 60_000;
    flakyFailing = hoursAgo < 9 && hoursAgo > 2;
    const count = 3 + Math.floor(random() * 6) + (hoursAgo < 5 ? 6 : 0);
    for (let i = 0; i < count; i++) {
      const eventType = types[Math.floor(random() * types.length)];
      n++;
      await call('POST', `/app/${random() < 0.8 ? 'acme' : 'globex'}/msg`, { eventType, eventId: `evt_${n}`, payload: { id: `evt_${n}`, type: eventType, amount: Math.floor(random() * 90_000) / 100 } });
    }
    const deadline = Date.now() + 10_000;
    // Move the clock on only when nothing is due or in flight, so no attempt straddles the jump.
    const busy = async () => (await call('GET', '/stats/queue')).due > 0 || (await call('GET', '/health')).worker.activeAttempts > 0;
    while (Date.now() < deadline && (await busy())) await new Promise((r) => setTimeout(r, 20));
  }
  offsetMs = 0;
  flakyFailing = true;
  // Something to look at on the message page: a payload that tries to be HTML (shown as text).
  await call('POST', '/app/acme/msg', { eventType: 'customer.created', eventId: 'evt_signup_2001', payload: { customer: 'cus_77', name: '<img src=x onerror=alert(1)>', plan: 'pro', seats: 12, tags: ['beta', 'eu'] } });
  await new Promise((r) => setTimeout(r, 1500));
  void globexEp;

  const portal = await call('POST', '/auth/app-portal-access/acme', {});
  const shoot = async (page, file) => {
    await page.waitForLoadState('networkidle');
    // No hover effects in the pictures.
    await page.mouse.move(0, 0);
    await page.screenshot({ path: join(outDir, file), fullPage: true });
    console.log('wrote', join(outDir, file));
  };
  mkdirSync(outDir, { recursive: true });

  const desktop = await browser.newContext({ viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1 });
  const page = await desktop.newPage();
  page.on('console', (m) => m.type() === 'error' && console.error('browser:', m.text()));
  page.on('pageerror', (e) => console.error('page error:', e.message));
  await page.goto(`${base}/`);
  await page.getByLabel('Access token').waitFor();
  await shoot(page, 'login.png');
  await page.getByLabel('Access token').fill(ADMIN_TOKEN);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('heading', { name: 'Overview' }).waitFor();
  await page.locator('svg.chart').first().waitFor();
  await shoot(page, 'overview.png');
  await page.goto(`${base}/#/apps`);
  await page.getByRole('heading', { name: 'Applications' }).waitFor();
  await shoot(page, 'applications.png');
  await page.goto(`${base}/#/event-types`);
  await page.getByRole('heading', { name: 'Event types' }).waitFor();
  await page.locator('details summary').first().click();
  await shoot(page, 'event-types.png');
  await desktop.close();

  // The customer portal, as a customer opens it from the link.
  const portalContext = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const p = await portalContext.newPage();
  await p.goto(portal.url);
  await p.getByRole('heading', { name: 'Endpoints' }).waitFor();
  await p.locator('svg.chart').waitFor();
  await shoot(p, 'portal-endpoints.png');
  await p.goto(`${base}/portal#/apps/${acme.id}/endpoints/${crm.id}`);
  await p.getByRole('heading', { name: 'Recent attempts' }).waitFor();
  await p.locator('[data-attempt]').first().waitFor();
  await p.locator('details.response summary').first().click();
  await shoot(p, 'portal-endpoint.png');
  await p.getByRole('link', { name: 'Settings and secret' }).click();
  await p.getByRole('heading', { name: 'Signing secret' }).waitFor();
  await shoot(p, 'portal-endpoint-settings.png');
  await p.goto(`${base}/portal#/apps/${acme.id}/messages`);
  await p.locator('[data-msg]').first().waitFor();
  await shoot(p, 'portal-messages.png');
  await p.goto(`${base}/portal#/apps/${acme.id}/messages/evt_signup_2001`);
  await p.locator('[data-attempt]').first().waitFor();
  await shoot(p, 'portal-message.png');
  await portalContext.close();

  const phone = await browser.newContext({ viewport: { width: 375, height: 740 }, deviceScaleFactor: 1, isMobile: true, hasTouch: true });
  const m = await phone.newPage();
  await m.goto(portal.url);
  await m.getByRole('heading', { name: 'Endpoints' }).waitFor();
  await m.goto(`${base}/portal#/apps/${acme.id}/endpoints/${crm.id}`);
  await m.locator('[data-attempt]').first().waitFor();
  await m.screenshot({ path: join(outDir, 'phone-endpoint.png') });
  console.log('wrote', join(outDir, 'phone-endpoint.png'));
  await m.goto(`${base}/portal#/apps/${acme.id}/messages/evt_signup_2001`);
  await m.locator('[data-attempt]').first().waitFor();
  await shoot(m, 'phone-message.png');
  await phone.close();
} finally {
  await browser.close();
  await server.close();
  await Promise.all([healthy.close(), flaky.close(), slow.close()]);
  rmSync(dir, { recursive: true, force: true });
}
