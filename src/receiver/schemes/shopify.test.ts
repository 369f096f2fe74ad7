import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { WebhookVerificationError } from '../errors.js';
import { shopify } from './shopify.js';

const SECRET = 'shpss_0123456789abcdef0123456789abcdef';
const BODY = '{"id":820982911946154508,"email":"jon@example.com","total_price":"9.99"}';
// Computed independently with node:crypto (Shopify publishes no fixed vector).
const SIGNATURE = createHmac('sha256', SECRET).update(BODY).digest('base64');

function failure(fn: () => unknown): WebhookVerificationError {
  try {
    fn();
  } catch (error) {
    if (error instanceof WebhookVerificationError) return error;
    throw error;
  }
  throw new Error('expected a WebhookVerificationError');
}
const verify = (headers: Record<string, string | undefined>) => shopify({ secret: SECRET }).verify({ body: BODY, headers });

describe('shopify', () => {
  it('verifies base64 HMAC-SHA256 of the body, with id and topic from the headers', () => {
    const webhook = verify({
      'X-Shopify-Hmac-Sha256': SIGNATURE,
      'X-Shopify-Webhook-Id': 'b54557e4-bdd9-4b37-8a5f-bf7d70bcd043',
      'X-Shopify-Event-Id': '98880550-7158-44d4-b7cd-2c97c8a091b5',
      'X-Shopify-Topic': 'orders/create',
      'X-Shopify-Triggered-At': '2025-01-01T00:00:00Z',
    });
    expect(webhook.scheme).toBe('shopify');
    expect(webhook.id).toBe('b54557e4-bdd9-4b37-8a5f-bf7d70bcd043');
    expect(webhook.type).toBe('orders/create');
    expect(webhook.timestamp).toBeUndefined();
  });

  it('does not use X-Shopify-Event-Id as the id: it is shared by all deliveries of one merchant action', () => {
    const webhook = verify({ 'x-shopify-hmac-sha256': SIGNATURE, 'x-shopify-event-id': '98880550-7158-44d4-b7cd-2c97c8a091b5' });
    expect(webhook.id).toBeUndefined();
  });

  it('accepts the Events product headers without the X- prefix', () => {
    const webhook = verify({ 'Shopify-Hmac-Sha256': SIGNATURE, 'Shopify-Webhook-Id': 'w-1', 'Shopify-Topic': 'Product' });
    expect(webhook.id).toBe('w-1');
    expect(webhook.type).toBe('Product');
  });

  it('prefers X-Shopify-Hmac-Sha256 when both are present', () => {
    const error = failure(() => verify({ 'x-shopify-hmac-sha256': 'AAAA', 'shopify-hmac-sha256': SIGNATURE }));
    expect(error.reason).toBe('no_matching_signature');
    expect(error.header).toBe('x-shopify-hmac-sha256');
  });

  it('signs to the same digest, with a random UUID webhook id by default', () => {
    const signed = shopify({ secret: SECRET }).sign({ body: BODY });
    expect(signed.headers['x-shopify-hmac-sha256']).toBe(SIGNATURE);
    expect(signed.headers['x-shopify-webhook-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it.each([
    ['a wrong digest', Buffer.alloc(32).toString('base64')],
    ['a truncated digest', SIGNATURE.slice(0, -4)],
    ['hex instead of base64', createHmac('sha256', SECRET).update(BODY).digest('hex')],
    ['not base64', `${SIGNATURE.slice(0, -2)}*=`],
  ])('reports %s as no_matching_signature', (_label, signature) => {
    expect(failure(() => verify({ 'x-shopify-hmac-sha256': signature })).reason).toBe('no_matching_signature');
  });

  it('reports a missing signature header under its X- name', () => {
    const error = failure(() => verify({ 'x-shopify-topic': 'orders/create' }));
    expect(error.reason).toBe('missing_header');
    expect(error.header).toBe('x-shopify-hmac-sha256');
  });
});
