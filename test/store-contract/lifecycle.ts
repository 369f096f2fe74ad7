// The Store contract, health and lifecycle: the liveness probe and migrations run on a store that
// is already migrated.
import { describe, expect, it } from 'vitest';

import { store } from './fixtures.js';

/** The health and lifecycle cases, registered inside runStoreContract's describe (index.ts). */
export function describeLifecycle(): void {
  describe('health and lifecycle', () => {
    it('answers ping and reports its kind', async () => {
      expect(await store.ping()).toEqual({ ok: true });
      expect(['sqlite', 'postgres']).toContain(store.kind);
    });

    it('migrates idempotently', async () => {
      expect((await store.migrate()).applied).toEqual([]);
    });
  });
}
