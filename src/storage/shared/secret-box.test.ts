import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';

import { generateEncryptionKey, parseEncryptionKeys, PLAINTEXT, SecretBox, sealerFor } from './secret-box.js';

describe('SecretBox', () => {
  const [a, b] = [randomBytes(32), randomBytes(32)];

  it('seals a value so that it opens again, and never the same way twice', () => {
    const box = new SecretBox([a]);
    const first = box.seal('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw');
    const second = box.seal('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw');
    expect(first).toMatch(/^tw1:[0-9a-f]{8}:/);
    expect(first).not.toContain('MfKQ9r8');
    expect(first).not.toBe(second);
    expect(box.open(first)).toBe('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw');
    expect(box.open(box.seal(''))).toBe('');
    expect(box.open(box.seal('Bearer ünïcode ✓'))).toBe('Bearer ünïcode ✓');
  });

  it('opens values stored before sealing was on as they are', () => {
    expect(new SecretBox([a]).open('whsec_plain')).toBe('whsec_plain');
  });

  it('rotates: a ring seals with its first key and opens with any of them', () => {
    const old = new SecretBox([a]).seal('secret');
    const ring = new SecretBox([b, a]);
    expect(ring.open(old)).toBe('secret');
    expect(ring.seal('x').split(':')[1]).not.toBe(old.split(':')[1]);
    expect(new SecretBox([b]).open(ring.seal('x'))).toBe('x');
  });

  it('refuses a value sealed with a key it does not hold, or changed since', () => {
    const sealed = new SecretBox([a]).seal('secret');
    expect(() => new SecretBox([b]).open(sealed)).toThrow(expect.objectContaining({ code: 'store_unavailable' }));
    // Change the next-to-last character (fully part of the ciphertext; the last one may hold unused bits).
    const at = sealed.length - 2;
    const flipped = `${sealed.slice(0, at)}${sealed[at] === 'A' ? 'B' : 'A'}${sealed.slice(at + 1)}`;
    expect(flipped).not.toBe(sealed);
    expect(() => new SecretBox([a]).open(flipped)).toThrow(expect.objectContaining({ code: 'store_unavailable' }));
  });

  it('is plaintext without keys', () => {
    expect(sealerFor(null)).toBe(PLAINTEXT);
    expect(sealerFor([])).toBe(PLAINTEXT);
    expect(sealerFor([a])).toBeInstanceOf(SecretBox);
  });
});

describe('TAPWIRE_ENCRYPTION_KEY values', () => {
  it('takes base64 of 32 bytes, or several separated by commas', () => {
    const [x, y] = [generateEncryptionKey(), generateEncryptionKey()];
    expect(parseEncryptionKeys(x).map((k) => k.toString('base64'))).toEqual([x]);
    expect(parseEncryptionKeys(`${x}, ${y}`).map((k) => k.toString('base64'))).toEqual([x, y]);
  });

  it.each(['', 'short', randomBytes(16).toString('base64'), randomBytes(33).toString('base64'), `${generateEncryptionKey()},`, 'not base64 at all!'])(
    'refuses %j without repeating it',
    (value) => {
      expect(() => parseEncryptionKeys(value)).toThrow(/is not base64 of 32 bytes/);
    },
  );
});
