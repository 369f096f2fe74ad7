import { createHmac } from 'node:crypto';
import Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import { WebhookVerificationError } from '../errors.js';
import { stripe } from './stripe.js';

const NOW = Date.UTC(2025, 3, 4, 5, 6, 7);
const T = NOW / 1000;
const SECRET = 'whsec_test_secret_0123456789';
const PAYLOAD = JSON.stringify({ id: 'evt_1PzX', object: 'event', type: 'payment_intent.succeeded', data: { object: { id: 'pi_1' } } });
const verifierAt = (offsetSeconds = 0, secrets = [SECRET]) => stripe({ secrets, now: () => NOW + offsetSeconds * 1000 });
const hex = (secret: string, signed: string): string => createHmac('sha256', secret).update(signed).digest('hex');
const GOOD = hex(SECRET, `${T}.${PAYLOAD}`);
const JUNK = 'ab'.repeat(32);

function failure(fn: () => unknown): WebhookVerificationError {
  try {
    fn();
  } catch (error) {
    if (error instanceof WebhookVerificationError) return error;
    throw error;
  }
  throw new Error('expected a WebhookVerificationError');
}
const verifyWith = (header: string | undefined, offsetSeconds = 0) =>
  verifierAt(offsetSeconds).verify({ body: PAYLOAD, headers: { 'Stripe-Signature': header } });

describe('stripe: signatures', () => {
  it('keys the HMAC with the secret text as-is (not base64-decoded) over t.body, in hex', () => {
    const webhook = verifyWith(`t=${T},v1=${GOOD}`);
    expect(webhook.scheme).toBe('stripe');
    expect(webhook.id).toBe('evt_1PzX');
    expect(webhook.type).toBe('payment_intent.succeeded');
    expect(webhook.timestamp).toEqual(new Date(NOW));
    expect(verifierAt().sign({ body: PAYLOAD }).headers).toEqual({ 'stripe-signature': `t=${T},v1=${GOOD}` });
  });

  it('accepts any matching v1 among several, ignores v0 and unknown keys, tolerates spaces and upper-case hex', () => {
    expect(verifyWith(`t=${T},v1=${JUNK},v1=${GOOD},v0=${JUNK}`).id).toBe('evt_1PzX');
    expect(verifyWith(`t=${T}, v1=${GOOD.toUpperCase()}, x=1, flag`).id).toBe('evt_1PzX');
    expect(verifyWith(`v1=${GOOD},t=${T}`).id).toBe('evt_1PzX');
  });

  it('accepts a signature by any configured secret (secret roll)', () => {
    const rolled = 'whsec_next_secret';
    const header = `t=${T},v1=${hex(rolled, `${T}.${PAYLOAD}`)},v1=${JUNK}`;
    expect(verifierAt(0, [SECRET, rolled]).verify({ body: PAYLOAD, headers: { 'stripe-signature': header } }).id).toBe('evt_1PzX');
  });

  it.each([
    ['only a v0', `t=${T},v0=${GOOD}`],
    ['no t', `v1=${GOOD}`],
    ['two t', `t=${T},t=${T},v1=${GOOD}`],
    ['no key=value at all', 'garbage'],
    ['a non-numeric t', `t=abc,v1=${GOOD}`],
    ['a t with a fraction', `t=${T}.5,v1=${GOOD}`],
  ])('reports %s as malformed_header', (_label, header) => {
    const error = failure(() => verifyWith(header));
    expect(error.reason).toBe('malformed_header');
    expect(error.header).toBe('stripe-signature');
  });

  it.each([
    ['a wrong signature', `t=${T},v1=${JUNK}`],
    ['a truncated signature', `t=${T},v1=${GOOD.slice(0, -2)}`],
    ['a non-hex signature', `t=${T},v1=${GOOD.slice(0, -1)}z`],
    ['an empty signature', `t=${T},v1=`],
    ['the signature under another t', `t=${T + 1},v1=${GOOD}`],
  ])('reports %s as no_matching_signature', (_label, header) => {
    expect(failure(() => verifyWith(header)).reason).toBe('no_matching_signature');
  });

  it('reports a missing header', () => {
    const error = failure(() => verifyWith(undefined));
    expect(error.reason).toBe('missing_header');
    expect(error.header).toBe('stripe-signature');
  });

  it('enforces the tolerance both ways (300 s by default)', () => {
    expect(verifyWith(`t=${T},v1=${GOOD}`, 300).id).toBe('evt_1PzX');
    expect(failure(() => verifyWith(`t=${T},v1=${GOOD}`, 301)).reason).toBe('timestamp_too_old');
    expect(failure(() => verifyWith(`t=${T},v1=${GOOD}`, -301)).reason).toBe('timestamp_too_new');
    // The timestamp is checked before the signature.
    expect(failure(() => verifyWith(`t=${T},v1=${JUNK}`, 301)).reason).toBe('timestamp_too_old');
  });

  it('leaves id and type undefined when the body has none', () => {
    const verifier = verifierAt();
    const webhook = verifier.verify(verifier.sign({ body: '[1,2]' }));
    expect(webhook.id).toBeUndefined();
    expect(webhook.type).toBeUndefined();
  });
});

describe('stripe: interoperability with the stripe library', () => {
  const client = new Stripe('sk_test_x');

  it('our signature passes stripe.webhooks.constructEvent', () => {
    const signed = verifierAt().sign({ body: PAYLOAD });
    const event = client.webhooks.constructEvent(PAYLOAD, signed.headers['stripe-signature']!, SECRET, undefined, undefined, NOW);
    expect(event.id).toBe('evt_1PzX');
    expect(event.type).toBe('payment_intent.succeeded');
  });

  it('stripe.webhooks.generateTestHeaderString verifies with ours', () => {
    const header = client.webhooks.generateTestHeaderString({ payload: PAYLOAD, secret: SECRET, timestamp: T });
    const webhook = verifierAt().verify({ body: PAYLOAD, headers: { 'stripe-signature': header } });
    expect(webhook.id).toBe('evt_1PzX');
    expect(webhook.timestamp).toEqual(new Date(NOW));
  });

  it('constructEvent rejects what ours rejects: a tampered payload', () => {
    const signed = verifierAt().sign({ body: PAYLOAD });
    const tampered = PAYLOAD.replace('pi_1', 'pi_2');
    expect(() => client.webhooks.constructEvent(tampered, signed.headers['stripe-signature']!, SECRET, undefined, undefined, NOW)).toThrow();
    expect(failure(() => verifierAt().verify({ body: tampered, headers: signed.headers })).reason).toBe('no_matching_signature');
  });
});
