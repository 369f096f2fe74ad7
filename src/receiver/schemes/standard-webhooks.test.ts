import { createHmac, generateKeyPairSync, sign as cryptoSign } from 'node:crypto';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { Webhook as SvixWebhook } from 'svix';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WebhookVerificationError } from '../errors.js';
import { standardWebhooks } from './standard-webhooks.js';

// The one fixed vector of the Standard Webhooks repository, used by every language's tests.
const VECTOR = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  timestamp: '1614265330',
  body: '{"test": 2432232314}',
  signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
};
const VECTOR_NOW = Number(VECTOR.timestamp) * 1000;
const vectorHeaders = (overrides: Record<string, string | undefined> = {}): Record<string, string | undefined> => ({
  'webhook-id': VECTOR.id,
  'webhook-timestamp': VECTOR.timestamp,
  'webhook-signature': VECTOR.signature,
  ...overrides,
});
const atVectorTime = (secrets: string[] = [VECTOR.secret], offsetSeconds = 0) =>
  standardWebhooks({ secrets, now: () => VECTOR_NOW + offsetSeconds * 1000 });

function failure(fn: () => unknown): WebhookVerificationError {
  try {
    fn();
  } catch (error) {
    if (error instanceof WebhookVerificationError) return error;
    throw error;
  }
  throw new Error('expected a WebhookVerificationError');
}

/** A fresh ed25519 key pair as raw bytes, the form `whsk_`/`whpk_` keys carry. */
function ed25519Pair(): { seed: Buffer; publicKey: Buffer } {
  const pair = generateKeyPairSync('ed25519');
  return {
    seed: pair.privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(-32),
    publicKey: pair.publicKey.export({ format: 'der', type: 'spki' }).subarray(-32),
  };
}
const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');

describe('standardWebhooks: the official vector', () => {
  it('verifies it, with id, timestamp and no type (the body has none)', () => {
    const webhook = atVectorTime().verify({ body: VECTOR.body, headers: vectorHeaders() });
    expect(webhook.scheme).toBe('standard-webhooks');
    expect(webhook.id).toBe(VECTOR.id);
    expect(webhook.timestamp).toEqual(new Date(VECTOR_NOW));
    expect(webhook.type).toBeUndefined();
    expect(webhook.json()).toEqual({ test: 2432232314 });
  });

  it('signs it to the published signature', () => {
    const signed = atVectorTime().sign({ body: VECTOR.body, id: VECTOR.id, timestamp: new Date(VECTOR_NOW) });
    expect(signed.headers).toEqual({
      'webhook-id': VECTOR.id,
      'webhook-timestamp': VECTOR.timestamp,
      'webhook-signature': VECTOR.signature,
    });
  });

  it('takes the secret without its whsec_ prefix as the same key', () => {
    const bare = VECTOR.secret.slice('whsec_'.length);
    expect(atVectorTime([bare]).verify({ body: VECTOR.body, headers: vectorHeaders() }).id).toBe(VECTOR.id);
    expect(atVectorTime([bare]).sign({ body: VECTOR.body, id: VECTOR.id, timestamp: new Date(VECTOR_NOW) }).headers['webhook-signature']).toBe(
      VECTOR.signature,
    );
  });

  it('reads the JSON body type field', () => {
    const verifier = atVectorTime();
    const body = '{"type":"invoice.paid","data":{}}';
    expect(verifier.verify(verifier.sign({ body })).type).toBe('invoice.paid');
  });

  it.each([
    ['a wrong signature', 'v1,dawfeoifkpqwoekfpqoekf'],
    ['a truncated signature', VECTOR.signature.slice(0, -4)],
    ['an empty signature', 'v1,'],
    ['the right signature under an unknown version', VECTOR.signature.replace('v1,', 'v2,')],
    ['the right signature as v1a', VECTOR.signature.replace('v1,', 'v1a,')],
    ['the signature of another id', 'v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc='],
  ])('rejects %s as no_matching_signature', (_label, signature) => {
    const error = failure(() => atVectorTime().verify({ body: VECTOR.body, headers: vectorHeaders({ 'webhook-signature': signature }) }));
    expect(error.reason).toBe('no_matching_signature');
    expect(error.header).toBe('webhook-signature');
    expect(error.message).not.toContain(VECTOR.signature.slice(3));
  });

  it('accepts a header with several entries when one of them matches', () => {
    const headers = vectorHeaders({
      'webhook-signature': `v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v2,whatever garbage ${VECTOR.signature} v1a,AAAA`,
    });
    expect(atVectorTime().verify({ body: VECTOR.body, headers }).id).toBe(VECTOR.id);
  });

  it('reports a header with no parseable entry as malformed', () => {
    for (const signature of ['garbage', 'v1 abc', ',abc']) {
      const error = failure(() => atVectorTime().verify({ body: VECTOR.body, headers: vectorHeaders({ 'webhook-signature': signature }) }));
      expect(error.reason).toBe('malformed_header');
      expect(error.header).toBe('webhook-signature');
    }
  });

  it.each(['webhook-id', 'webhook-timestamp', 'webhook-signature'])('reports a missing or blank %s', (name) => {
    for (const value of [undefined, '', '  ']) {
      const error = failure(() => atVectorTime().verify({ body: VECTOR.body, headers: vectorHeaders({ [name]: value }) }));
      expect(error.reason).toBe('missing_header');
      expect(error.header).toBe(name);
    }
  });

  it('reports a non-numeric timestamp as malformed', () => {
    for (const timestamp of ['hello', '1614265330.5', '-1614265330', '1e9']) {
      const error = failure(() => atVectorTime().verify({ body: VECTOR.body, headers: vectorHeaders({ 'webhook-timestamp': timestamp }) }));
      expect(error.reason).toBe('malformed_header');
      expect(error.header).toBe('webhook-timestamp');
    }
  });

  it('rejects an id containing "." (it would make the signed content ambiguous)', () => {
    const error = failure(() => atVectorTime().verify({ body: VECTOR.body, headers: vectorHeaders({ 'webhook-id': 'msg.1' }) }));
    expect(error.reason).toBe('malformed_header');
    expect(error.header).toBe('webhook-id');
    expect(() => atVectorTime().sign({ body: '{}', id: 'msg.1' })).toThrow(TypeError);
  });

  it('enforces the tolerance both ways, 300 s by default, inclusive', () => {
    const verify = (offsetSeconds: number, toleranceSeconds?: number) =>
      standardWebhooks({ secret: VECTOR.secret, toleranceSeconds, now: () => VECTOR_NOW + offsetSeconds * 1000 }).verify({
        body: VECTOR.body,
        headers: vectorHeaders(),
      });
    expect(verify(300).id).toBe(VECTOR.id);
    expect(verify(-300).id).toBe(VECTOR.id);
    expect(failure(() => verify(301)).reason).toBe('timestamp_too_old');
    expect(failure(() => verify(-301)).reason).toBe('timestamp_too_new');
    expect(failure(() => verify(61, 60)).reason).toBe('timestamp_too_old');
    expect(verify(3600, 3600).id).toBe(VECTOR.id);
  });

  it('checks the header formats before the timestamp, and the timestamp before the signature', () => {
    const stale = atVectorTime([VECTOR.secret], 10_000);
    const malformed = failure(() => stale.verify({ body: VECTOR.body, headers: vectorHeaders({ 'webhook-signature': 'garbage' }) }));
    expect(malformed.reason).toBe('malformed_header');
    const old = failure(() => stale.verify({ body: VECTOR.body, headers: vectorHeaders({ 'webhook-signature': 'v1,AAAA' }) }));
    expect(old.reason).toBe('timestamp_too_old');
  });
});

describe('standardWebhooks: svix-* headers', () => {
  const svixHeaders = { 'svix-id': VECTOR.id, 'svix-timestamp': VECTOR.timestamp, 'svix-signature': VECTOR.signature };

  it('reads svix-id/-timestamp/-signature when no webhook-* header is present', () => {
    expect(atVectorTime().verify({ body: VECTOR.body, headers: svixHeaders }).id).toBe(VECTOR.id);
  });

  it('prefers the webhook-* set when both are present', () => {
    const headers = { ...svixHeaders, 'webhook-id': VECTOR.id, 'webhook-timestamp': VECTOR.timestamp, 'webhook-signature': 'v1,AAAA' };
    expect(failure(() => atVectorTime().verify({ body: VECTOR.body, headers })).reason).toBe('no_matching_signature');
  });

  it('names the svix header that is missing', () => {
    const error = failure(() => atVectorTime().verify({ body: VECTOR.body, headers: { ...svixHeaders, 'svix-timestamp': undefined } }));
    expect(error.reason).toBe('missing_header');
    expect(error.header).toBe('svix-timestamp');
  });

  it('names webhook-id when neither set is present', () => {
    const error = failure(() => atVectorTime().verify({ body: VECTOR.body, headers: {} }));
    expect(error.header).toBe('webhook-id');
  });
});

describe('standardWebhooks: keys', () => {
  it.each([
    ['empty', ''],
    ['a bare prefix', 'whsec_'],
    ['not base64', 'whsec_not*base64!'],
    ['base64 with spaces', 'whsec_MfKQ9r8GKYqrTwjU PD8ILPZIo2LaLaSw'],
    ['an unknown prefix', 'wh_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'],
  ])('throws TypeError for %s, without echoing it', (_label, secret) => {
    let thrown: unknown;
    try {
      standardWebhooks({ secret });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(TypeError);
    if (secret.length > 6) expect((thrown as Error).message).not.toContain(secret);
  });

  it('throws TypeError for malformed ed25519 keys', () => {
    const { seed, publicKey } = ed25519Pair();
    expect(() => standardWebhooks({ secret: `whpk_${b64(publicKey.subarray(1))}` })).toThrow(TypeError);
    expect(() => standardWebhooks({ secret: 'whpk_' })).toThrow(TypeError);
    expect(() => standardWebhooks({ secret: `whsk_${b64(seed.subarray(1))}` })).toThrow(TypeError);
    const other = ed25519Pair();
    expect(() => standardWebhooks({ secret: `whsk_${b64(Buffer.concat([seed, other.publicKey]))}` })).toThrow(/does not belong/);
  });

  it('takes secret and secrets together', () => {
    const verifier = standardWebhooks({ secret: 'whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', secrets: [VECTOR.secret], now: () => VECTOR_NOW });
    expect(verifier.verify({ body: VECTOR.body, headers: vectorHeaders() }).id).toBe(VECTOR.id);
  });
});

describe('standardWebhooks: v1a (ed25519)', () => {
  const NOW = Date.UTC(2025, 5, 1);
  const now = () => NOW;

  it('signs v1a with a whsk_ seed and verifies it with the whpk_ public key', () => {
    const { seed, publicKey } = ed25519Pair();
    const signed = standardWebhooks({ secret: `whsk_${b64(seed)}`, now }).sign({ body: '{"type":"a.b"}', id: 'msg_1' });
    expect(signed.headers['webhook-signature']).toMatch(/^v1a,[A-Za-z0-9+/]{86}==$/);
    const webhook = standardWebhooks({ secret: `whpk_${b64(publicKey)}`, now }).verify(signed);
    expect(webhook.id).toBe('msg_1');
    expect(webhook.type).toBe('a.b');
  });

  it('verifies with the secret key itself, in both its 32- and 64-byte forms', () => {
    const { seed, publicKey } = ed25519Pair();
    const short = standardWebhooks({ secret: `whsk_${b64(seed)}`, now });
    const long = standardWebhooks({ secret: `whsk_${b64(Buffer.concat([seed, publicKey]))}`, now });
    expect(long.verify(short.sign({ body: 'x' })).text()).toBe('x');
    expect(short.verify(long.sign({ body: 'y' })).text()).toBe('y');
  });

  it('wraps raw keys correctly: the RFC 8032 test key pair is accepted as seed || public key', () => {
    // RFC 8032 §7.1, TEST 1.
    const seed = Buffer.from('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60', 'hex');
    const publicKey = Buffer.from('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a', 'hex');
    const signer = standardWebhooks({ secret: `whsk_${b64(Buffer.concat([seed, publicKey]))}`, now });
    const verifier = standardWebhooks({ secret: `whpk_${b64(publicKey)}`, now });
    expect(verifier.verify(signer.sign({ body: 'rfc' })).text()).toBe('rfc');
  });

  it('verifies a v1a signature made independently with node:crypto over id.timestamp.body', () => {
    const pair = generateKeyPairSync('ed25519');
    const publicKey = pair.publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
    const seconds = String(NOW / 1000);
    const body = Uint8Array.from([0xff, 0x00, 0xfe]);
    const signature = cryptoSign(null, Buffer.concat([Buffer.from(`msg_x.${seconds}.`), body]), pair.privateKey).toString('base64');
    const headers = { 'webhook-id': 'msg_x', 'webhook-timestamp': seconds, 'webhook-signature': `v1a,${signature}` };
    expect(standardWebhooks({ secret: `whpk_${b64(publicKey)}`, now }).verify({ body, headers }).id).toBe('msg_x');
    const tampered = Uint8Array.from([0xff, 0x00, 0xfd]);
    expect(failure(() => standardWebhooks({ secret: `whpk_${b64(publicKey)}`, now }).verify({ body: tampered, headers })).reason).toBe(
      'no_matching_signature',
    );
  });

  it('rotates across key kinds: v1 and v1a entries in one header, any configured key may match', () => {
    const oldPair = ed25519Pair();
    const newPair = ed25519Pair();
    const symmetric = `whsec_${Buffer.alloc(32, 9).toString('base64')}`;
    const verifier = standardWebhooks({ secrets: [`whpk_${b64(oldPair.publicKey)}`, `whpk_${b64(newPair.publicKey)}`, symmetric], now });
    const fromNew = standardWebhooks({ secret: `whsk_${b64(newPair.seed)}`, now }).sign({ body: 'b', id: 'msg_r', timestamp: new Date(NOW) });
    const fromSymmetric = standardWebhooks({ secret: symmetric, now }).sign({ body: 'b', id: 'msg_r', timestamp: new Date(NOW) });
    expect(verifier.verify(fromNew).id).toBe('msg_r');
    expect(verifier.verify(fromSymmetric).id).toBe('msg_r');
    const stranger = standardWebhooks({ secret: `whsk_${b64(ed25519Pair().seed)}`, now }).sign({ body: 'b', id: 'msg_r', timestamp: new Date(NOW) });
    const combined = {
      ...fromNew.headers,
      'webhook-signature': `${stranger.headers['webhook-signature']} ${fromNew.headers['webhook-signature']}`,
    };
    expect(verifier.verify({ body: 'b', headers: combined }).id).toBe('msg_r');
    expect(failure(() => verifier.verify(stranger)).reason).toBe('no_matching_signature');
  });

  it('does not check v1a entries against whsec_ secrets, nor v1 against ed25519 keys', () => {
    const { seed, publicKey } = ed25519Pair();
    const v1a = standardWebhooks({ secret: `whsk_${b64(seed)}`, now }).sign({ body: 'b' });
    expect(failure(() => standardWebhooks({ secret: VECTOR.secret, now }).verify(v1a)).reason).toBe('no_matching_signature');
    const v1 = standardWebhooks({ secret: VECTOR.secret, now }).sign({ body: 'b' });
    expect(failure(() => standardWebhooks({ secret: `whpk_${b64(publicKey)}`, now }).verify(v1)).reason).toBe('no_matching_signature');
  });

  it('cannot sign with only public keys', () => {
    const verifier = standardWebhooks({ secret: `whpk_${b64(ed25519Pair().publicKey)}`, now });
    expect(() => verifier.sign({ body: 'b' })).toThrow(/can sign/);
  });

  it('signs with the first key that can sign', () => {
    const { seed, publicKey } = ed25519Pair();
    const verifier = standardWebhooks({ secrets: [`whpk_${b64(publicKey)}`, `whsk_${b64(seed)}`, VECTOR.secret], now });
    expect(verifier.sign({ body: 'b' }).headers['webhook-signature']).toMatch(/^v1a,/);
  });
});

describe('standardWebhooks: sign()', () => {
  it('defaults the id to msg_ and random hex, and hashes raw bytes', () => {
    const verifier = atVectorTime();
    const body = Uint8Array.from([0x80, 0x81, 0xff]);
    const a = verifier.sign({ body });
    const b = verifier.sign({ body });
    expect(a.headers['webhook-id']).toMatch(/^msg_[0-9a-f]{32}$/);
    expect(a.headers['webhook-id']).not.toBe(b.headers['webhook-id']);
    expect(a.headers['webhook-timestamp']).toBe(VECTOR.timestamp);
    const key = Buffer.from(VECTOR.secret.slice(6), 'base64');
    const expected = createHmac('sha256', key)
      .update(Buffer.concat([Buffer.from(`${a.headers['webhook-id']}.${VECTOR.timestamp}.`), body]))
      .digest('base64');
    expect(a.headers['webhook-signature']).toBe(`v1,${expected}`);
  });
});

describe('standardWebhooks: interoperability with the standardwebhooks and svix libraries', () => {
  const NOW = Date.UTC(2025, 2, 3, 4, 5, 6);
  const secret = `whsec_${Buffer.alloc(24, 42).toString('base64')}`;
  const body = '{"type":"user.created","data":{"id":"u_1","name":"Zoë"}}';
  const ours = standardWebhooks({ secret, now: () => NOW });

  afterEach(() => {
    vi.useRealTimers();
  });
  /** The libraries read the wall clock; freeze it at NOW. */
  const freezeClock = (): void => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(NOW);
  };

  it('our signature verifies with standardwebhooks Webhook', () => {
    freezeClock();
    const signed = ours.sign({ body });
    expect(new StandardWebhook(secret).verify(body, signed.headers)).toEqual(JSON.parse(body));
  });

  it('our signature verifies with svix Webhook under svix-* names', () => {
    freezeClock();
    const signed = ours.sign({ body, id: 'msg_svix1' });
    const svixHeaders = {
      'svix-id': signed.headers['webhook-id']!,
      'svix-timestamp': signed.headers['webhook-timestamp']!,
      'svix-signature': signed.headers['webhook-signature']!,
    };
    expect(new SvixWebhook(secret).verify(body, svixHeaders)).toEqual(JSON.parse(body));
  });

  it('a standardwebhooks signature verifies with ours', () => {
    const signature = new StandardWebhook(secret).sign('msg_lib1', new Date(NOW), body);
    const headers = { 'webhook-id': 'msg_lib1', 'webhook-timestamp': String(NOW / 1000), 'webhook-signature': signature };
    const webhook = ours.verify({ body, headers });
    expect(webhook.id).toBe('msg_lib1');
    expect(webhook.type).toBe('user.created');
  });

  it('a svix signature, sent under svix-* names, verifies with ours', () => {
    const signature = new SvixWebhook(secret).sign('msg_svix2', new Date(NOW), body);
    const headers = { 'svix-id': 'msg_svix2', 'svix-timestamp': String(NOW / 1000), 'svix-signature': signature };
    expect(ours.verify({ body, headers }).id).toBe('msg_svix2');
  });
});
