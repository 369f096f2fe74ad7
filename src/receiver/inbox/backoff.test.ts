import { describe, expect, it } from 'vitest';
import { DEFAULT_BACKOFF, resolveBackoff, retryDelayMs } from './backoff.js';

const fixed = (value: number) => () => value;

describe('retryDelayMs', () => {
  it('starts at 1 s and doubles by default', () => {
    const delays = [1, 2, 3, 4, 5].map((attempt) => retryDelayMs(attempt, resolveBackoff(), fixed(0.5)));
    expect(delays).toEqual([1_000, 2_000, 4_000, 8_000, 16_000]);
  });

  it('is capped at 1 h, even for absurd attempt counts', () => {
    expect(retryDelayMs(13, DEFAULT_BACKOFF, fixed(0.5))).toBe(3_600_000);
    expect(retryDelayMs(5_000, DEFAULT_BACKOFF, fixed(0.5))).toBe(3_600_000);
  });

  it('spreads each delay by ±20 %', () => {
    expect(retryDelayMs(1, DEFAULT_BACKOFF, fixed(0))).toBe(800);
    expect(retryDelayMs(1, DEFAULT_BACKOFF, fixed(0.999_999))).toBe(1_200);
    expect(retryDelayMs(13, DEFAULT_BACKOFF, fixed(0.999_999))).toBe(4_319_999);
  });

  it('follows the given options', () => {
    const backoff = resolveBackoff({ initialDelayMs: 100, factor: 3, maxDelayMs: 1_000, jitterRatio: 0 });
    expect([1, 2, 3, 4].map((attempt) => retryDelayMs(attempt, backoff, Math.random))).toEqual([100, 300, 900, 1_000]);
  });

  it('refuses attempt counts that are a caller bug', () => {
    expect(() => retryDelayMs(0, DEFAULT_BACKOFF, fixed(0.5))).toThrow();
    expect(() => retryDelayMs(1.5, DEFAULT_BACKOFF, fixed(0.5))).toThrow();
  });
});

describe('resolveBackoff', () => {
  it('fills in defaults, ignoring undefined values', () => {
    expect(resolveBackoff({ factor: undefined, initialDelayMs: 500 })).toEqual({ ...DEFAULT_BACKOFF, initialDelayMs: 500 });
  });

  it('rejects values that cannot be meant', () => {
    expect(() => resolveBackoff({ initialDelayMs: -1 })).toThrow(TypeError);
    expect(() => resolveBackoff({ factor: 0.5 })).toThrow(TypeError);
    expect(() => resolveBackoff({ initialDelayMs: 10, maxDelayMs: 5 })).toThrow(TypeError);
    expect(() => resolveBackoff({ jitterRatio: 1 })).toThrow(TypeError);
    expect(() => resolveBackoff({ initialDelayMs: Number.NaN })).toThrow(TypeError);
  });
});
