// The dashboard in a real browser (Debian's Chromium through playwright-core) against a real
// Tapwire and real receivers on 127.0.0.1: logging in as the operator and through a portal link,
// creating an endpoint, a test event arriving live, a failed attempt resent from the page, tenant
// isolation, payloads that try to be HTML, and a phone-width layout. Every wait is on a condition.
// The page goes through the same HTTP API on both backends, so one backend (SQLite) is enough here.
import { randomBytes } from 'node:crypto';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { chromiumAvailable, launchChromium } from './helpers/chromium.js';
import { createEndpoint, eventually, expectStatus, sendMessage, waitForDestinationStatus } from './helpers/delivery.js';
import { startReceiver, type Receiver } from './helpers/receiver.js';
import { ADMIN_TOKEN, startTapwire, type TestTapwire } from './helpers/tapwire.js';

describe.skipIf(!chromiumAvailable())('dashboard in Chromium', () => {
  let tw: TestTapwire;
  let browser: Browser;
  let receiver: Receiver;
  let appA: string;
  let appB: string;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    [tw, browser, receiver] = await Promise.all([startTapwire({}, { backend: 'sqlite' }), launchChromium(), startReceiver()]);
    appA = expectStatus(await tw.api('POST', '/api/v1/app', { name: 'Acme Inc', uid: 'acme' }), 201, 'app A').body.id;
    appB = expectStatus(await tw.api('POST', '/api/v1/app', { name: 'Globex', uid: 'globex' }), 201, 'app B').body.id;
    expectStatus(
      await tw.api('POST', '/api/v1/event-type', {
        name: 'invoice.paid',
        description: 'An invoice was paid',
        schemas: { 1: { type: 'object', examples: [{ invoice: 'inv_1', amount: 4200 }] } },
      }),
      201,
      'event type',
    );
    expectStatus(await tw.api('POST', '/api/v1/event-type', { name: 'user.created', description: 'A user signed up' }), 201, 'event type');
  });
  afterEach(async () => {
    receiver.respond(() => ({ status: 200, body: 'ok' }));
    while (contexts.length > 0) await contexts.pop()!.close();
  });
  afterAll(async () => {
    await browser?.close();
    await receiver?.close();
    await tw?.close();
  });

  /** A fresh browser profile (its own sessionStorage), failing the test on any page error. */
  async function newPage(viewport = { width: 1280, height: 800 }): Promise<Page> {
    const context = await browser.newContext({ viewport });
    contexts.push(context);
    context.setDefaultTimeout(10_000);
    const page = await context.newPage();
    page.on('pageerror', (error) => {
      throw new Error(`page error: ${error.message}`);
    });
    return page;
  }

  async function portalUrl(appId: string): Promise<string> {
    return expectStatus(await tw.api('POST', `/api/v1/auth/app-portal-access/${appId}`, {}), 200, 'portal access').body.url as string;
  }

  /** A fresh page logged in as the operator, on the overview. */
  async function operatorPage(): Promise<Page> {
    const page = await newPage();
    await page.goto(`${tw.url}/`);
    await page.getByLabel('Access token').fill(ADMIN_TOKEN);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
    return page;
  }

  /** The visitor's token as the page keeps it. */
  const storedToken = (page: Page) => page.evaluate(() => sessionStorage.getItem('tapwire.token'));

  it('logs the operator in with the keyboard, serves the page with its CSP, and logs out', async () => {
    const page = await newPage();
    const response = await page.goto(`${tw.url}/`);
    expect(response!.headers()['content-security-policy']).toContain("script-src 'self'");
    expect(response!.headers()['content-security-policy']).toContain("frame-ancestors 'none'");

    // A wrong token is refused; the right one, typed and sent with Enter, logs in.
    const token = page.getByLabel('Access token');
    await expect.poll(() => token.evaluate((el) => el === document.activeElement)).toBe(true);
    await page.keyboard.type('tw_admin_wrong_token_000000');
    await page.keyboard.press('Enter');
    await page.getByText('That token is not valid').waitFor();
    await token.fill('');
    await token.focus();
    await page.keyboard.type(ADMIN_TOKEN);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
    await page.locator('svg.chart').waitFor();
    await page.getByRole('table', { name: 'Failing endpoints' }).waitFor();
    expect(page.url()).not.toContain(ADMIN_TOKEN);

    await page.getByRole('link', { name: 'Applications' }).click();
    await page.getByRole('link', { name: 'Globex' }).waitFor();
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByLabel('Access token').waitFor();
    expect(await storedToken(page)).toBeNull();
  });

  it('logs a customer in from a portal link, drops the token from the address, and shows only their application', async () => {
    const page = await newPage();
    const url = await portalUrl(appA);
    const token = new URL(url).hash.replace('#token=', '');
    await page.goto(url);
    await page.getByRole('heading', { name: 'Endpoints', level: 1 }).waitFor();
    expect(page.url()).toBe(`${tw.url}/portal#/apps/${appA}`);
    expect(await storedToken(page)).toBe(token);
    // The portal's own menu: no operator pages.
    const nav = page.getByRole('navigation', { name: 'Main' });
    expect(await nav.getByRole('link').allTextContents()).toEqual(['Endpoints', 'Messages', 'Event types']);
    expect(await page.locator('#who').textContent()).toContain('Acme Inc');

    // Another application's pages are not found, and operator pages lead back home.
    await page.evaluate((id) => (location.hash = `#/apps/${id}`), appB);
    await page.getByRole('heading', { name: 'Not found' }).waitFor();
    await page.evaluate(() => (location.hash = '#/apps'));
    await page.getByRole('heading', { name: 'Endpoints', level: 1 }).waitFor();
    expect(page.url()).toBe(`${tw.url}/portal#/apps/${appA}`);

    // The token itself cannot reach them either.
    const statuses = await page.evaluate(async (paths) => {
      const token = sessionStorage.getItem('tapwire.token');
      const out: number[] = [];
      for (const path of paths) out.push((await fetch(path, { headers: { authorization: `Bearer ${token}` } })).status);
      return out;
    }, [`/api/v1/app/${appB}`, `/api/v1/app/${appB}/endpoint`, '/api/v1/app', '/api/v1/stats/endpoints', `/api/v1/app/${appA}`]);
    expect(statuses).toEqual([404, 404, 403, 403, 200]);
  });

  it('creates an endpoint from the portal, sends a test event and shows the attempt without reloading', async () => {
    const page = await newPage();
    await page.goto(await portalUrl(appA));
    await page.getByRole('link', { name: 'Add endpoint' }).click();
    await page.getByLabel('Endpoint URL').fill(`${receiver.url}/portal-hook`);
    await page.getByLabel('Description').fill('Created in the browser');
    await page.getByLabel('Only the types chosen below').check();
    await page.getByRole('checkbox', { name: /invoice\.paid/ }).check();
    await page.getByRole('button', { name: 'Create endpoint' }).click();
    await page.getByRole('heading', { name: `${receiver.url}/portal-hook`, level: 1 }).waitFor();
    const endpoints = expectStatus(await tw.api('GET', `/api/v1/app/${appA}/endpoint`), 200, 'endpoints').body.data as any[];
    const created = endpoints.find((e) => e.url === `${receiver.url}/portal-hook`);
    expect(created).toMatchObject({ description: 'Created in the browser', filterTypes: ['invoice.paid'] });

    // A marker that a reload would wipe: the attempt must appear while it stays.
    await page.evaluate(() => ((window as unknown as { stillHere: boolean }).stillHere = true));
    const before = receiver.requests.length;
    await page.getByLabel('Event type').selectOption('invoice.paid');
    await page.getByRole('button', { name: 'Send test event' }).click();
    await receiver.waitFor((requests) => requests.length > before);
    expect(JSON.parse(receiver.requests.at(-1)!.body.toString())).toEqual({ invoice: 'inv_1', amount: 4200 });
    await page.locator('[data-attempt][data-status="success"]').first().waitFor();
    expect(await page.evaluate(() => (window as unknown as { stillHere?: boolean }).stillHere)).toBe(true);
    // The endpoint's concurrency as the worker sees it: its adaptive limit and what is in flight.
    const concurrency = page.locator('p.concurrency');
    await concurrency.waitFor();
    expect(await concurrency.textContent()).toMatch(/^Concurrency: \d+ in flight of a limit of \d+, adapting up to 64/);
  });

  it('hides from a read-only portal link what its token may not do', async () => {
    // An application of its own, so the other tests' counts stay as they are.
    const appId = expectStatus(await tw.api('POST', '/api/v1/app', { name: 'Read-only viewer' }), 201, 'app').body.id as string;
    const endpoint = await createEndpoint(tw, appId, { url: `${receiver.url}/read-only-view`, description: 'Seen, not changed' });
    const url = expectStatus(await tw.api('POST', `/api/v1/auth/app-portal-access/${appId}`, { readOnly: true }), 200, 'read-only access').body.url as string;
    const page = await newPage();
    await page.goto(url);
    await page.getByRole('heading', { name: 'Endpoints', level: 1 }).waitFor();
    await page.getByRole('link', { name: `${receiver.url}/read-only-view` }).waitFor();
    expect(await page.getByRole('link', { name: 'Add endpoint' }).count()).toBe(0);
    await page.getByRole('link', { name: `${receiver.url}/read-only-view` }).click();
    await page.getByRole('heading', { name: `${receiver.url}/read-only-view`, level: 1 }).waitFor();
    await page.getByRole('heading', { name: 'Recent messages' }).waitFor();
    for (const name of ['Disable endpoint', 'Send test event', 'Resend']) expect(await page.getByRole('button', { name }).count(), name).toBe(0);
    await page.getByRole('link', { name: 'Settings' }).click();
    await page.getByRole('heading', { name: 'Custom headers' }).waitFor();
    expect(await page.getByRole('heading', { name: 'Signing secret' }).count()).toBe(0);
    expect(await page.getByRole('heading', { name: 'Transformation' }).count()).toBe(0);
    for (const name of ['Save settings', 'Delete endpoint', 'Add header', 'Rotate secret']) expect(await page.getByRole('button', { name }).count(), name).toBe(0);
    expect(await page.getByLabel('Endpoint URL').isDisabled()).toBe(true);
    expect(expectStatus(await tw.api('GET', `/api/v1/app/${appId}/endpoint/${endpoint.id}`), 200, 'endpoint').body.description).toBe('Seen, not changed');
  });

  it('edits a transformation in a portal with ManageTransformations: tries it on a recent message, shows errors, saves it', async () => {
    const appId = expectStatus(await tw.api('POST', '/api/v1/app', { name: 'Transforming tenant' }), 201, 'app').body.id as string;
    const endpoint = await createEndpoint(tw, appId, { url: `${receiver.url}/transform-view` });
    const msgId = await sendMessage(tw, appId, { eventType: 'user.created', payload: { user: 'u_9' } });
    await waitForDestinationStatus(tw, appId, msgId, endpoint.id, 0);
    const url = expectStatus(await tw.api('POST', `/api/v1/auth/app-portal-access/${appId}`, { capabilities: ['ViewBase', 'ManageTransformations'] }), 200, 'access').body.url as string;
    const page = await newPage();
    await page.goto(url);
    await page.getByRole('link', { name: `${receiver.url}/transform-view` }).click();
    await page.getByRole('link', { name: 'Settings' }).click();
    await page.getByRole('heading', { name: 'Transformation' }).waitFor();
    const code = page.getByLabel('Code');
    await code.fill('function handler(webhook) { webhook.payload = { text: "new " + webhook.payload.user }; return webhook; }');
    await page.getByRole('button', { name: 'Try it on a recent message' }).click();
    await page.getByText('Nothing was sent.').waitFor();
    await page.getByText('"text": "new u_9"').waitFor();
    await code.fill('function handler(webhook) { throw new Error("not yet"); }');
    await page.getByRole('button', { name: 'Try it on a recent message' }).click();
    await page.getByRole('alert').filter({ hasText: 'Transformation failed: Error: not yet (line 1)' }).waitFor();
    await code.fill('function handler(webhook) { webhook.headers["X-From"] = "portal"; return webhook; }');
    await page.getByLabel('Run it on deliveries').check();
    await page.getByRole('button', { name: 'Save transformation' }).click();
    await page.getByText('Transformation saved; deliveries run it from now on').waitFor();
    expect(expectStatus(await tw.api('GET', `/api/v1/app/${appId}/endpoint/${endpoint.id}/transformation`), 200, 'get').body).toMatchObject({
      code: 'function handler(webhook) { webhook.headers["X-From"] = "portal"; return webhook; }',
      enabled: true,
    });
    expect(receiver.requests.filter((r) => r.path === '/transform-view')).toHaveLength(1);
  });

  it('shows a failed attempt with its response as text, and resends it from the page until it succeeds', async () => {
    receiver.respond(() => ({ status: 500, body: 'boom <b>bold</b>' }));
    const endpoint = await createEndpoint(tw, appA, { url: `${receiver.url}/flaky`, filterTypes: ['user.created'] });
    const msgId = await sendMessage(tw, appA, { eventType: 'user.created', payload: { user: 'u_1' } });
    await waitForDestinationStatus(tw, appA, msgId, endpoint.id, 2);

    const page = await newPage();
    await page.goto(`${tw.url}/`);
    await page.getByLabel('Access token').fill(ADMIN_TOKEN);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
    await page.evaluate(([app, msg]) => (location.hash = `#/apps/${app}/messages/${msg}`), [appA, msgId]);
    const destination = page.locator(`[data-endpoint="${endpoint.id}"]`);
    await destination.and(page.locator('[data-status="fail"]')).waitFor();
    const failed = page.locator('[data-attempt][data-status="fail"]');
    await expect.poll(() => failed.count()).toBe(3);
    await failed.first().getByText('Response body').click();
    await failed.first().getByText('boom <b>bold</b>').waitFor();
    expect(await failed.first().locator('b').count()).toBe(0);
    expect(await failed.first().textContent()).toContain('500');

    receiver.respond(() => ({ status: 200, body: 'fine' }));
    await destination.getByRole('button', { name: /^Resend/ }).click();
    await destination.and(page.locator('[data-status="success"]')).waitFor();
    await page.locator('[data-attempt][data-status="success"]').waitFor();
    expect((await tw.api('GET', `/api/v1/app/${appA}/msg/${msgId}/endpoint`)).body.data[0]).toMatchObject({ id: endpoint.id, status: 0 });
  });

  it('shows a delivery waiting for its deliverAt as scheduled, with its time, and a raw payload as its exact text', async () => {
    const appId = expectStatus(await tw.api('POST', '/api/v1/app', { name: 'Scheduler' }), 201, 'app').body.id as string;
    const endpoint = await createEndpoint(tw, appId, { url: `${receiver.url}/later` });
    const deliverAt = new Date(Date.now() + 3_600_000).toISOString();
    const xml = '<invoice id="7">\n  <paid/>\n</invoice>';
    const sent = await tw.api('POST', `/api/v1/app/${appId}/msg`, {
      eventType: 'invoice.paid',
      payload: {},
      deliverAt,
      transformationsParams: { rawPayload: xml, headers: { 'content-type': 'application/xml' } },
    });
    const msgId = expectStatus(sent, 202, 'scheduled message').body.id as string;

    const page = await newPage();
    await page.goto(await portalUrl(appId));
    await page.getByRole('heading', { name: 'Endpoints', level: 1 }).waitFor();
    await page.evaluate(([app, msg]) => (location.hash = `#/apps/${app}/messages/${msg}`), [appId, msgId]);
    const destination = page.locator(`[data-endpoint="${endpoint.id}"]`);
    await destination.waitFor();
    await destination.locator('.badge-scheduled', { hasText: 'scheduled' }).waitFor();
    expect(await destination.locator('.badge-pending').count()).toBe(0);
    expect(await destination.locator('.scheduled-for time').getAttribute('datetime')).toBe(deliverAt);
    expect(await page.locator('[data-deliver-at] time').getAttribute('datetime')).toBe(deliverAt);
    expect(await page.locator('pre[aria-label="Payload"]').textContent()).toBe(xml);

    await page.evaluate(([app, ep]) => (location.hash = `#/apps/${app}/endpoints/${ep}`), [appId, endpoint.id]);
    const row = page.locator(`[data-msg="${msgId}"]`);
    await row.locator('.badge-scheduled').waitFor();
    expect(await row.locator('.scheduled-for time').getAttribute('datetime')).toBe(deliverAt);
    expect(receiver.requests.filter((r) => r.path === '/later')).toEqual([]);
  });

  it('shows a FIFO endpoint as such, and its blocked head with since when it blocks', async () => {
    // Its own server: the head's retry is an hour away, so the line stays blocked while the page looks.
    const slow = await startTapwire({ TAPWIRE_RETRY_SCHEDULE: '1h' }, { backend: 'sqlite' });
    try {
      receiver.respond((req) => (req.path === '/ordered' ? { status: 500, body: 'down' } : { status: 200, body: 'ok' }));
      const appId = expectStatus(await slow.api('POST', '/api/v1/app', { name: 'Ordered' }), 201, 'app').body.id as string;
      const endpoint = await createEndpoint(slow, appId, { url: `${receiver.url}/ordered`, fifo: true });
      const head = await sendMessage(slow, appId, { eventType: 'invoice.paid', payload: { n: 1 } });
      await sendMessage(slow, appId, { eventType: 'invoice.paid', payload: { n: 2 } });
      const line = await eventually(
        async () => expectStatus(await slow.api('GET', `/api/v1/app/${appId}/endpoint/${endpoint.id}/fifo`), 200, 'fifo line').body,
        (body) => body.head?.blockedSince != null,
        { what: 'a blocked head' },
      );

      const page = await newPage();
      const portal = expectStatus(await slow.api('POST', `/api/v1/auth/app-portal-access/${appId}`, {}), 200, 'portal access').body.url as string;
      await page.goto(portal);
      await page.getByRole('heading', { name: 'Endpoints', level: 1 }).waitFor();
      await page.evaluate(([app, ep]) => (location.hash = `#/apps/${app}/endpoints/${ep}`), [appId, endpoint.id]);
      await page.locator('.endpoint-state .badge', { hasText: 'FIFO' }).waitFor();
      const blocked = page.locator('[data-fifo="blocked"]');
      await blocked.waitFor();
      expect(await blocked.getByRole('link', { name: head }).count()).toBe(1);
      expect(await blocked.locator('time').getAttribute('datetime')).toBe(line.head.blockedSince);
      expect(await blocked.textContent()).toContain('1 waiting behind it');

      await page.evaluate(([app, ep]) => (location.hash = `#/apps/${app}/endpoints/${ep}?tab=settings`), [appId, endpoint.id]);
      expect(await page.getByLabel('FIFO: deliver in order, one at a time').isChecked()).toBe(true);
    } finally {
      await slow.close();
    }
  });

  it('lists, creates, edits and deletes operational webhook endpoints, with their secret and headers', async () => {
    const page = await newPage();
    await page.goto(`${tw.url}/`);
    await page.getByLabel('Access token').fill(ADMIN_TOKEN);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Operational webhooks' }).click();
    await page.getByRole('heading', { name: 'Operational webhooks', level: 1 }).waitFor();
    await page.getByText('No operational endpoints').waitFor();

    // The picker offers the operational events, not the catalogue.
    await page.getByLabel('Endpoint URL').fill(`${receiver.url}/ops-from-page`);
    await page.getByLabel('Description').fill('Pager');
    await page.getByLabel('Only the types chosen below').check();
    expect(await page.getByRole('checkbox', { name: /invoice\.paid/ }).count()).toBe(0);
    await page.getByRole('checkbox', { name: /endpoint\.disabled/ }).check();
    await page.getByRole('checkbox', { name: /message\.attempt\.exhausted/ }).check();
    await page.getByRole('button', { name: 'Create operational endpoint' }).click();
    await page.getByRole('heading', { name: `${receiver.url}/ops-from-page`, level: 1 }).waitFor();
    // Its pages lead back to the operational page (the application is not in the application list).
    await page.getByRole('navigation', { name: 'Breadcrumb' }).getByRole('link', { name: 'Operational webhooks', exact: true }).waitFor();
    const listed = expectStatus(await tw.api('GET', '/api/v1/operational-webhook/endpoint'), 200, 'operational endpoints').body.data as any[];
    expect(listed).toHaveLength(1);
    const created = listed[0];
    expect(created).toMatchObject({ url: `${receiver.url}/ops-from-page`, description: 'Pager', filterTypes: ['endpoint.disabled', 'message.attempt.exhausted'] });
    const opsPath = `/api/v1/operational-webhook/endpoint/${created.id}`;
    const firstSecret = expectStatus(await tw.api('GET', `${opsPath}/secret`), 200, 'secret').body.key as string;

    // Settings: edit the filter, rotate the secret, add a header, through the ordinary endpoint pages.
    await page.getByRole('link', { name: 'Settings and secret' }).click();
    await page.getByRole('heading', { name: 'Signing secret' }).waitFor();
    expect(await page.getByRole('textbox', { name: 'Secret', exact: true }).inputValue()).toBe(firstSecret);
    await page.getByRole('checkbox', { name: /endpoint\.enabled/ }).check();
    await page.getByRole('button', { name: 'Save settings' }).click();
    await page.getByText('Saved').waitFor();
    expect(expectStatus(await tw.api('GET', opsPath), 200, 'get').body.filterTypes).toEqual(['endpoint.disabled', 'endpoint.enabled', 'message.attempt.exhausted']);
    await page.getByRole('button', { name: 'Rotate secret' }).click();
    await page.getByRole('button', { name: 'Rotate secret' }).click();
    await page.getByText('Secret rotated').waitFor();
    const rotated = expectStatus(await tw.api('GET', `${opsPath}/secret`), 200, 'secret').body.key as string;
    expect(rotated).not.toBe(firstSecret);
    expect(await page.getByRole('textbox', { name: 'Secret', exact: true }).inputValue()).toBe(rotated);
    await page.getByLabel('Header name').fill('X-Team');
    await page.getByLabel('Value').fill('sre');
    await page.getByRole('button', { name: 'Add header' }).click();
    await page.getByRole('cell', { name: 'X-Team', exact: true }).waitFor();
    expect(expectStatus(await tw.api('GET', `${opsPath}/headers`), 200, 'headers').body.headers).toEqual({ 'X-Team': 'sre' });

    // Back on the list, then delete it.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Operational webhooks' }).click();
    await page.getByRole('link', { name: `${receiver.url}/ops-from-page` }).click();
    await page.getByRole('link', { name: 'Settings and secret' }).click();
    await page.getByRole('button', { name: 'Delete endpoint' }).click();
    await page.getByRole('button', { name: 'Delete endpoint' }).click();
    await page.getByText('Endpoint deleted').waitFor();
    expect(expectStatus(await tw.api('GET', '/api/v1/operational-webhook/endpoint'), 200, 'list').body.data).toEqual([]);
  });

  it('renders payloads that contain HTML or script as plain text', async () => {
    const dialogs: string[] = [];
    const payload = {
      html: '<img src=x onerror="window.injected=1">',
      script: '<script>window.injected=2</script>',
      style: '<style>body{display:none}</style>',
    };
    const msgId = await sendMessage(tw, appA, { eventType: 'user.created', payload });
    const page = await newPage();
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    await page.goto(await portalUrl(appA));
    await page.getByRole('heading', { name: 'Endpoints', level: 1 }).waitFor();
    await page.evaluate((id) => (location.hash = `#/apps/${id}/messages`), appA);
    // Search by id: one lookup.
    await page.getByLabel('Id or eventId').fill(msgId);
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.locator(`[data-msg="${msgId}"]`).getByRole('link').click();
    const code = page.locator('pre[aria-label="Payload"]');
    await code.waitFor();
    const text = await code.textContent();
    expect(text).toContain('<img src=x onerror=\\"window.injected=1\\">');
    expect(text).toContain('<script>window.injected=2</script>');
    expect(await page.locator('main img, main script, main style').count()).toBe(0);
    expect(await page.evaluate(() => (window as unknown as { injected?: number }).injected)).toBeUndefined();
    expect(await page.locator('body').isVisible()).toBe(true);
    expect(dialogs).toEqual([]);
  });

  it('filters messages by event type and status', async () => {
    receiver.respond((req) => (req.path.startsWith('/always-fails') ? { status: 503 } : { status: 200 }));
    const endpoint = await createEndpoint(tw, appA, { url: `${receiver.url}/always-fails`, filterTypes: ['invoice.paid'] });
    const msgId = await sendMessage(tw, appA, { eventType: 'invoice.paid', payload: { invoice: 'inv_2' } });
    await waitForDestinationStatus(tw, appA, msgId, endpoint.id, 2);
    const page = await newPage();
    await page.goto(await portalUrl(appA));
    await page.getByRole('heading', { name: 'Endpoints', level: 1 }).waitFor();
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Messages' }).click();
    const rows = () => page.locator('[data-msg]').evaluateAll((found) => found.map((r) => r.getAttribute('data-msg')));
    await page.getByLabel('Event type').selectOption('invoice.paid');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/event_type=invoice\.paid/);
    const expected = (expectStatus(await tw.api('GET', `/api/v1/app/${appA}/msg?event_types=invoice.paid`), 200, 'messages').body.data as any[]).map((m) => m.id);
    expect(expected).toContain(msgId);
    await expect.poll(rows).toEqual(expected);

    await page.getByLabel('Event type').selectOption('');
    await page.getByLabel('Delivery status').selectOption({ label: 'Failed' });
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/status=2/);
    const failed = (expectStatus(await tw.api('GET', `/api/v1/app/${appA}/msg?status=2`), 200, 'messages').body.data as any[]).map((m) => m.id);
    expect(failed).toEqual([msgId]);
    await expect.poll(rows).toEqual(failed);
  });

  it('lists ingest sources with their URL to copy and a link to their endpoints and events', async () => {
    const page = await operatorPage();
    const nav = page.getByRole('navigation', { name: 'Main' });
    await nav.getByRole('link', { name: 'Ingest sources' }).click();
    await page.getByRole('heading', { name: 'Ingest sources', level: 1 }).waitFor();
    await page.getByText('No ingest sources yet').waitFor();
    expect(await nav.getByRole('link', { name: 'Ingest sources' }).getAttribute('aria-current')).toBe('page');

    // A source and one ingest endpoint, through the Ingest API; the page shows it on its next visit.
    const created = await tw.api('POST', '/ingest/api/v1/source', { name: 'Shop <events>', uid: 'shop-events', type: 'generic-webhook' });
    const source = expectStatus(created, 201, 'ingest source').body as { id: string; ingestUrl: string };
    expectStatus(await tw.api('POST', `/ingest/api/v1/source/${source.id}/endpoint`, { url: `${receiver.url}/from-ingest` }), 201, 'ingest endpoint');
    await page.getByRole('link', { name: 'Overview' }).click();
    await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
    await nav.getByRole('link', { name: 'Ingest sources' }).click();
    const row = page.locator(`[data-source="${source.id}"]`);
    await row.waitFor();
    expect(await row.getByRole('cell').first().textContent()).toContain('Shop <events>');
    expect(await row.getByText('generic-webhook', { exact: true }).count()).toBe(1);
    const url = row.getByRole('textbox', { name: 'Ingest URL of Shop <events>' });
    expect(await url.inputValue()).toBe(source.ingestUrl);
    await row.getByRole('button', { name: 'Copy the ingest URL of Shop <events>' }).click();
    // Copied, or selected for Ctrl+C where the clipboard is refused: either way the whole URL is selected.
    await page.getByText(/^(Copied|Selected: press Ctrl\+C)/).waitFor();
    expect(await url.evaluate((el: HTMLInputElement) => el.value.slice(el.selectionStart ?? 0, el.selectionEnd ?? 0))).toBe(source.ingestUrl);

    // The link opens the source's application: its ingest endpoint, and a breadcrumb back here.
    await row.getByRole('link', { name: 'Endpoints and events of Shop <events>' }).click();
    await page.getByRole('heading', { name: 'Ingest source: Shop <events>', level: 1 }).waitFor();
    expect(page.url()).toBe(`${tw.url}/#/apps/ingest-${source.id}`);
    await page.getByRole('link', { name: `${receiver.url}/from-ingest` }).waitFor();
    await page.getByRole('navigation', { name: 'Breadcrumb' }).getByRole('link', { name: 'Ingest sources' }).waitFor();

    // An event posted to the ingest URL shows among the application's messages.
    const posted = await fetch(source.ingestUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"order":"o_1"}' });
    expect(posted.status).toBe(200);
    const msgId = ((await posted.json()) as { id: string }).id;
    await page.getByRole('link', { name: 'Browse messages →' }).click();
    await page.locator(`[data-msg="${msgId}"]`).waitFor();
  });

  it('says when the server has no listen sessions, shows how to start one, and a reconnecting session', async () => {
    // The answers of GET /api/v1/listen-session are played by the browser, so the page is tested
    // on every server: one without the route (404), one with no session, one with a session away.
    let answer: { status: number; body: unknown } = { status: 404, body: { code: 'not_found', detail: 'Route GET:/api/v1/listen-session not found' } };
    const page = await operatorPage();
    await page.route(/\/api\/v1\/listen-session(\?|$)/, (route) => route.fulfill({ status: answer.status, contentType: 'application/json', body: JSON.stringify(answer.body) }));
    const nav = page.getByRole('navigation', { name: 'Main' });
    await nav.getByRole('link', { name: 'Listen sessions' }).click();
    await page.getByRole('heading', { name: 'Listen sessions', level: 1 }).waitFor();
    await page.getByRole('status').getByText('Listen sessions are not available on this server.').waitFor();
    // An application's page has no listen section then, and still works.
    await page.evaluate((id) => (location.hash = `#/apps/${id}`), appA);
    await page.locator(`main[data-route="#/apps/${appA}"]`).waitFor();
    expect(await page.getByRole('heading', { name: 'Listen sessions' }).count()).toBe(0);

    answer = { status: 200, body: { data: [] } };
    await nav.getByRole('link', { name: 'Listen sessions' }).click();
    await page.getByText('Nobody is listening').waitFor();
    expect(await page.locator('pre[aria-label="Command that starts a listen session"]').textContent()).toBe(
      'tapwire listen --forward-to http://localhost:3000/webhooks --app <app>',
    );

    const now = new Date().toISOString();
    const away = {
      id: 'AbCdEfGhIjKlMnOpQrStUv', appId: appA, appUid: 'acme', endpointId: 'ep_listenaway', sourceId: null,
      forwardTo: 'http://localhost:3000/away', eventTypes: ['invoice.paid'], client: 'laptop 1.0',
      createdAt: now, lastSeenAt: now, detachedAt: now, connected: false,
    };
    answer = { status: 200, body: { data: [away] } };
    await page.getByRole('link', { name: 'Overview' }).click();
    await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
    await nav.getByRole('link', { name: 'Listen sessions' }).click();
    const row = page.locator(`[data-listen-session="${away.id}"]`);
    await row.waitFor();
    await row.locator('.badge-warn', { hasText: 'reconnecting' }).waitFor();
    expect(await row.getByRole('link', { name: 'acme' }).getAttribute('href')).toBe(`#/apps/${appA}`);
    for (const text of ['http://localhost:3000/away', 'invoice.paid', 'laptop 1.0']) expect(await row.getByText(text, { exact: true }).count(), text).toBe(1);
  });

  it('lists a live listen session, shows it on its application, and ends it from the page', async () => {
    const appId = expectStatus(await tw.api('POST', '/api/v1/app', { name: 'Listener', uid: 'listener' }), 201, 'app').body.id as string;
    const sessionId = randomBytes(16).toString('base64url').slice(0, 22);
    const query = new URLSearchParams({ app: appId, session: sessionId, forward_to: 'http://127.0.0.1:9/x', client: 'test' });
    const ws = new WebSocket(`${tw.url.replace(/^http/, 'ws')}/api/v1/listen?${query}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    const frames: { type: string }[] = [];
    let closed = false;
    let failure: Error | null = null;
    ws.on('message', (data) => frames.push(JSON.parse(String(data)) as { type: string }));
    ws.on('close', () => (closed = true));
    ws.on('error', (error) => (failure = error));
    ws.on('unexpected-response', (_req, res) => (failure = new Error(`listen refused with ${res.statusCode}`)));
    try {
      await eventually(async () => {
        if (failure) throw failure;
        return frames.some((f) => f.type === 'ready');
      }, Boolean, { what: 'the ready frame' });

      const page = await operatorPage();
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Listen sessions' }).click();
      const row = page.locator(`[data-listen-session="${sessionId}"]`);
      await row.waitFor();
      await row.locator('.badge-success', { hasText: 'connected' }).waitFor();
      expect(await row.getByRole('link', { name: 'listener' }).getAttribute('href')).toBe(`#/apps/${appId}`);
      for (const text of ['http://127.0.0.1:9/x', 'all', 'test']) expect(await row.getByText(text, { exact: true }).count(), text).toBe(1);

      // Its application: a listen section, and its endpoint named as a session, not as a web URL.
      await row.getByRole('link', { name: 'listener' }).click();
      await page.getByRole('heading', { name: 'Listen sessions', level: 2 }).waitFor();
      await page.locator(`section [data-listen-session="${sessionId}"]`).waitFor();
      const endpoint = page.getByRole('link', { name: /listen session/ });
      await endpoint.waitFor();
      expect(await endpoint.textContent()).toContain('http://127.0.0.1:9/x');
      expect(await page.getByText('tapwire-listen://').count()).toBe(0);

      // The application's own (portal) token sees the section too.
      const portal = await newPage();
      await portal.goto(await portalUrl(appId));
      await portal.getByRole('heading', { name: 'Listen sessions', level: 2 }).waitFor();
      await portal.locator(`[data-listen-session="${sessionId}"]`).waitFor();
      // It may end it (its token may manage endpoints); the operator does so below.
      expect(await portal.getByRole('button', { name: 'End the listen session forwarding to http://127.0.0.1:9/x' }).count()).toBe(1);

      // End it from the operator page: asked again, then the CLI is told and the row goes.
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Listen sessions' }).click();
      await row.waitFor();
      await row.getByRole('button', { name: 'End the listen session forwarding to http://127.0.0.1:9/x' }).click();
      await row.getByRole('button', { name: 'Yes, end the listen session forwarding to http://127.0.0.1:9/x' }).click();
      await eventually(async () => closed || frames.some((f) => f.type === 'ended'), Boolean, { what: 'the session to end' });
      await page.getByText('Session ended').waitFor();
      await row.waitFor({ state: 'detached' });
      const left = expectStatus(await tw.api('GET', `/api/v1/listen-session?app_id=${appId}`), 200, 'sessions').body.data as { id: string }[];
      expect(left.map((s) => s.id)).not.toContain(sessionId);
    } finally {
      ws.terminate();
    }
  });

  it('fits a phone screen (375 px) without sideways scrolling', async () => {
    const page = await newPage({ width: 375, height: 740 });
    await page.goto(await portalUrl(appA));
    await page.getByRole('heading', { name: 'Endpoints', level: 1 }).waitFor();
    const endpoints = expectStatus(await tw.api('GET', `/api/v1/app/${appA}/endpoint`), 200, 'endpoints').body.data as any[];
    for (const hash of [`#/apps/${appA}`, `#/apps/${appA}/endpoints/${endpoints[0].id}`, `#/apps/${appA}/endpoints/${endpoints[0].id}?tab=settings`, `#/apps/${appA}/messages`, '#/event-types']) {
      await page.evaluate((h) => (location.hash = h), hash);
      await page.locator(`main[data-route="${hash}"]`).waitFor();
      const widths = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, view: window.innerWidth }));
      expect(widths.scroll, hash).toBeLessThanOrEqual(widths.view);
    }
  });
});
