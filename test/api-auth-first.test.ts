// Anonymous clients cannot make the server parse or hold connections (issue 15): the token is
// checked before any byte of the body is read, nesting depth is bounded before JSON.parse runs,
// and stalled requests and surplus connections are cut off by the HTTP server's own limits.
import { connect, type Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { expectNo5xx, guardApi, type ApiFn } from './helpers/api-guard.js';
import { backends } from './helpers/postgres.js';
import { ADMIN_TOKEN, startTapwire, useBackend, type TestTapwire } from './helpers/tapwire.js';

/** `[[[…]]]`: valid JSON, about 1 MB, nested far deeper than the API accepts. */
const DEEP_BODY = '['.repeat(500_000) + ']'.repeat(500_000);

/**
 * Run `send` while watching the two steps of reading a body (the server runs in this process): the
 * UTF-8 decoding and JSON.parse. Reports whether either was given `body`.
 */
async function watchParsing<T>(body: string, send: () => Promise<T>): Promise<{ result: T; decoded: boolean; parsed: boolean }> {
  const parse = vi.spyOn(JSON, 'parse');
  const decode = vi.spyOn(TextDecoder.prototype, 'decode');
  try {
    const result = await send();
    return {
      result,
      decoded: decode.mock.calls.some(([input]) => input !== undefined && (input as ArrayBufferView).byteLength === Buffer.byteLength(body)),
      parsed: parse.mock.calls.some(([text]) => text === body),
    };
  } finally {
    parse.mockRestore();
    decode.mockRestore();
  }
}

/** A raw connection to `tw` that collects what the server writes and notes when it closes. */
function openRawConnection(tw: TestTapwire): Promise<{ socket: Socket; received: () => string; closed: Promise<void> }> {
  const { hostname, port } = new URL(tw.url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) });
    let data = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (data += chunk));
    socket.on('error', () => undefined);
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    socket.once('connect', () => resolve({ socket, received: () => data, closed }));
    socket.once('error', reject);
  });
}

/** Resolves when `closed` does; rejects with `what` after `ms` (a bound on a condition, not a sleep). */
async function closesWithin(closed: Promise<void>, ms: number, what: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([closed, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(what)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

describe.each(await backends())('%s', (backend) => {
  useBackend(backend);

  let tw: TestTapwire;
  let api: ApiFn;
  let appId: string;
  let appToken: string;
  let otherAppId: string;

  beforeAll(async () => {
    tw = await startTapwire();
    api = guardApi(tw);
    appId = (await api('POST', '/api/v1/app', { name: 'Mine' })).body.id;
    otherAppId = (await api('POST', '/api/v1/app', { name: 'Theirs' })).body.id;
    appToken = (await api('POST', `/api/v1/auth/app-portal-access/${appId}`, {})).body.token;
  });
  afterAll(async () => {
    await tw?.close();
  });
  afterEach(() => expectNo5xx());

  describe('authentication comes before the body', () => {
    it('answers malformed JSON without a token, or with a wrong one, with 401', async () => {
      for (const token of [null, 'tw_not_a_real_token_at_all']) {
        const res = await api('POST', '/api/v1/app', undefined, { token, raw: '{"name": "x",,,' });
        expect(res.status, `token ${token}`).toBe(401);
        expect(res.body.code).toBe('authentication_failed');
      }
    });

    it('keeps the answers of scoped tokens: 403 on admin routes, 404 for another application, before the body', async () => {
      const admin = await api('POST', '/api/v1/app', undefined, { token: appToken, raw: '{not json' });
      expect(admin.status).toBe(403);
      const other = await api('POST', `/api/v1/app/${otherAppId}/endpoint`, undefined, { token: appToken, raw: '{not json' });
      expect(other.status).toBe(404);
      const own = await api('POST', `/api/v1/app/${appId}/endpoint`, undefined, { token: appToken, raw: '{not json' });
      expect(own.status).toBe(422);
    });

    it('answers a 1 MB deeply nested body without a token with 401, never decoding or parsing it', async () => {
      const { result, decoded, parsed } = await watchParsing(DEEP_BODY, () => api('POST', '/api/v1/app', undefined, { token: null, raw: DEEP_BODY }));
      expect(result.status).toBe(401);
      expect({ decoded, parsed }).toEqual({ decoded: false, parsed: false });
    });

    it('refuses a too-deep body from an authenticated client with the same 422 as before, without running JSON.parse on it', async () => {
      const { result, parsed } = await watchParsing(DEEP_BODY, () => api('POST', '/api/v1/app', undefined, { raw: DEEP_BODY }));
      expect(result.status).toBe(422);
      expect(result.body.detail).toEqual([{ loc: ['body'], msg: 'Invalid JSON: nesting deeper than 128 levels', type: 'value_error.jsondecode' }]);
      expect(parsed).toBe(false);
    });
  });

  describe('connection limits', () => {
    let limited: TestTapwire;

    beforeAll(async () => {
      limited = await startTapwire({ TAPWIRE_API_REQUEST_TIMEOUT: '300ms', TAPWIRE_API_HEADERS_TIMEOUT: '300ms', TAPWIRE_API_MAX_CONNECTIONS: '2' });
    });
    afterAll(async () => {
      await limited?.close();
    });

    it('answers 408 and closes the connection when an authenticated body stalls past the request timeout', async () => {
      const conn = await openRawConnection(limited);
      conn.socket.write(
        `POST /api/v1/app HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${ADMIN_TOKEN}\r\n` +
          'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"name": "sta',
      );
      await closesWithin(conn.closed, 10_000, 'the server kept a stalled request open');
      expect(conn.received()).toMatch(/^HTTP\/1\.1 408 /);
    });

    it('answers 401 at once to a stalled body without a token, then closes the connection at the timeout', async () => {
      const conn = await openRawConnection(limited);
      conn.socket.write('POST /api/v1/app HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"na');
      await closesWithin(conn.closed, 10_000, 'the server kept a stalled request open');
      expect(conn.received()).toMatch(/^HTTP\/1\.1 401 /);
    });

    it('closes a connection whose headers stall past the headers timeout', async () => {
      const conn = await openRawConnection(limited);
      conn.socket.write('GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n');
      await closesWithin(conn.closed, 10_000, 'the server kept a connection with unfinished headers open');
      expect(conn.received()).toMatch(/^HTTP\/1\.1 408 /);
    });

    it('drops connections beyond the cap as they arrive', async () => {
      const first = await openRawConnection(limited);
      const second = await openRawConnection(limited);
      try {
        const third = await openRawConnection(limited);
        await closesWithin(third.closed, 10_000, 'a connection beyond TAPWIRE_API_MAX_CONNECTIONS stayed open');
        expect(third.received()).toBe('');
      } finally {
        first.socket.destroy();
        second.socket.destroy();
      }
    });
  });
});
