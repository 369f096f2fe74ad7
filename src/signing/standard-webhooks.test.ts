import { createHmac, createPublicKey, verify as cryptoVerify } from 'node:crypto';
import { Webhook } from 'svix';
import { describe, expect, it } from 'vitest';
import {
  SigningError,
  buildSignatureHeaders,
  generateSecret,
  isValidSecret,
  normalizeSecret,
  parseSecret,
  parseSigningKey,
  signingKeyKind,
  verificationKeyOf,
  signPayload,
  signatureHeaderNames,
  verifySignature,
} from './standard-webhooks.js';

// The one fixed vector of the Standard Webhooks repository, used by every language's tests.
const VECTOR = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  msgId: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  timestampSeconds: 1614265330,
  body: '{"test": 2432232314}',
  signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
};

const nowSeconds = () => Math.floor(Date.now() / 1000);

describe('secrets', () => {
  it('generates whsec_ secrets of 24 random bytes', () => {
    const secret = generateSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    expect(parseSecret(secret)).toHaveLength(24);
    expect(generateSecret()).not.toBe(secret);
  });

  it('parses the official vector secret to 24 bytes', () => {
    expect(parseSecret(VECTOR.secret)).toHaveLength(24);
  });

  it('accepts secrets of 24 to 75 bytes, padded or not', () => {
    expect(parseSecret(`whsec_${Buffer.alloc(75, 7).toString('base64')}`)).toHaveLength(75);
    const padded = `whsec_${Buffer.alloc(25, 1).toString('base64')}`;
    expect(padded.endsWith('=')).toBe(true);
    expect(parseSecret(padded)).toHaveLength(25);
    expect(parseSecret(padded.replace(/=+$/, ''))).toHaveLength(25);
  });

  it.each([
    ['an empty string', '', /24–75 bytes, got 0/],
    ['a bare prefix', 'whsec_', /24–75 bytes, got 0/],
    ['an ed25519 key', 'whsk_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', /not an HMAC secret/],
    ['an unknown prefix', 'whxx_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', /standard base64/],
    ['too short', `whsec_${Buffer.alloc(23).toString('base64')}`, /got 23/],
    ['too long', `whsec_${Buffer.alloc(76).toString('base64')}`, /got 76/],
    ['non-base64 characters', 'whsec_MfKQ9r8GKYqrTwjUPD8I!PZIo2LaLaSw', /standard base64/],
    ['url-safe base64', 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLa-_', /standard base64/],
    ['inner whitespace', 'whsec_MfKQ9r8GKYqrTwjU PD8ILPZIo2LaLaSw', /standard base64/],
  ])('rejects %s', (_name, secret, message) => {
    expect(() => parseSecret(secret)).toThrow(SigningError);
    expect(() => parseSecret(secret)).toThrow(message);
    expect(isValidSecret(secret)).toBe(false);
  });

  it('never echoes the secret in its error message', () => {
    const secret = 'whsec_c2VjcmV0LXZhbHVl';
    expect(() => parseSecret(secret)).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining('c2VjcmV0LXZhbHVl') }),
    );
  });

  it('takes a bare base64 secret as the same key as with the whsec_ prefix', () => {
    expect(parseSecret('MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw')).toEqual(parseSecret(VECTOR.secret));
    expect(normalizeSecret('MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw')).toBe(VECTOR.secret);
    expect(normalizeSecret(VECTOR.secret)).toBe(VECTOR.secret);
    expect(verificationKeyOf('MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw')).toBe(VECTOR.secret);
    expect(() => parseSecret(Buffer.alloc(23).toString('base64'))).toThrow(/got 23/);
  });

  it('reports valid secrets as valid', () => {
    expect(isValidSecret(VECTOR.secret)).toBe(true);
    expect(isValidSecret(generateSecret())).toBe(true);
  });
});

describe('signPayload', () => {
  it('matches the official Standard Webhooks vector', () => {
    expect(
      signPayload({
        msgId: VECTOR.msgId,
        timestampSeconds: VECTOR.timestampSeconds,
        body: VECTOR.body,
        secrets: [VECTOR.secret],
      }),
    ).toBe(VECTOR.signature);
  });

  it('gives the same signature for a string and its UTF-8 bytes', () => {
    const base = { msgId: VECTOR.msgId, timestampSeconds: VECTOR.timestampSeconds, secrets: [VECTOR.secret] };
    expect(signPayload({ ...base, body: Buffer.from(VECTOR.body) })).toBe(VECTOR.signature);
    expect(signPayload({ ...base, body: '{"name":"Zoë 🎉"}' })).toBe(
      signPayload({ ...base, body: Buffer.from('{"name":"Zoë 🎉"}', 'utf8') }),
    );
  });

  it('emits one signature per secret, in order, for rotation', () => {
    const newSecret = generateSecret();
    const header = signPayload({
      msgId: VECTOR.msgId,
      timestampSeconds: VECTOR.timestampSeconds,
      body: VECTOR.body,
      secrets: [newSecret, VECTOR.secret],
    });
    const entries = header.split(' ');
    expect(entries).toHaveLength(2);
    expect(entries[1]).toBe(VECTOR.signature);
    expect(entries[0]).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
  });

  it('signs non-UTF-8 bodies as raw bytes', () => {
    const body = Buffer.from([0x7b, 0xff, 0xfe, 0x00, 0xc3, 0x28, 0x7d]);
    const key = parseSecret(VECTOR.secret);
    const expected = createHmac('sha256', key)
      .update(Buffer.concat([Buffer.from(`${VECTOR.msgId}.${VECTOR.timestampSeconds}.`), body]))
      .digest('base64');
    const signature = signPayload({ msgId: VECTOR.msgId, timestampSeconds: VECTOR.timestampSeconds, body, secrets: [VECTOR.secret] });
    expect(signature).toBe(`v1,${expected}`);
    // What a string round-trip would have signed instead: the bytes changed, so must the signature.
    const lossy = signPayload({
      msgId: VECTOR.msgId,
      timestampSeconds: VECTOR.timestampSeconds,
      body: body.toString('utf8'),
      secrets: [VECTOR.secret],
    });
    expect(lossy).not.toBe(signature);
    expect(
      verifySignature({
        msgId: VECTOR.msgId,
        timestampSeconds: VECTOR.timestampSeconds,
        body,
        signatureHeader: signature,
        secrets: [VECTOR.secret],
        nowSeconds: VECTOR.timestampSeconds,
      }),
    ).toBe(true);
  });

  it.each([
    ['no secrets', { secrets: [] }, /At least one/],
    ['a malformed secret', { secrets: ['whsec_c2hvcnQ='] }, /24–75 bytes, got 5/],
    ['an empty message id', { msgId: '' }, /Message id/],
    ['a message id containing "."', { msgId: 'msg_a.b' }, /Message id/],
    ['a fractional timestamp', { timestampSeconds: 1.5 }, /Timestamp/],
    ['a negative timestamp', { timestampSeconds: -1 }, /Timestamp/],
  ])('throws SigningError for %s', (_name, override, message) => {
    const input = { msgId: VECTOR.msgId, timestampSeconds: VECTOR.timestampSeconds, body: VECTOR.body, secrets: [VECTOR.secret], ...override };
    expect(() => signPayload(input)).toThrow(SigningError);
    expect(() => signPayload(input)).toThrow(message);
  });
});

// An ed25519 test key of the Svix server's own tests (seed then public key) and the public key it
// derives from it; the second is the same key with bytes of its public half changed.
const SVIX_ED25519 = {
  secret: 'whsk_6Xb/dCcHpPea21PS1N9VY/NZW723CEc77N4rJCubMbfVKIDij2HKpMKkioLlX0dRqSKJp4AJ6p9lMicMFs6Kvg==',
  publicKey: 'whpk_1SiA4o9hyqTCpIqC5V9HUakiiaeACeqfZTInDBbOir4=',
  mismatched: 'whsk_6Xb/dCcHpPea21PS1N9VY/NZW723CEc77N4rJCubMbfVKIDij2HKpMKkioLlaaaaaaaaaaAJ6p9lMicMFs6Kvg==',
};

describe('ed25519 keys', () => {
  it('generates whsk_ keys of seed and public key (64 bytes), each new', () => {
    const secret = generateSecret('ed25519');
    expect(secret).toMatch(/^whsk_[A-Za-z0-9+/]{86}==$/);
    expect(Buffer.from(secret.slice(5), 'base64')).toHaveLength(64);
    expect(signingKeyKind(secret)).toBe('ed25519');
    expect(generateSecret('ed25519')).not.toBe(secret);
    expect(signingKeyKind(generateSecret())).toBe('hmac');
  });

  it('derives the whpk_ public key, as Svix does for its own test key', () => {
    expect(verificationKeyOf(SVIX_ED25519.secret)).toBe(SVIX_ED25519.publicKey);
    expect(normalizeSecret(SVIX_ED25519.secret)).toBe(SVIX_ED25519.secret);
    const generated = generateSecret('ed25519');
    expect(verificationKeyOf(generated)).toBe(`whpk_${Buffer.from(generated.slice(5), 'base64').subarray(32).toString('base64')}`);
  });

  it.each([
    ['a public half from another seed', SVIX_ED25519.mismatched, /does not belong to its seed/],
    ['the seed alone (32 bytes)', `whsk_${Buffer.from(SVIX_ED25519.secret.slice(5), 'base64').subarray(0, 32).toString('base64')}`, /64 bytes.*got 32/],
    ['one byte short', `whsk_${Buffer.from(SVIX_ED25519.secret.slice(5), 'base64').subarray(0, 63).toString('base64')}`, /got 63/],
    ['non-base64 text', 'whsk_not base64!', /standard base64/],
    ['a whpk_ public key', SVIX_ED25519.publicKey, /only verifies/],
  ])('refuses %s', (_name, secret, message) => {
    expect(() => parseSigningKey(secret)).toThrow(SigningError);
    expect(() => parseSigningKey(secret)).toThrow(message);
    expect(isValidSecret(secret)).toBe(false);
    expect(() => signPayload({ msgId: 'msg_1', timestampSeconds: 1, body: '{}', secrets: [secret] })).toThrow(SigningError);
  });

  it('signs v1a with ed25519 over {id}.{timestamp}.{body}, checked by node:crypto with the public key alone', () => {
    const header = signPayload({ msgId: VECTOR.msgId, timestampSeconds: VECTOR.timestampSeconds, body: VECTOR.body, secrets: [SVIX_ED25519.secret] });
    expect(header).toMatch(/^v1a,[A-Za-z0-9+/]{86}==$/);
    const raw = Buffer.from(SVIX_ED25519.publicKey.slice(5), 'base64');
    const publicKey = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' });
    const content = Buffer.from(`${VECTOR.msgId}.${VECTOR.timestampSeconds}.${VECTOR.body}`);
    expect(cryptoVerify(null, content, publicKey, Buffer.from(header.slice(4), 'base64'))).toBe(true);
    expect(cryptoVerify(null, Buffer.concat([content, Buffer.from(' ')]), publicKey, Buffer.from(header.slice(4), 'base64'))).toBe(false);
  });

  it('signs with every kind in one header, in order, during a rotation across kinds', () => {
    const header = signPayload({ msgId: VECTOR.msgId, timestampSeconds: VECTOR.timestampSeconds, body: VECTOR.body, secrets: [SVIX_ED25519.secret, VECTOR.secret] });
    const entries = header.split(' ');
    expect(entries).toHaveLength(2);
    expect(entries[0]).toMatch(/^v1a,/);
    expect(entries[1]).toBe(VECTOR.signature);
    const base = { msgId: VECTOR.msgId, timestampSeconds: VECTOR.timestampSeconds, body: VECTOR.body, signatureHeader: header, nowSeconds: VECTOR.timestampSeconds };
    expect(verifySignature({ ...base, secrets: [SVIX_ED25519.publicKey] })).toBe(true);
    expect(verifySignature({ ...base, secrets: [SVIX_ED25519.secret] })).toBe(true);
    expect(verifySignature({ ...base, secrets: [VECTOR.secret] })).toBe(true);
    expect(verifySignature({ ...base, secrets: [verificationKeyOf(generateSecret('ed25519'))] })).toBe(false);
    // A v1a entry is never checked against an HMAC secret, nor a v1 entry against a public key.
    expect(verifySignature({ ...base, signatureHeader: entries[0]!, secrets: [VECTOR.secret] })).toBe(false);
    expect(verifySignature({ ...base, signatureHeader: entries[1]!, secrets: [SVIX_ED25519.publicKey] })).toBe(false);
    expect(verifySignature({ ...base, body: `${VECTOR.body} `, secrets: [SVIX_ED25519.publicKey] })).toBe(false);
  });

  it('signs a bare base64 secret exactly as its whsec_ form', () => {
    const input = { msgId: VECTOR.msgId, timestampSeconds: VECTOR.timestampSeconds, body: VECTOR.body };
    expect(signPayload({ ...input, secrets: ['MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'] })).toBe(VECTOR.signature);
  });
});

describe('verifySignature', () => {
  const valid = {
    msgId: VECTOR.msgId,
    timestampSeconds: VECTOR.timestampSeconds,
    body: VECTOR.body,
    signatureHeader: VECTOR.signature,
    secrets: [VECTOR.secret],
    nowSeconds: VECTOR.timestampSeconds,
  };

  it('accepts the official vector', () => {
    expect(verifySignature(valid)).toBe(true);
    expect(verifySignature({ ...valid, timestampSeconds: String(VECTOR.timestampSeconds) })).toBe(true);
    expect(verifySignature({ ...valid, body: Buffer.from(VECTOR.body) })).toBe(true);
  });

  it('accepts a two-secret rotation header with either secret', () => {
    const oldSecret = generateSecret();
    const newSecret = generateSecret();
    const signatureHeader = signPayload({ ...valid, secrets: [newSecret, oldSecret] });
    expect(verifySignature({ ...valid, signatureHeader, secrets: [oldSecret] })).toBe(true);
    expect(verifySignature({ ...valid, signatureHeader, secrets: [newSecret] })).toBe(true);
    expect(verifySignature({ ...valid, signatureHeader, secrets: [generateSecret()] })).toBe(false);
  });

  it('accepts when any configured secret matches', () => {
    expect(verifySignature({ ...valid, secrets: [generateSecret(), VECTOR.secret] })).toBe(true);
  });

  it('rejects a wrong secret', () => {
    expect(verifySignature({ ...valid, secrets: [generateSecret()] })).toBe(false);
  });

  it('rejects a tampered body, id or timestamp', () => {
    expect(verifySignature({ ...valid, body: '{"test": 2432232315}' })).toBe(false);
    expect(verifySignature({ ...valid, body: `${VECTOR.body} ` })).toBe(false);
    expect(verifySignature({ ...valid, msgId: 'msg_other' })).toBe(false);
    expect(verifySignature({ ...valid, timestampSeconds: VECTOR.timestampSeconds + 1 })).toBe(false);
  });

  it.each([
    ['a wrong signature', 'v1,dawfeoifkpqwoekfpqoekf'],
    ['a truncated signature', VECTOR.signature.slice(0, -4)],
    ['an empty v1 entry', 'v1,'],
    ['an empty header', ''],
    ['an entry without a version', VECTOR.signature.slice(3)],
    ['another version', VECTOR.signature.replace('v1,', 'v1a,')],
    ['the signature with extra characters', `${VECTOR.signature}x`],
  ])('rejects %s', (_name, signatureHeader) => {
    expect(verifySignature({ ...valid, signatureHeader })).toBe(false);
  });

  it('accepts a header where only one of several entries is valid', () => {
    const signatureHeader = `v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v1a,abc ${VECTOR.signature}`;
    expect(verifySignature({ ...valid, signatureHeader })).toBe(true);
  });

  it('enforces the timestamp tolerance in both directions', () => {
    expect(verifySignature({ ...valid, nowSeconds: VECTOR.timestampSeconds + 300 })).toBe(true);
    expect(verifySignature({ ...valid, nowSeconds: VECTOR.timestampSeconds - 300 })).toBe(true);
    expect(verifySignature({ ...valid, nowSeconds: VECTOR.timestampSeconds + 301 })).toBe(false);
    expect(verifySignature({ ...valid, nowSeconds: VECTOR.timestampSeconds - 301 })).toBe(false);
    expect(verifySignature({ ...valid, nowSeconds: VECTOR.timestampSeconds + 10, toleranceSeconds: 5 })).toBe(false);
  });

  it('uses the current time by default', () => {
    const { nowSeconds: _unused, ...withoutNow } = valid;
    expect(verifySignature(withoutNow)).toBe(false); // the vector is from 2021
    const timestampSeconds = nowSeconds();
    const signatureHeader = signPayload({ ...valid, timestampSeconds });
    expect(verifySignature({ ...withoutNow, timestampSeconds, signatureHeader })).toBe(true);
  });

  it.each(['hello', '', '-1', '1614265330.5', '1e9'])('rejects the timestamp %j', (timestampSeconds) => {
    expect(verifySignature({ ...valid, timestampSeconds })).toBe(false);
  });

  it('throws SigningError for a malformed configured secret', () => {
    expect(() => verifySignature({ ...valid, secrets: ['whsec_'] })).toThrow(SigningError);
    expect(() => verifySignature({ ...valid, secrets: [''] })).toThrow(SigningError);
  });
});

describe('cross-check with the svix npm package', () => {
  function sign(body: string, secrets: string[], timestampSeconds = nowSeconds()) {
    const msgId = 'msg_2bVxUn0i4hZ3c6TzWq1sPq7y8Ke';
    const signature = signPayload({ msgId, timestampSeconds, body, secrets });
    return buildSignatureHeaders({ mode: 'svix', msgId, timestampSeconds, signature });
  }

  it('svix verifies our signature', () => {
    const secret = generateSecret();
    const body = JSON.stringify({ type: 'invoice.paid', data: { id: 'in_1', amount: 4200, note: 'Zoë 🎉' } });
    const headers = sign(body, [secret]);
    expect(Object.keys(headers).sort()).toEqual(['svix-id', 'svix-signature', 'svix-timestamp']);
    expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
    expect(new Webhook(secret).verify(Buffer.from(body), headers)).toEqual(JSON.parse(body));
  });

  it('svix verifies our webhook-* headers too', () => {
    const secret = generateSecret();
    const body = '{"ok":true}';
    const msgId = 'msg_abc';
    const timestampSeconds = nowSeconds();
    const signature = signPayload({ msgId, timestampSeconds, body, secrets: [secret] });
    const headers = buildSignatureHeaders({ mode: 'webhook', msgId, timestampSeconds, signature });
    expect(new Webhook(secret).verify(body, headers)).toEqual({ ok: true });
  });

  it('svix verifies a rotation header with either secret', () => {
    const oldSecret = generateSecret();
    const newSecret = generateSecret();
    const body = '{"rotating":1}';
    const headers = sign(body, [newSecret, oldSecret]);
    expect(new Webhook(oldSecret).verify(body, headers)).toEqual({ rotating: 1 });
    expect(new Webhook(newSecret).verify(body, headers)).toEqual({ rotating: 1 });
  });

  it('svix rejects a wrong secret and a tampered body', () => {
    const secret = generateSecret();
    const body = '{"amount":1}';
    const headers = sign(body, [secret]);
    expect(() => new Webhook(generateSecret()).verify(body, headers)).toThrow();
    expect(() => new Webhook(secret).verify('{"amount":100}', headers)).toThrow();
  });

  it('our verifier accepts what svix signs', () => {
    const secret = generateSecret();
    const body = '{"from":"svix"}';
    const timestamp = new Date();
    const signatureHeader = new Webhook(secret).sign('msg_x', timestamp, body);
    expect(
      verifySignature({
        msgId: 'msg_x',
        timestampSeconds: Math.floor(timestamp.getTime() / 1000),
        body,
        signatureHeader,
        secrets: [secret],
      }),
    ).toBe(true);
  });
});

describe('signature headers', () => {
  it('names the header triples for each mode', () => {
    expect(signatureHeaderNames('webhook')).toEqual([
      { id: 'webhook-id', timestamp: 'webhook-timestamp', signature: 'webhook-signature' },
    ]);
    expect(signatureHeaderNames('svix')).toEqual([{ id: 'svix-id', timestamp: 'svix-timestamp', signature: 'svix-signature' }]);
    expect(signatureHeaderNames('both').map((names) => names.id)).toEqual(['webhook-id', 'svix-id']);
  });

  it('builds both sets of headers in "both" mode', () => {
    expect(
      buildSignatureHeaders({ mode: 'both', msgId: 'msg_1', timestampSeconds: 1700000000, signature: 'v1,abc' }),
    ).toEqual({
      'webhook-id': 'msg_1',
      'webhook-timestamp': '1700000000',
      'webhook-signature': 'v1,abc',
      'svix-id': 'msg_1',
      'svix-timestamp': '1700000000',
      'svix-signature': 'v1,abc',
    });
  });

  it('rejects an unknown mode', () => {
    expect(() => signatureHeaderNames('stripe' as never)).toThrow(SigningError);
  });
});
