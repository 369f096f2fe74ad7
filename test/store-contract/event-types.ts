// The Store contract, event types: names are unique (archived ones too) and lists page by name.
import { describe, expect, it } from 'vitest';

import type { EventType } from '../../src/domain/types.js';
import type { Page } from '../../src/storage/store.js';
import { store, at, makeEventType } from './fixtures.js';

/** The event-type cases, registered inside runStoreContract's describe (index.ts). */
export function describeEventTypes(): void {
  describe('event types', () => {
    it('creates, conflicts on an existing name, saves, deletes', async () => {
      const type = makeEventType('invoice.paid', { schemas: { '1': { type: 'object' } }, featureFlags: ['beta', 'gamma'], groupName: 'invoice' });
      expect(await store.createEventType(type)).toEqual(type);
      expect(await store.getEventType('invoice.paid')).toEqual(type);
      await expect(store.createEventType(makeEventType('invoice.paid'))).rejects.toMatchObject({
        code: 'conflict',
        detail: expect.stringContaining('invoice.paid'),
      });

      const archived = { ...type, archived: true, deprecated: true, description: 'old', updatedAt: at(60) };
      expect(await store.saveEventType(archived)).toEqual(archived);
      // Archived names still conflict.
      await expect(store.createEventType(makeEventType('invoice.paid'))).rejects.toMatchObject({ code: 'conflict' });
      // Save also inserts.
      const fresh = makeEventType('user.created');
      expect(await store.saveEventType(fresh)).toEqual(fresh);

      expect(await store.deleteEventType('invoice.paid')).toBe(true);
      expect(await store.deleteEventType('invoice.paid')).toBe(false);
      expect(await store.getEventType('invoice.paid')).toBeNull();
    });

    it('lists by name, hides archived unless asked, and pages by name', async () => {
      for (const name of ['d.four', 'a.one', 'c.three', 'b.two', 'e.five']) {
        await store.createEventType(makeEventType(name, { archived: name === 'c.three' }));
      }
      const names = (page: Page<EventType>): string[] => page.data.map((t) => t.name);
      expect(names(await store.listEventTypes({ limit: 10, includeArchived: false }))).toEqual(['a.one', 'b.two', 'd.four', 'e.five']);
      const first = await store.listEventTypes({ limit: 2, includeArchived: true });
      expect(names(first)).toEqual(['a.one', 'b.two']);
      expect(first.iterator).toBe('b.two');
      const second = await store.listEventTypes({ limit: 2, includeArchived: true, iterator: first.iterator });
      expect(names(second)).toEqual(['c.three', 'd.four']);
      const third = await store.listEventTypes({ limit: 2, includeArchived: true, iterator: second.iterator });
      expect(names(third)).toEqual(['e.five']);
      expect(third.done).toBe(true);
      const back = await store.listEventTypes({ limit: 2, includeArchived: true, iterator: third.prevIterator });
      expect(names(back)).toEqual(['c.three', 'd.four']);
    });

    it('keeps feature flags and the group name, and lists a flagged type to tokens with any of its flags', async () => {
      const beta = await store.createEventType(makeEventType('f.beta', { featureFlags: ['beta', 'early'], groupName: 'f' }));
      await store.createEventType(makeEventType('f.gamma', { featureFlags: ['gamma'] }));
      await store.createEventType(makeEventType('f.open'));
      expect(await store.getEventType('f.beta')).toEqual(beta);
      expect(beta).toMatchObject({ featureFlags: ['beta', 'early'], groupName: 'f' });
      const visible = async (featureFlags: string[] | null): Promise<string[]> =>
        (await store.listEventTypes({ limit: 10, includeArchived: false, featureFlags })).data.map((t) => t.name).filter((n) => n.startsWith('f.'));
      expect(await visible(null)).toEqual(['f.beta', 'f.gamma', 'f.open']);
      expect(await visible([])).toEqual(['f.open']);
      expect(await visible(['early'])).toEqual(['f.beta', 'f.open']);
      expect(await visible(['gamma', 'beta'])).toEqual(['f.beta', 'f.gamma', 'f.open']);
      expect(await visible(['other'])).toEqual(['f.open']);
      // Saving replaces both (null clears).
      const cleared = await store.saveEventType({ ...beta, featureFlags: null, groupName: null, updatedAt: at(5) });
      expect(await store.getEventType('f.beta')).toEqual(cleared);
      expect(await visible([])).toEqual(['f.beta', 'f.open']);
    });
  });
}
