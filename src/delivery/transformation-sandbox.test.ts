import { newQuickJSWASMModule, type QuickJSWASMModule } from 'quickjs-emscripten';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkTransformed } from '../domain/transformation.js';
import { runInSandbox } from './transformation-sandbox.js';

const WEBHOOK = JSON.stringify({ method: 'POST', url: 'https://example.com/hook', payload: { n: 1 }, eventType: 'invoice.paid', headers: {} });
const LIMITS = { timeoutMs: 100, memoryLimitBytes: 16 * 1_048_576 };

describe('runInSandbox', () => {
  let module: QuickJSWASMModule;
  beforeAll(async () => {
    module = await newQuickJSWASMModule();
  });
  const run = (code: string) => runInSandbox(module, { code, webhookJson: WEBHOOK, ...LIMITS });

  it('returns what the handler made of the webhook, as JSON', () => {
    const result = run('function handler(webhook) { webhook.payload = { text: webhook.eventType + " " + webhook.payload.n }; webhook.headers["x-kind"] = "slack"; return webhook; }');
    expect(result.kind).toBe('ok');
    expect(JSON.parse((result as { resultJson: string }).resultJson)).toEqual({
      method: 'POST', url: 'https://example.com/hook', payload: { text: 'invoice.paid 1' }, eventType: 'invoice.paid', headers: { 'x-kind': 'slack' },
    });
  });

  it('stops an endless loop at the deadline', () => {
    const result = run('function handler(webhook) { while (true) {} }');
    expect(result).toMatchObject({ kind: 'timeout', message: expect.stringContaining('interrupted') });
    expect(result.durationMs).toBeGreaterThanOrEqual(90);
    expect(result.durationMs).toBeLessThan(1_000);
  });

  it('stops a 100 MB allocation at the memory limit', () => {
    expect(run('function handler(webhook) { webhook.payload = "x".repeat(100 * 1024 * 1024); return webhook; }')).toMatchObject({ kind: 'memory' });
    expect(run("function handler(webhook) { return new Array(100 * 1024 * 1024).fill(webhook); }")).toMatchObject({ kind: "memory" });
  });

  it('reports an exception with its line, and deep recursion as an error', () => {
    expect(run('function handler(webhook) {\n  throw new Error("no route for " + webhook.eventType);\n}')).toMatchObject({ kind: 'error', message: 'Error: no route for invoice.paid (line 2)' });
    expect(run('function handler(webhook) { return handler(webhook); }')).toMatchObject({ kind: 'error', message: 'InternalError: stack overflow (line 1)' });
    expect(run('function handler(webhook) { throw "plain"; }')).toMatchObject({ kind: 'error', message: 'thrown: "plain"' });
  });

  it('refuses code without a handler, with a syntax error, or with an async handler', () => {
    expect(run('const x = 1;')).toMatchObject({ kind: 'error', message: expect.stringContaining('must define function handler(webhook)') });
    expect(run('function handler(webhook) {')).toMatchObject({ kind: 'error', message: expect.stringContaining('SyntaxError') });
    expect(run('async function handler(webhook) { return webhook; }')).toMatchObject({ kind: 'error', message: expect.stringContaining('not a promise') });
  });

  it('gives the code nothing of the host', () => {
    const result = run('function handler(webhook) { webhook.payload = [typeof setTimeout, typeof require, typeof process, typeof console, typeof fetch, typeof std, typeof os]; return webhook; }');
    expect(JSON.parse((result as { resultJson: string }).resultJson).payload).toEqual(Array(7).fill('undefined'));
  });

  it('starts every run from a fresh context', () => {
    run('globalThis.leak = 42; function handler(webhook) { return webhook; }');
    const result = run('function handler(webhook) { webhook.payload = typeof leak; return webhook; }');
    expect(JSON.parse((result as { resultJson: string }).resultJson).payload).toBe('undefined');
  });
});

describe('checkTransformed', () => {
  const valid = { method: 'POST', url: 'https://hooks.example.com/x', payload: { a: 1 }, eventType: 'e', headers: { 'X-Extra': '1' } };

  it('accepts a changed webhook and a cancellation', () => {
    expect(checkTransformed(valid)).toEqual({ ok: true, request: { cancel: false, method: 'POST', url: valid.url, payload: { a: 1 }, headers: { 'X-Extra': '1' } } });
    expect(checkTransformed({ ...valid, method: 'PUT', cancel: false }).ok).toBe(true);
    expect(checkTransformed({ ...valid, cancel: true })).toEqual({ ok: true, request: { cancel: true } });
  });

  it.each([
    [undefined, 'the handler must return the webhook object, got nothing (undefined)'],
    [42, 'the handler must return the webhook object, got a number (42)'],
    [[valid], 'the handler must return the webhook object, got an array'],
    [{ ...valid, method: 'GET' }, 'method must be one of POST, PUT, PATCH, got a string ("GET")'],
    [{ ...valid, url: 'ftp://example.com/' }, 'url must be http or https, got ftp:'],
    [{ ...valid, url: 'not a url' }, 'url is not a valid URL: "not a url"'],
    [{ ...valid, payload: undefined }, 'payload is missing'],
    [{ ...valid, headers: { 'webhook-signature': 'v1,forged' } }, "header 'webhook-signature': the header 'webhook-signature' is set by Tapwire and cannot be overridden"],
    [{ ...valid, headers: { 'X-Number': 5 } }, "header 'X-Number': header values must be strings of printable Latin-1 characters, without line breaks"],
    [{ ...valid, headers: { 'bad name': 'x' } }, "header 'bad name': not a valid HTTP header name"],
    [{ ...valid, headers: 'x' }, 'headers must be an object of strings, got a string ("x")'],
    [{ ...valid, cancel: 'yes' }, 'cancel must be a boolean, got a string ("yes")'],
    [{ ...valid, extra: 1 }, 'the returned webhook has unknown fields: extra'],
  ])('refuses %j', (result, reason) => {
    expect(checkTransformed(result)).toEqual({ ok: false, reason });
  });
});
