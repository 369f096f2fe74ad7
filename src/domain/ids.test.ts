import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { encodeBase62, idFloorAt, isIdOf, newId, newKsuid, timeOfId } from './ids.js';

describe('ids', () => {
  it('encode 20 bytes in base 62 exactly as big-number arithmetic does, edges included', () => {
    const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
    const reference = (bytes: Buffer): string => {
      let n = BigInt(`0x${bytes.toString('hex')}`);
      let out = '';
      while (n > 0n) {
        out = ALPHABET[Number(n % 62n)] + out;
        n /= 62n;
      }
      return out.padStart(27, '0');
    };
    const samples = [Buffer.alloc(20), Buffer.alloc(20, 0xff), Buffer.from([...Array(19).fill(0), 61]), Buffer.from([...Array(19).fill(0), 62])];
    for (let i = 0; i < 2_000; i++) samples.push(randomBytes(20));
    for (const bytes of samples) expect(encodeBase62(bytes)).toBe(reference(bytes));
    expect(encodeBase62(Buffer.alloc(20, 0xff))).toBe('aWgEPTl1tmebfsQzFP4bxwgy80V');
  });

  it('are a prefix plus 27 base62 characters', () => {
    const id = newId('msg');
    expect(id).toMatch(/^msg_[0-9A-Za-z]{27}$/);
    expect(isIdOf('msg', id)).toBe(true);
    expect(isIdOf('app', id)).toBe(false);
    expect(isIdOf('msg', 'msg_short')).toBe(false);
  });

  it('sort by creation time, also within the same millisecond', () => {
    const t = Date.UTC(2026, 10, 26, 12, 0, 0, 0);
    const ids = [newKsuid(t), newKsuid(t), newKsuid(t), newKsuid(t + 4), newKsuid(t + 1000), newKsuid(t + 86_400_000)];
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('stay increasing when the clock steps back', () => {
    const t = Date.UTC(2026, 10, 26, 12, 0, 0, 0);
    const first = newKsuid(t);
    const second = newKsuid(t - 5000);
    expect(second > first).toBe(true);
  });

  it('carry their creation time to 4 ms', () => {
    const t = Date.UTC(2027, 0, 2, 3, 4, 5, 678);
    const id = newId('atmpt', t);
    expect(timeOfId(id)!.getTime()).toBe(t - (t % 4));
    expect(timeOfId('nonsense')).toBeNull();
  });

  it('turn a time into a lower bound for ids created at or after it', () => {
    const t = Date.UTC(2028, 5, 1, 0, 0, 0, 0);
    const floor = idFloorAt('msg', t);
    expect(newId('msg', t + 8) > floor).toBe(true);
    expect(idFloorAt('msg', t - 1000) < floor).toBe(true);
  });
});
