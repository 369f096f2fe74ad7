// Retention: payloads past their retention and attempts past TAPWIRE_ATTEMPT_RETENTION are removed
// by the maintenance rounds, while messages and their delivery state stay readable.
import { describe, expect, it } from 'vitest';
import { createEndpoint, sendMessage, useDeliveryFixtures, waitForDestinationStatus } from './helpers/delivery.js';
import { backends } from './helpers/postgres.js';
import { useBackend } from './helpers/tapwire.js';

const fixtures = useDeliveryFixtures();
const DAY = 86_400_000;

/** A clock the test moves by hand; it starts at the real time so ids and leases look normal. */
function manualClock(): { now(): Date; advance(ms: number): void } {
  let offset = 0;
  return { now: () => new Date(Date.now() + offset), advance: (ms) => (offset += ms) };
}

describe.each(await backends())('%s', (backend) => {
  useBackend(backend);

  describe('maintenance', () => {
    it('expires payloads and prunes attempts past retention, in batches, keeping messages', async () => {
      const clock = manualClock();
      const { tw, appId } = await fixtures.setup({ TAPWIRE_ATTEMPT_RETENTION: '30d' }, { clock });
      const rx = await fixtures.receiver();
      const ep = await createEndpoint(tw, appId, { url: rx.url });
      const shortLived = await sendMessage(tw, appId, { eventType: 'a.b', payload: { n: 1 }, payloadRetentionPeriod: 5 });
      const longLived = await sendMessage(tw, appId, { eventType: 'a.b', payload: { n: 2 } });
      await waitForDestinationStatus(tw, appId, shortLived, ep.id, 0);
      await waitForDestinationStatus(tw, appId, longLived, ep.id, 0);

      expect(await tw.server.runMaintenance()).toEqual({ expiredPayloads: 0, prunedAttempts: 0, prunedIdempotencyKeys: 0 });

      clock.advance(6 * DAY);
      expect(await tw.server.runMaintenance()).toMatchObject({ expiredPayloads: 1, prunedAttempts: 0 });
      expect((await tw.api('GET', `/api/v1/app/${appId}/msg/${shortLived}`)).body.payload).toEqual({ expired: true });
      expect((await tw.api('GET', `/api/v1/app/${appId}/msg/${longLived}`)).body.payload).toEqual({ n: 2 });

      clock.advance(25 * DAY);
      expect(await tw.server.runMaintenance()).toMatchObject({ expiredPayloads: 0, prunedAttempts: 2 });
      const attempts = await tw.api('GET', `/api/v1/app/${appId}/attempt/endpoint/${ep.id}`);
      expect(attempts.body.data).toEqual([]);
      // The messages and their delivery state are still there.
      expect((await tw.api('GET', `/api/v1/app/${appId}/msg`)).body.data).toHaveLength(2);
      const destinations = await tw.api('GET', `/api/v1/app/${appId}/msg/${longLived}/endpoint`);
      expect(destinations.body.data[0]).toMatchObject({ id: ep.id, status: 0 });
    });

    it('keeps attempts forever with TAPWIRE_ATTEMPT_RETENTION=never', async () => {
      const clock = manualClock();
      const { tw, appId } = await fixtures.setup({ TAPWIRE_ATTEMPT_RETENTION: 'never' }, { clock });
      const rx = await fixtures.receiver();
      const ep = await createEndpoint(tw, appId, { url: rx.url });
      const msgId = await sendMessage(tw, appId, { eventType: 'a.b', payload: {} });
      await waitForDestinationStatus(tw, appId, msgId, ep.id, 0);
      clock.advance(365 * DAY);
      expect(await tw.server.runMaintenance()).toMatchObject({ prunedAttempts: 0 });
      expect((await tw.api('GET', `/api/v1/app/${appId}/attempt/endpoint/${ep.id}`)).body.data).toHaveLength(1);
    });
  });
});
