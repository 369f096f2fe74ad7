// docs/svix-compatibility.md cannot drift: its rows are exactly the operations the two installed
// official svix clients call (read from their sources), each naming the client methods that call
// it, and a row says "supported" exactly when the operation is in Tapwire's own OpenAPI document.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends } from './helpers/postgres.js';
import { clientOperations, COMPATIBILITY_DOC as DOC, operationKey, readCompatibilityDoc, type ClientOperation } from './helpers/svix-operations.js';
import { startTapwire, useBackend, type TestTapwire } from './helpers/tapwire.js';

/** The client-methods cell a row should have: each method, marked with its major when only one major has it. */
function expectedClientMethods(operations: ClientOperation[]): string[] {
  const majors = new Map<string, Set<number>>();
  for (const op of operations) {
    if (!majors.has(op.clientMethod)) majors.set(op.clientMethod, new Set());
    majors.get(op.clientMethod)!.add(op.major);
  }
  return [...majors].map(([name, set]) => (set.size === 2 ? name : `${name} (${[...set][0]}.x)`)).sort();
}

const operations = clientOperations();
const rows = readCompatibilityDoc();
const byKey = new Map<string, ClientOperation[]>();
for (const op of operations) {
  const key = operationKey(op.method, op.path);
  byKey.set(key, [...(byKey.get(key) ?? []), op]);
}

describe('docs/svix-compatibility.md against the installed svix clients', () => {
  it('reads operations from both client majors', () => {
    // A change in how the packages are laid out must not silently empty the list.
    for (const major of [1, 2]) expect(operations.filter((op) => op.major === major).length, `svix ${major}.x operations`).toBeGreaterThan(100);
    expect(operations.map((op) => `${op.method} ${op.path}`)).toContain('POST /api/v1/app/{app_id}/msg');
  });

  it('has exactly one row per operation a client calls, and no other row', () => {
    const keys = rows.map((r) => r.key);
    const duplicated = keys.filter((key, i) => keys.indexOf(key) !== i);
    expect(duplicated, 'operations with more than one row').toEqual([]);
    expect([...byKey.keys()].filter((key) => !keys.includes(key)).sort(), 'client operations without a row').toEqual([]);
    expect(rows.filter((r) => !byKey.has(r.key)).map((r) => `${DOC}:${r.line} ${r.method} ${r.path}`), 'rows no client calls').toEqual([]);
  });

  it('writes each path as the clients do and names the client methods that call it', () => {
    for (const row of rows.filter((r) => byKey.has(r.key))) {
      const ops = byKey.get(row.key)!;
      expect(ops.map((op) => op.path), `${DOC}:${row.line}`).toContain(row.path);
      expect([...row.clientMethods].sort(), `${DOC}:${row.line} ${row.method} ${row.path}`).toEqual(expectedClientMethods(ops));
    }
  });

  it('is linked from the README', () => {
    expect(readFileSync('README.md', 'utf8')).toContain('(docs/svix-compatibility.md)');
  });
});

describe.each(await backends())('%s', (backend) => {
  useBackend(backend);

  let tw: TestTapwire;
  let served: Set<string>;

  beforeAll(async () => {
    tw = await startTapwire();
    const res = await tw.api('GET', '/api/v1/openapi.json', undefined, { token: null });
    expect(res.status).toBe(200);
    served = new Set<string>();
    for (const [path, item] of Object.entries(res.body.paths as Record<string, Record<string, unknown>>)) {
      for (const method of Object.keys(item)) served.add(operationKey(method, path));
    }
  });
  afterAll(async () => {
    await tw?.close();
  });

  it('every row marked supported or partial is an operation of Tapwire\'s OpenAPI document', () => {
    const missing = rows.filter((r) => r.status !== 'not supported' && !served.has(r.key)).map((r) => `${DOC}:${r.line} ${r.method} ${r.path}`);
    expect(missing, 'marked supported, but not in GET /api/v1/openapi.json').toEqual([]);
  });

  it('every row marked not supported is absent from Tapwire\'s OpenAPI document (else the page is stale)', () => {
    const stale = rows.filter((r) => r.status === 'not supported' && served.has(r.key)).map((r) => `${DOC}:${r.line} ${r.method} ${r.path}`);
    expect(stale, 'marked not supported, but served').toEqual([]);
  });
});
