// The contract every scheme keeps, checked on all six the same way: sign → verify round trips, raw
// bytes, rotation, the body cap coming before everything else, tampering, lazy JSON. Scheme-specific
// vectors and header formats are in the per-scheme test files.
import { describe, expect, it } from 'vitest';
import { WebhookVerificationError } from '../errors.js';
import type { Verifier } from '../types.js';
import { genericHmac } from './generic-hmac.js';
import { github } from './github.js';
import { shopify } from './shopify.js';
import { slack } from './slack.js';
import { standardWebhooks } from './standard-webhooks.js';
import { stripe } from './stripe.js';

const NOW = Date.UTC(2025, 0, 15, 12, 0, 0);
const now = (): number => NOW;

interface SchemeCase {
  name: string;
  /** Two distinct secrets valid for the scheme. */
  secrets: [string, string, string];
  build(secrets: string[], maxBodyBytes?: number): Verifier;
  /** The header that carries the signature. */
  signatureHeader: string;
  /** Whether the scheme signs a timestamp. */
  timestamped: boolean;
  /** Whether `sign({ id })` becomes the verified id (otherwise the id comes from the body). */
  idFromSignInput: boolean;
}

const whsec = (fill: number): string => `whsec_${Buffer.alloc(24, fill).toString('base64')}`;

const CASES: SchemeCase[] = [
  {
    name: 'standard-webhooks',
    secrets: [whsec(1), whsec(2), whsec(3)],
    build: (secrets, maxBodyBytes) => standardWebhooks({ secrets, now, maxBodyBytes }),
    signatureHeader: 'webhook-signature',
    timestamped: true,
    idFromSignInput: true,
  },
  {
    name: 'stripe',
    secrets: ['whsec_old', 'whsec_new', 'whsec_other'],
    build: (secrets, maxBodyBytes) => stripe({ secrets, now, maxBodyBytes }),
    signatureHeader: 'stripe-signature',
    timestamped: true,
    idFromSignInput: false,
  },
  {
    name: 'github',
    secrets: ['old secret', 'new secret', 'other secret'],
    build: (secrets, maxBodyBytes) => github({ secrets, maxBodyBytes }),
    signatureHeader: 'x-hub-signature-256',
    timestamped: false,
    idFromSignInput: true,
  },
  {
    name: 'shopify',
    secrets: ['shpss_old', 'shpss_new', 'shpss_other'],
    build: (secrets, maxBodyBytes) => shopify({ secrets, maxBodyBytes }),
    signatureHeader: 'x-shopify-hmac-sha256',
    timestamped: false,
    idFromSignInput: true,
  },
  {
    name: 'slack',
    secrets: ['8f742231b10e8888abcd99yyyzzz85a5', '0123456789abcdef0123456789abcdef', 'ffffffffffffffffffffffffffffffff'],
    build: (secrets, maxBodyBytes) => slack({ secrets, now, maxBodyBytes }),
    signatureHeader: 'x-slack-signature',
    timestamped: true,
    idFromSignInput: false,
  },
  {
    name: 'generic-hmac',
    secrets: ['old', 'new', 'other'],
    build: (secrets, maxBodyBytes) =>
      genericHmac({
        secrets,
        now,
        maxBodyBytes,
        header: 'X-Signature',
        prefix: 'sha512=',
        algorithm: 'sha512',
        encoding: 'base64',
        timestampHeader: 'X-Timestamp',
        idHeader: 'X-Event-Id',
        typeHeader: 'X-Event-Type',
      }),
    signatureHeader: 'x-signature',
    timestamped: true,
    idFromSignInput: true,
  },
];

/** The WebhookVerificationError `fn` throws (fails the test when it throws nothing or something else). */
function failure(fn: () => unknown): WebhookVerificationError {
  try {
    fn();
  } catch (error) {
    if (error instanceof WebhookVerificationError) return error;
    throw error;
  }
  throw new Error('expected a WebhookVerificationError');
}

const JSON_BODY = '{"id":"evt_1","type":"thing.happened","event_id":"Ev1","data":{"n":1}}';
/** Not valid UTF-8: lone continuation bytes, an invalid lead byte, a truncated sequence. */
const NON_UTF8 = Uint8Array.from([0x7b, 0xff, 0xfe, 0x80, 0x00, 0xc3, 0x7d]);

describe.each(CASES)('$name: the verifier contract', (scheme) => {
  const [oldSecret, newSecret, otherSecret] = scheme.secrets;
  const verifier = scheme.build([newSecret]);

  it('verifies what it signs, reporting its scheme, the body and the timestamp', () => {
    const timestamp = new Date(NOW - 60_000);
    const signed = verifier.sign({ body: JSON_BODY, id: 'delivery_1', timestamp });
    expect(signed.body.toString('utf8')).toBe(JSON_BODY);
    const webhook = verifier.verify({ body: signed.body, headers: signed.headers });
    expect(webhook.scheme).toBe(scheme.name);
    expect(verifier.scheme).toBe(scheme.name);
    expect(webhook.body.equals(Buffer.from(JSON_BODY))).toBe(true);
    expect(webhook.text()).toBe(JSON_BODY);
    expect(webhook.json()).toEqual(JSON.parse(JSON_BODY));
    expect(webhook.json()).toBe(webhook.json());
    expect(webhook.timestamp).toEqual(scheme.timestamped ? timestamp : undefined);
    if (scheme.idFromSignInput) expect(webhook.id).toBe('delivery_1');
    for (const [name, value] of Object.entries(signed.headers)) {
      expect(name).toBe(name.toLowerCase());
      expect(webhook.headers[name]).toBe(value);
    }
  });

  it('signs with the verifier clock when no timestamp is given', () => {
    const webhook = verifier.verify(verifier.sign({ body: JSON_BODY }));
    expect(webhook.timestamp).toEqual(scheme.timestamped ? new Date(NOW) : undefined);
  });

  it('takes headers in any case and as a Web Headers object or name/value pairs', () => {
    const signed = verifier.sign({ body: JSON_BODY });
    const upper = Object.fromEntries(Object.entries(signed.headers).map(([name, value]) => [name.toUpperCase(), value]));
    expect(verifier.verify({ body: JSON_BODY, headers: upper }).body.toString()).toBe(JSON_BODY);
    expect(verifier.verify({ body: JSON_BODY, headers: new Headers(signed.headers) }).scheme).toBe(scheme.name);
    expect(verifier.verify({ body: JSON_BODY, headers: Object.entries(signed.headers) }).scheme).toBe(scheme.name);
  });

  it('hashes the raw bytes: a non-UTF-8 body verifies, its lossy UTF-8 decoding does not', () => {
    const signed = verifier.sign({ body: NON_UTF8 });
    const webhook = verifier.verify({ body: NON_UTF8, headers: signed.headers });
    expect(webhook.body.equals(Buffer.from(NON_UTF8))).toBe(true);
    const lossy = Buffer.from(NON_UTF8).toString('utf8');
    expect(failure(() => verifier.verify({ body: lossy, headers: signed.headers })).reason).toBe('no_matching_signature');
  });

  it('rejects a tampered body', () => {
    const signed = verifier.sign({ body: JSON_BODY });
    const tampered = JSON_BODY.replace('"n":1', '"n":2');
    const error = failure(() => verifier.verify({ body: tampered, headers: signed.headers }));
    expect(error.reason).toBe('no_matching_signature');
    expect(error.scheme).toBe(scheme.name);
    expect(error.header).toBe(scheme.signatureHeader);
  });

  it('accepts a signature by any configured secret (rotation) and none by another', () => {
    const rotating = scheme.build([oldSecret, newSecret]);
    for (const secret of [oldSecret, newSecret]) {
      const signed = scheme.build([secret]).sign({ body: JSON_BODY });
      expect(rotating.verify({ body: JSON_BODY, headers: signed.headers }).scheme).toBe(scheme.name);
    }
    const foreign = scheme.build([otherSecret]).sign({ body: JSON_BODY });
    expect(failure(() => rotating.verify({ body: JSON_BODY, headers: foreign.headers })).reason).toBe('no_matching_signature');
  });

  it('checks the body size first: too large is reported even without any signature header', () => {
    const capped = scheme.build([newSecret], 16);
    expect(capped.maxBodyBytes).toBe(16);
    const error = failure(() => capped.verify({ body: 'x'.repeat(17), headers: {} }));
    expect(error.reason).toBe('body_too_large');
    expect(error.message).not.toContain('xxx');
    expect(failure(() => capped.verify({ body: new Uint8Array(17), headers: {} })).reason).toBe('body_too_large');
    // Multi-byte characters count as bytes: 6 × 3 bytes = 18 > 16.
    expect(failure(() => capped.verify({ body: '€€€€€€', headers: {} })).reason).toBe('body_too_large');
    const atLimit = '{"a":"12345678"}';
    expect(Buffer.byteLength(atLimit)).toBe(16);
    expect(capped.verify({ body: atLimit, headers: capped.sign({ body: atLimit }).headers }).body.length).toBe(16);
  });

  it('defaults the body cap to 1 MiB', () => {
    expect(verifier.maxBodyBytes).toBe(1024 * 1024);
  });

  it('reports a missing signature header', () => {
    const signed = verifier.sign({ body: JSON_BODY });
    const headers = { ...signed.headers };
    delete headers[scheme.signatureHeader];
    const error = failure(() => verifier.verify({ body: JSON_BODY, headers }));
    expect(error.reason).toBe('missing_header');
    expect(error.header).toBe(scheme.signatureHeader);
  });

  it('verifies a non-JSON body; json() then throws invalid_body', () => {
    const webhook = verifier.verify(verifier.sign({ body: 'not json' }));
    expect(webhook.text()).toBe('not json');
    const error = failure(() => webhook.json());
    expect(error.reason).toBe('invalid_body');
    expect(error.scheme).toBe(scheme.name);
  });

  it('refuses to be built without a secret, and never echoes a secret in an error', () => {
    expect(() => scheme.build([])).toThrow(TypeError);
    const signed = verifier.sign({ body: JSON_BODY });
    const error = failure(() => scheme.build([otherSecret]).verify({ body: JSON_BODY, headers: signed.headers }));
    for (const secret of scheme.secrets) expect(error.message).not.toContain(secret);
  });
});
