import { describe, expect, it } from 'vitest';
import { WebhookVerificationError } from '../errors.js';
import { slack } from './slack.js';

// Slack's published example (api.slack.com/authentication/verifying-requests-from-slack).
const VECTOR = {
  secret: '8f742231b10e8888abcd99yyyzzz85a5',
  timestamp: '1531420618',
  body:
    'token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c',
  signature: 'v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503',
};
const VECTOR_NOW = Number(VECTOR.timestamp) * 1000;

function failure(fn: () => unknown): WebhookVerificationError {
  try {
    fn();
  } catch (error) {
    if (error instanceof WebhookVerificationError) return error;
    throw error;
  }
  throw new Error('expected a WebhookVerificationError');
}
const verifierAt = (offsetSeconds = 0) => slack({ secret: VECTOR.secret, now: () => VECTOR_NOW + offsetSeconds * 1000 });
const verify = (overrides: Record<string, string | undefined> = {}, offsetSeconds = 0) =>
  verifierAt(offsetSeconds).verify({
    body: VECTOR.body,
    headers: { 'X-Slack-Request-Timestamp': VECTOR.timestamp, 'X-Slack-Signature': VECTOR.signature, ...overrides },
  });

describe('slack', () => {
  it('verifies the official vector (a form-encoded slash command: no id or type)', () => {
    const webhook = verify();
    expect(webhook.scheme).toBe('slack');
    expect(webhook.timestamp).toEqual(new Date(VECTOR_NOW));
    expect(webhook.id).toBeUndefined();
    expect(webhook.type).toBeUndefined();
  });

  it('signs the official vector to the published signature', () => {
    const signed = verifierAt().sign({ body: VECTOR.body });
    expect(signed.headers).toEqual({ 'x-slack-request-timestamp': VECTOR.timestamp, 'x-slack-signature': VECTOR.signature });
  });

  it('takes event_id and event.type from an Events API callback, else the top-level type', () => {
    const verifier = verifierAt();
    const callback = JSON.stringify({ type: 'event_callback', event_id: 'Ev08MFMKH6', event: { type: 'app_mention', text: 'hi' } });
    const webhook = verifier.verify(verifier.sign({ body: callback }));
    expect(webhook.id).toBe('Ev08MFMKH6');
    expect(webhook.type).toBe('app_mention');
    const challenge = verifier.verify(verifier.sign({ body: '{"type":"url_verification","challenge":"abc"}' }));
    expect(challenge.type).toBe('url_verification');
    expect(challenge.id).toBeUndefined();
  });

  it.each(['x-slack-request-timestamp', 'x-slack-signature'])('reports a missing %s', (name) => {
    const error = failure(() => verify({ [name === 'x-slack-signature' ? 'X-Slack-Signature' : 'X-Slack-Request-Timestamp']: undefined }));
    expect(error.reason).toBe('missing_header');
    expect(error.header).toBe(name);
  });

  it.each([
    ['a signature without v0=', { 'X-Slack-Signature': VECTOR.signature.slice(3) }, 'x-slack-signature'],
    ['another version', { 'X-Slack-Signature': VECTOR.signature.replace('v0=', 'v1=') }, 'x-slack-signature'],
    ['a non-numeric timestamp', { 'X-Slack-Request-Timestamp': 'yesterday' }, 'x-slack-request-timestamp'],
  ])('reports %s as malformed_header', (_label, overrides, header) => {
    const error = failure(() => verify(overrides));
    expect(error.reason).toBe('malformed_header');
    expect(error.header).toBe(header);
  });

  it.each([
    ['a wrong digest', `v0=${'0'.repeat(64)}`],
    ['a truncated digest', VECTOR.signature.slice(0, -1)],
    ['an empty digest', 'v0='],
  ])('reports %s as no_matching_signature', (_label, signature) => {
    expect(failure(() => verify({ 'X-Slack-Signature': signature })).reason).toBe('no_matching_signature');
  });

  it('rejects the signature under a different timestamp', () => {
    expect(failure(() => verify({ 'X-Slack-Request-Timestamp': String(Number(VECTOR.timestamp) + 1) })).reason).toBe('no_matching_signature');
  });

  it('enforces the tolerance both ways (300 s by default), before comparing signatures', () => {
    expect(verify({}, 300).text()).toBe(VECTOR.body);
    expect(failure(() => verify({}, 301)).reason).toBe('timestamp_too_old');
    expect(failure(() => verify({}, -301)).reason).toBe('timestamp_too_new');
    expect(failure(() => verify({ 'X-Slack-Signature': 'v0=00' }, 301)).reason).toBe('timestamp_too_old');
  });
});
