import { describe, expect, it } from 'vitest';
import { WebhookVerificationError } from '../errors.js';
import { github } from './github.js';

// GitHub's published example ("Testing the webhook payload validation").
const VECTOR = {
  secret: "It's a Secret to Everybody",
  body: 'Hello, World!',
  signature: 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17',
};

function failure(fn: () => unknown): WebhookVerificationError {
  try {
    fn();
  } catch (error) {
    if (error instanceof WebhookVerificationError) return error;
    throw error;
  }
  throw new Error('expected a WebhookVerificationError');
}
const verify = (signature: string | undefined, extra: Record<string, string> = {}) =>
  github({ secret: VECTOR.secret }).verify({ body: VECTOR.body, headers: { 'X-Hub-Signature-256': signature, ...extra } });

describe('github', () => {
  it('verifies the official vector, taking id and type from the delivery headers', () => {
    const webhook = verify(VECTOR.signature, {
      'X-GitHub-Delivery': '72d3162e-cc78-11e3-81ab-4c9367dc0958',
      'X-GitHub-Event': 'issues',
    });
    expect(webhook.scheme).toBe('github');
    expect(webhook.id).toBe('72d3162e-cc78-11e3-81ab-4c9367dc0958');
    expect(webhook.type).toBe('issues');
    expect(webhook.timestamp).toBeUndefined();
    expect(webhook.text()).toBe(VECTOR.body);
  });

  it('signs the official vector to the published signature, with a random UUID delivery id by default', () => {
    const signed = github({ secret: VECTOR.secret }).sign({ body: VECTOR.body });
    expect(signed.headers['x-hub-signature-256']).toBe(VECTOR.signature);
    expect(signed.headers['x-github-delivery']).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(github({ secret: VECTOR.secret }).sign({ body: VECTOR.body, id: 'd-1' }).headers['x-github-delivery']).toBe('d-1');
  });

  it('leaves id and type undefined without the delivery headers', () => {
    const webhook = verify(VECTOR.signature);
    expect(webhook.id).toBeUndefined();
    expect(webhook.type).toBeUndefined();
  });

  it('accepts upper-case hex', () => {
    expect(verify(`sha256=${VECTOR.signature.slice(7).toUpperCase()}`).text()).toBe(VECTOR.body);
  });

  it.each([
    ['no prefix', VECTOR.signature.slice(7)],
    ['the legacy sha1 prefix', `sha1=${'0'.repeat(40)}`],
    ['an upper-case prefix', VECTOR.signature.replace('sha256', 'SHA256')],
  ])('reports %s as malformed_header', (_label, signature) => {
    const error = failure(() => verify(signature));
    expect(error.reason).toBe('malformed_header');
    expect(error.header).toBe('x-hub-signature-256');
  });

  it.each([
    ['a wrong digest', `sha256=${'0'.repeat(64)}`],
    ['a truncated digest', VECTOR.signature.slice(0, -2)],
    ['a non-hex digest', `${VECTOR.signature.slice(0, -1)}g`],
    ['an empty digest', 'sha256='],
  ])('reports %s as no_matching_signature', (_label, signature) => {
    expect(failure(() => verify(signature)).reason).toBe('no_matching_signature');
  });

  it('does not accept the legacy X-Hub-Signature header instead', () => {
    const error = failure(() =>
      github({ secret: VECTOR.secret }).verify({ body: VECTOR.body, headers: { 'x-hub-signature': 'sha1=01dc10d0c83e72ed246219cdd91669667fe2ca59' } }),
    );
    expect(error.reason).toBe('missing_header');
    expect(error.header).toBe('x-hub-signature-256');
  });

  it('ignores toleranceSeconds and the clock: GitHub signs no timestamp', () => {
    const verifier = github({ secret: VECTOR.secret, toleranceSeconds: 1, now: () => 0 });
    expect(verifier.verify({ body: VECTOR.body, headers: { 'x-hub-signature-256': VECTOR.signature } }).text()).toBe(VECTOR.body);
  });
});
