import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, TapwireError, validationError } from './tapwire-error.js';

describe('error registry', () => {
  it('is documented code for code, status for status, in docs/errors.md', () => {
    const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
    const rows = [...doc.matchAll(/^\| `([^`]+)` \| (\d{3}) \|/gm)].map((m) => [m[1], Number(m[2])]);
    const registry = Object.entries(ERROR_CODES).map(([code, { status }]) => [code, status]);
    expect(rows).toEqual(registry);
  });

  it('gives each error the status of its code and the Svix body shape', () => {
    const error = new TapwireError('conflict', { detail: 'uid taken' });
    expect(error.status).toBe(409);
    expect(error.toBody()).toEqual({ code: 'conflict', detail: 'uid taken' });
    expect(new TapwireError('not_found').toBody()).toEqual({ code: 'not_found', detail: 'Entity not found' });
  });

  it('renders validation errors as a detail list with loc, msg and type', () => {
    expect(validationError(['body', 'url'], 'Invalid URL', 'value_error.url').toBody()).toEqual({
      detail: [{ loc: ['body', 'url'], msg: 'Invalid URL', type: 'value_error.url' }],
    });
  });
});
