import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { WebhookVerificationError } from '../errors.js';
import { genericHmac, type GenericHmacOptions } from './generic-hmac.js';

// Convoy's cross-SDK vectors (frain-dev/convoy pkg/signature/testdata/signature-vectors.json).
const CONVOY = {
  secret: 'convoy-webhook-secret',
  body: '{"event":"charge.success","amount":1000,"currency":"NGN"}',
  hex: '244449b7f48cbc2709060c9dcdc2b3aa47a78f540430579015c579fb12defbb4',
  base64: 'JERJt/SMvCcJBgydzcKzqkenj1QEMFeQFcV5+xLe+7Q=',
  timestamp: '1700000000',
  advanced: 't=1700000000,v1=77b8b9269f25a199846a55a2bd25b3fba151c70fdae60bb1dcd87fbbc943c55c',
};
const CONVOY_NOW = Number(CONVOY.timestamp) * 1000;

function failure(fn: () => unknown): WebhookVerificationError {
  try {
    fn();
  } catch (error) {
    if (error instanceof WebhookVerificationError) return error;
    throw error;
  }
  throw new Error('expected a WebhookVerificationError');
}
const convoy = (options: Partial<GenericHmacOptions> = {}) =>
  genericHmac({ name: 'convoy', secret: CONVOY.secret, header: 'X-Convoy-Signature', now: () => CONVOY_NOW, ...options });

describe('genericHmac: Convoy vectors', () => {
  it('verifies the simple hex vector (the default algorithm and encoding)', () => {
    const webhook = convoy().verify({ body: CONVOY.body, headers: { 'x-convoy-signature': CONVOY.hex } });
    expect(webhook.scheme).toBe('convoy');
    expect(webhook.id).toBeUndefined();
    expect(webhook.timestamp).toBeUndefined();
    expect(convoy().sign({ body: CONVOY.body }).headers).toEqual({ 'x-convoy-signature': CONVOY.hex });
  });

  it('verifies the simple base64 vector', () => {
    const verifier = convoy({ encoding: 'base64' });
    expect(verifier.verify({ body: CONVOY.body, headers: { 'X-Convoy-Signature': CONVOY.base64 } }).text()).toBe(CONVOY.body);
    expect(verifier.sign({ body: CONVOY.body }).headers['x-convoy-signature']).toBe(CONVOY.base64);
  });

  it('verifies the advanced vector (`{t},{body}` signed) with prefix v1= and the timestamp supplied in a header', () => {
    // Convoy carries t= inside the signature header; genericHmac reads the timestamp from its own
    // header, so the test supplies it there. The t= item lacks the v1= prefix and is skipped.
    const verifier = convoy({ prefix: 'v1=', separator: ',', timestampHeader: 'X-Convoy-Timestamp' });
    const headers = { 'x-convoy-signature': CONVOY.advanced, 'x-convoy-timestamp': CONVOY.timestamp };
    expect(verifier.verify({ body: CONVOY.body, headers }).timestamp).toEqual(new Date(CONVOY_NOW));
    expect(verifier.sign({ body: CONVOY.body }).headers).toEqual({
      'x-convoy-timestamp': CONVOY.timestamp,
      'x-convoy-signature': CONVOY.advanced.slice('t=1700000000,'.length),
    });
    const tampered = CONVOY.body.replace('1000', '1001');
    expect(failure(() => verifier.verify({ body: tampered, headers })).reason).toBe('no_matching_signature');
    const late = convoy({ prefix: 'v1=', separator: ',', timestampHeader: 'X-Convoy-Timestamp', now: () => CONVOY_NOW + 301_000 });
    expect(failure(() => late.verify({ body: CONVOY.body, headers })).reason).toBe('timestamp_too_old');
  });
});

describe('genericHmac: options', () => {
  it('strips a prefix and tries every signature separated by commas or whitespace', () => {
    const verifier = convoy({ prefix: 'sha256=' });
    const wrong = `sha256=${'0'.repeat(64)}`;
    for (const value of [`${wrong},sha256=${CONVOY.hex}`, `${wrong} sha256=${CONVOY.hex}`, `${wrong}, sha256=${CONVOY.hex}`, `v0=x ,sha256=${CONVOY.hex}`]) {
      expect(verifier.verify({ body: CONVOY.body, headers: { 'x-convoy-signature': value } }).text()).toBe(CONVOY.body);
    }
    expect(failure(() => verifier.verify({ body: CONVOY.body, headers: { 'x-convoy-signature': wrong } })).reason).toBe('no_matching_signature');
  });

  it('reports a header with no item carrying the prefix as malformed_header', () => {
    const error = failure(() => convoy({ prefix: 'sha256=' }).verify({ body: CONVOY.body, headers: { 'x-convoy-signature': CONVOY.hex } }));
    expect(error.reason).toBe('malformed_header');
    expect(error.header).toBe('x-convoy-signature');
    expect(failure(() => convoy().verify({ body: CONVOY.body, headers: { 'x-convoy-signature': ' , ' } })).reason).toBe('malformed_header');
  });

  it('rejects signatures of the wrong length or encoding as non-matching', () => {
    const verifier = convoy();
    for (const value of [CONVOY.hex.slice(0, -2), `${CONVOY.hex}00`, CONVOY.base64, `${CONVOY.hex.slice(0, -1)}x`]) {
      expect(failure(() => verifier.verify({ body: CONVOY.body, headers: { 'x-convoy-signature': value } })).reason).toBe('no_matching_signature');
    }
  });

  it('supports sha512 and secrets given as base64 or hex', () => {
    const key = Buffer.from('00ff10ee20dd30cc', 'hex');
    const expected = createHmac('sha512', key).update(CONVOY.body).digest('hex');
    for (const [secret, secretEncoding] of [
      [key.toString('base64'), 'base64'],
      [key.toString('hex'), 'hex'],
    ] as const) {
      const verifier = genericHmac({ secret, secretEncoding, header: 'x-sig', algorithm: 'sha512' });
      expect(verifier.verify({ body: CONVOY.body, headers: { 'x-sig': expected } }).text()).toBe(CONVOY.body);
    }
    // A SHA-256-sized digest never matches a SHA-512 verifier.
    const short = genericHmac({ secret: 'k', header: 'x-sig', algorithm: 'sha512' });
    const sha256 = createHmac('sha256', 'k').update('b').digest('hex');
    expect(failure(() => short.verify({ body: 'b', headers: { 'x-sig': sha256 } })).reason).toBe('no_matching_signature');
  });

  it('reads id and type from the configured headers, and sign() emits the id header', () => {
    const verifier = convoy({ idHeader: 'X-Convoy-Idempotency-Key', typeHeader: 'X-Convoy-Event-Type' });
    const signed = verifier.sign({ body: CONVOY.body, id: 'evt_9' });
    expect(signed.headers['x-convoy-idempotency-key']).toBe('evt_9');
    const webhook = verifier.verify({ body: CONVOY.body, headers: { ...signed.headers, 'x-convoy-event-type': 'charge.success' } });
    expect(webhook.id).toBe('evt_9');
    expect(webhook.type).toBe('charge.success');
    expect(verifier.sign({ body: '' }).headers['x-convoy-idempotency-key']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('requires the timestamp header when configured, checks its format and tolerance both ways', () => {
    const verifier = convoy({ timestampHeader: 'x-ts' });
    const signed = verifier.sign({ body: CONVOY.body });
    expect(signed.headers['x-ts']).toBe(CONVOY.timestamp);
    expect(signed.headers['x-convoy-signature']).toBe(createHmac('sha256', CONVOY.secret).update(`${CONVOY.timestamp}.${CONVOY.body}`).digest('hex'));
    const missing = failure(() => verifier.verify({ body: CONVOY.body, headers: { 'x-convoy-signature': signed.headers['x-convoy-signature'] } }));
    expect(missing.reason).toBe('missing_header');
    expect(missing.header).toBe('x-ts');
    const bad = failure(() => verifier.verify({ body: CONVOY.body, headers: { ...signed.headers, 'x-ts': '2023-11-14' } }));
    expect(bad.reason).toBe('malformed_header');
    const at = (offset: number) => convoy({ timestampHeader: 'x-ts', now: () => CONVOY_NOW + offset * 1000 });
    expect(failure(() => at(301).verify({ body: CONVOY.body, headers: signed.headers })).reason).toBe('timestamp_too_old');
    expect(failure(() => at(-301).verify({ body: CONVOY.body, headers: signed.headers })).reason).toBe('timestamp_too_new');
    expect(at(300).verify({ body: CONVOY.body, headers: signed.headers }).timestamp).toEqual(new Date(CONVOY_NOW));
  });

  it('defaults the name to generic-hmac', () => {
    expect(genericHmac({ secret: 's', header: 'x-sig' }).scheme).toBe('generic-hmac');
  });

  it.each<[string, Partial<GenericHmacOptions>]>([
    ['no header', { header: undefined as unknown as string }],
    ['an invalid header name', { header: 'x sig' }],
    ['an empty name', { name: ' ' }],
    ['an unknown algorithm', { algorithm: 'md5' as 'sha256' }],
    ['an unknown encoding', { encoding: 'base32' as 'hex' }],
    ['an unknown secret encoding', { secretEncoding: 'latin1' as 'utf8' }],
    ['a secret that is not hex', { secretEncoding: 'hex', secret: 'xyz' }],
    ['a secret that is not base64', { secretEncoding: 'base64', secret: 'no spaces allowed' }],
    ['a prefix with a comma', { prefix: 'a,' }],
    ['no secret', { secret: undefined }],
    ['an empty secret', { secret: '' }],
  ])('throws TypeError for %s', (_label, overrides) => {
    expect(() => genericHmac({ secret: 'k', header: 'x-sig', ...overrides })).toThrow(TypeError);
  });
});
