// Per-token API rate limits: an application's token over its budget gets 429 with Retry-After and
// the JSON error, without touching any other token's budget; the budget comes back when the window
// ends; admin tokens are unlimited unless TAPWIRE_ADMIN_RATE_LIMIT is set; public routes are never
// counted. Time moves by an injected clock, so no test waits for a window to pass.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { expectError, expectNo5xx, guardApi, type ApiFn, type ApiResult } from './helpers/api-guard.js';
import { backends } from './helpers/postgres.js';
import { startTapwire, useBackend, type TestTapwire } from './helpers/tapwire.js';

const LIMIT = 5;

describe.each(await backends())('%s', (backend) => {
  useBackend(backend);

  /** The server's clock: real time plus whatever a test moves it on by. */
  let offsetMs = 0;
  const clock = { now: () => new Date(Date.now() + offsetMs) };
  let tw: TestTapwire;
  let api: ApiFn;
  let counter = 0;
  const unique = (prefix: string): string => `${prefix}-${Date.now().toString(36)}-${++counter}`;

  beforeAll(async () => {
    // A minute's window: a burst of a few requests never straddles two windows by accident.
    tw = await startTapwire({ TAPWIRE_APP_RATE_LIMIT: `${LIMIT}/1m` }, { clock });
    api = guardApi(tw);
  });
  afterAll(async () => {
    await tw?.close();
  });
  afterEach(() => {
    expectNo5xx();
  });

  async function appWithTokens(count: number): Promise<{ appId: string; tokens: string[] }> {
    const created = await api('POST', '/api/v1/app', { name: 'Tenant', uid: unique('tenant') });
    expect(created.status, created.text).toBe(201);
    const tokens: string[] = [];
    for (let i = 0; i < count; i++) {
      const minted = await api('POST', `/api/v1/auth/app-portal-access/${created.body.id}`, {});
      expect(minted.status, minted.text).toBe(200);
      tokens.push(minted.body.token as string);
    }
    return { appId: created.body.id as string, tokens };
  }

  const listEndpoints = (appId: string, token: string): Promise<ApiResult> => api('GET', `/api/v1/app/${appId}/endpoint`, undefined, { token });

  /** Spend a token's whole budget, checking the headers count down to 0. */
  async function exhaust(appId: string, token: string): Promise<void> {
    for (let i = 1; i <= LIMIT; i++) {
      const res = await listEndpoints(appId, token);
      expect(res.status, res.text).toBe(200);
      expect(res.headers.get('x-ratelimit-limit')).toBe(String(LIMIT));
      expect(res.headers.get('x-ratelimit-remaining')).toBe(String(LIMIT - i));
      expect(Number(res.headers.get('x-ratelimit-reset'))).toBeGreaterThan(0);
    }
  }

  it('answers an app token over its limit 429 with Retry-After and the JSON error, and leaves another token of the same application alone', async () => {
    const { appId, tokens } = await appWithTokens(2);
    const [flooding, quiet] = tokens as [string, string];
    await exhaust(appId, flooding);

    const refused = await listEndpoints(appId, flooding);
    expectError(refused, 429, 'too_many_requests');
    expect(refused.body.detail).toMatch(/retry in \d+ s/);
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(refused.headers.get('x-ratelimit-limit')).toBe(String(LIMIT));
    expect(refused.headers.get('x-ratelimit-remaining')).toBe('0');
    expect(refused.headers.get('content-type')).toMatch(/^application\/json/);
    // Refused before the body is read, like a bad token: a flood of large bodies costs no parsing.
    const post = await api('POST', `/api/v1/app/${appId}/endpoint`, undefined, { token: flooding, raw: '{"url": ' });
    expectError(post, 429, 'too_many_requests');

    // Separate buckets per token, even within one application.
    const other = await listEndpoints(appId, quiet);
    expect(other.status, other.text).toBe(200);
    expect(other.headers.get('x-ratelimit-remaining')).toBe(String(LIMIT - 1));
  });

  it('lets the token in again once its window has passed', async () => {
    const { appId, tokens } = await appWithTokens(1);
    const token = tokens[0]!;
    await exhaust(appId, token);
    const refused = await listEndpoints(appId, token);
    expectError(refused, 429, 'too_many_requests');
    try {
      offsetMs += Number(refused.headers.get('retry-after')) * 1000;
      const again = await listEndpoints(appId, token);
      expect(again.status, again.text).toBe(200);
      expect(again.headers.get('x-ratelimit-remaining')).toBe(String(LIMIT - 1));
    } finally {
      offsetMs = 0;
    }
  });

  it('never limits the admin token by default, and sends it no rate limit headers', async () => {
    for (let i = 0; i < LIMIT * 4; i++) {
      const res = await api('GET', '/api/v1/app');
      expect(res.status, res.text).toBe(200);
      expect(res.headers.get('x-ratelimit-limit')).toBeNull();
    }
  });

  it('counts neither public routes nor requests without a valid token', async () => {
    const { appId, tokens } = await appWithTokens(1);
    for (let i = 0; i < LIMIT * 2; i++) {
      const health = await api('GET', '/api/v1/health', undefined, { token: null });
      expect(health.status).toBeLessThan(500);
      expect(health.headers.get('x-ratelimit-limit')).toBeNull();
      expectError(await listEndpoints(appId, `${tokens[0]!}x`), 401, 'authentication_failed');
    }
    const first = await listEndpoints(appId, tokens[0]!);
    expect(first.status, first.text).toBe(200);
    expect(first.headers.get('x-ratelimit-remaining')).toBe(String(LIMIT - 1));
  });

  describe('with TAPWIRE_ADMIN_RATE_LIMIT set and TAPWIRE_APP_RATE_LIMIT off', () => {
    let limited: TestTapwire;
    let limitedApi: ApiFn;
    beforeAll(async () => {
      limited = await startTapwire({ TAPWIRE_ADMIN_RATE_LIMIT: '3/1m', TAPWIRE_APP_RATE_LIMIT: 'off' }, { clock });
      limitedApi = guardApi(limited);
    });
    afterAll(async () => {
      await limited?.close();
    });

    it('limits the admin token and no longer the app tokens', async () => {
      // Creating the application and its token spends two of the admin token's three requests.
      const created = await limitedApi('POST', '/api/v1/app', { name: 'Tenant', uid: unique('tenant') });
      expect(created.status, created.text).toBe(201);
      const minted = await limitedApi('POST', `/api/v1/auth/app-portal-access/${created.body.id}`, {});
      expect(minted.status, minted.text).toBe(200);
      expect(minted.headers.get('x-ratelimit-remaining')).toBe('1');
      expect((await limitedApi('GET', '/api/v1/app')).status).toBe(200);
      const refused = await limitedApi('GET', '/api/v1/app');
      expectError(refused, 429, 'too_many_requests');
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);

      for (let i = 0; i < 10; i++) {
        const res = await limitedApi('GET', `/api/v1/app/${created.body.id}/endpoint`, undefined, { token: minted.body.token });
        expect(res.status, res.text).toBe(200);
        expect(res.headers.get('x-ratelimit-limit')).toBeNull();
      }
    });
  });
});
