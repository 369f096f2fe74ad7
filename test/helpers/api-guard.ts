// Hostile or odd API input must never produce a 5xx (design.md §8). These wrappers make every
// request of a suite go through one check, so a 5xx anywhere fails the test that caused it.
import { expect } from 'vitest';
import type { TestTapwire } from './tapwire.js';

export type ApiFn = TestTapwire['api'];
export type ApiResult = Awaited<ReturnType<ApiFn>>;

/** Every 5xx seen by a guarded client, kept so an afterEach can also assert none slipped by. */
export const serverErrors: string[] = [];

function record(method: string, path: string, status: number, text: string): void {
  const line = `${method} ${path} → ${status} ${text.slice(0, 300)}`;
  serverErrors.push(line);
  throw new Error(`server error: ${line}`);
}

/** `tw.api` that throws (failing the test) on any 5xx response. */
export function guardApi(tw: TestTapwire): ApiFn {
  return async (method, path, body, options) => {
    const res = await tw.api(method, path, body, options);
    if (res.status >= 500) record(method, path, res.status, res.text);
    return res;
  };
}

/** A `fetch` for the svix client that records (and fails on) any 5xx. */
export const guardedFetch: typeof fetch = async (input, init) => {
  const res = await fetch(input, init);
  if (res.status >= 500) {
    const text = await res.clone().text();
    record(init?.method ?? 'GET', String(input), res.status, text);
  }
  return res;
};

/** Call from afterEach: no 5xx may have been seen (even one swallowed by Promise.allSettled). */
export function expectNo5xx(): void {
  const seen = serverErrors.splice(0);
  expect(seen, 'no request may answer 5xx').toEqual([]);
}

/** A Svix `{code, detail}` error body. */
export function expectError(res: ApiResult, status: number, code: string): void {
  expect(res.status, res.text).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  expect(res.body).toEqual({ code, detail: expect.any(String) });
  expect(res.body.detail.length).toBeGreaterThan(0);
}

/** A 422 `{detail: [{loc, msg, type}]}` body; returns the issues. When `loc` is given, one issue must have it. */
export function expectValidation(res: ApiResult, loc?: (string | number)[], type?: string): { loc: (string | number)[]; msg: string; type: string }[] {
  expect(res.status, res.text).toBe(422);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  expect(Object.keys(res.body)).toEqual(['detail']);
  expect(Array.isArray(res.body.detail)).toBe(true);
  expect(res.body.detail.length).toBeGreaterThan(0);
  for (const issue of res.body.detail) {
    expect(issue).toEqual({ loc: expect.any(Array), msg: expect.any(String), type: expect.any(String) });
  }
  if (loc) expect(res.body.detail.map((d: { loc: unknown }) => d.loc)).toContainEqual(loc);
  if (type) expect(res.body.detail.map((d: { type: unknown }) => d.type)).toContain(type);
  return res.body.detail;
}
