import { describe, expect, it } from 'vitest';
import { idFloorAt, isIdOf, newId, newKsuid, timeOfId } from './ids.js';

describe('ids', () => {
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
