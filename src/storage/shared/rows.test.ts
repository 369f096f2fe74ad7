import { describe, expect, it } from 'vitest';
import { onceById } from './rows.js';

describe('onceById', () => {
  it('asks once per id and gives every caller the first answer, null included', () => {
    const asked: string[] = [];
    const lookup = onceById((id) => {
      asked.push(id);
      return id === 'gone' ? null : { id };
    });
    const first = lookup('ep_1');
    expect(lookup('ep_1')).toBe(first);
    expect(lookup('gone')).toBeNull();
    expect(lookup('gone')).toBeNull();
    expect(lookup('ep_2')).toEqual({ id: 'ep_2' });
    expect(asked).toEqual(['ep_1', 'gone', 'ep_2']);
  });
});
