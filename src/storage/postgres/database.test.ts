import { describe, expect, it } from 'vitest';

import { retryingConflicts } from './database.js';

/** Work that fails with these SQLSTATEs, one per run, then answers `done`. */
function failing(codes: string[]): { work: () => Promise<string>; runs: () => number } {
  let runs = 0;
  return {
    work: async () => {
      const code = codes[runs++];
      if (code) throw Object.assign(new Error(`failed with ${code}`), { code });
      return 'done';
    },
    runs: () => runs,
  };
}

describe('retryingConflicts', () => {
  it('runs again work PostgreSQL ended to break a deadlock or a serialization conflict', async () => {
    const deadlocks = failing(['40P01', '40001']);
    expect(await retryingConflicts(deadlocks.work)).toBe('done');
    expect(deadlocks.runs()).toBe(3);
  });

  it('gives up after three runs, and at once for any other error', async () => {
    const always = failing(['40P01', '40P01', '40P01', '40P01']);
    await expect(retryingConflicts(always.work)).rejects.toMatchObject({ code: '40P01' });
    expect(always.runs()).toBe(3);
    const other = failing(['23505']);
    await expect(retryingConflicts(other.work)).rejects.toMatchObject({ code: '23505' });
    expect(other.runs()).toBe(1);
  });
});
