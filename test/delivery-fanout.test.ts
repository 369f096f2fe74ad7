// Who gets a message: fan-out by event-type filter and channels, nothing for disabled endpoints, and
// send-example reaching only the endpoint it names.
import { describe, expect, it } from 'vitest';
import type { Receiver } from './helpers/receiver.js';
import { useBackend, type TestTapwire } from './helpers/tapwire.js';
import {
  createEndpoint,
  createEventTypes,
  eventually,
  expectStatus,
  hitsOn,
  sendMessage,
  waitForDestinationStatus,
  useDeliveryFixtures,
} from './helpers/delivery.js';
import { backends } from './helpers/postgres.js';

const fixtures = useDeliveryFixtures();

async function setup(): Promise<{ tw: TestTapwire; rx: Receiver; appId: string }> {
  const { tw, appId } = await fixtures.setup();
  return { tw, rx: await fixtures.receiver(), appId };
}

async function destinationIds(tw: TestTapwire, appId: string, msgId: string): Promise<string[]> {
  const res = expectStatus(await tw.api('GET', `/api/v1/app/${appId}/msg/${msgId}/endpoint`), 200, 'destinations');
  return (res.body.data as any[]).map((d) => d.id).sort();
}

describe.each(await backends())('%s', (backend) => {
  useBackend(backend);

  describe('fan-out', () => {
    it('delivers each message to exactly the endpoints whose filters match', async () => {
      const { tw, rx, appId } = await setup();
      await createEventTypes(tw, 'user.created', 'user.deleted', 'invoice.paid');
      const byType = await createEndpoint(tw, appId, { url: `${rx.url}/by-type`, filterTypes: ['user.created'] });
      const byChannel = await createEndpoint(tw, appId, { url: `${rx.url}/by-channel`, channels: ['eu'] });
      const both = await createEndpoint(tw, appId, { url: `${rx.url}/both`, filterTypes: ['user.created', 'user.deleted'], channels: ['us'] });
      const everything = await createEndpoint(tw, appId, { url: `${rx.url}/everything` });
      const disabled = await createEndpoint(tw, appId, { url: `${rx.url}/disabled`, disabled: true });

      const cases = [
        { message: { eventType: 'user.created', payload: { n: 1 }, channels: ['eu'] }, to: [byType, byChannel, everything] },
        { message: { eventType: 'user.deleted', payload: { n: 2 }, channels: ['us', 'asia'] }, to: [both, everything] },
        { message: { eventType: 'invoice.paid', payload: { n: 3 } }, to: [everything] },
        { message: { eventType: 'user.created', payload: { n: 4 } }, to: [byType, everything] },
      ];
      const sent: { msgId: string; to: string[] }[] = [];
      for (const c of cases) {
        const msgId = await sendMessage(tw, appId, c.message);
        sent.push({ msgId, to: c.to.map((e) => e.id).sort() });
      }
      // The destinations are committed with the message: they are exactly the matching endpoints.
      for (const { msgId, to } of sent) {
        expect(await destinationIds(tw, appId, msgId)).toEqual(to);
        for (const endpointId of to) await waitForDestinationStatus(tw, appId, msgId, endpointId, 0);
      }
      const received = (path: string) => hitsOn(rx.requests, path).map((r) => JSON.parse(r.body.toString()).n).sort();
      expect(received('/by-type')).toEqual([1, 4]);
      expect(received('/by-channel')).toEqual([1]);
      expect(received('/both')).toEqual([2]);
      expect(received('/everything')).toEqual([1, 2, 3, 4]);
      expect(received('/disabled')).toEqual([]);
      expect(rx.requests).toHaveLength(8);
      expect(disabled.id).not.toBe(everything.id);
    });

    it('starts delivering to an endpoint once it is enabled, for new messages only', async () => {
      const { tw, rx, appId } = await setup();
      const ep = await createEndpoint(tw, appId, { url: `${rx.url}/late`, disabled: true });
      const before = await sendMessage(tw, appId, { eventType: 'a.b', payload: { n: 'before' } });
      expect(await destinationIds(tw, appId, before)).toEqual([]);
      expectStatus(await tw.api('PATCH', `/api/v1/app/${appId}/endpoint/${ep.id}`, { disabled: false }), 200, 'enable');
      const after = await sendMessage(tw, appId, { eventType: 'a.b', payload: { n: 'after' } });
      await waitForDestinationStatus(tw, appId, after, ep.id, 0);
      expect(rx.requests.map((r) => JSON.parse(r.body.toString()).n)).toEqual(['after']);
    });
  });

  describe('send-example', () => {
    it('sends {"success": true} for svix.ping to that one endpoint only, whatever its filters', async () => {
      const { tw, rx, appId } = await setup();
      await createEventTypes(tw, 'user.created');
      const target = await createEndpoint(tw, appId, { url: `${rx.url}/target`, filterTypes: ['user.created'] });
      await createEndpoint(tw, appId, { url: `${rx.url}/bystander` });
      const res = expectStatus(
        await tw.api('POST', `/api/v1/app/${appId}/endpoint/${target.id}/send-example`, { eventType: 'svix.ping' }),
        200,
        'send-example',
      );
      expect(res.body).toMatchObject({ eventType: 'svix.ping', payload: { success: true } });
      const msgId = res.body.id as string;
      await waitForDestinationStatus(tw, appId, msgId, target.id, 0);
      expect(await destinationIds(tw, appId, msgId)).toEqual([target.id]);
      expect(rx.requests.map((r) => r.path)).toEqual(['/target']);
      expect(rx.requests[0]!.body.toString('utf8')).toBe('{"success": true}');
      expect(rx.requests[0]!.headers['webhook-id']).toBe(msgId);
    });

    it("sends the first example of the event type's schema", async () => {
      const { tw, rx, appId } = await setup();
      const example = { invoiceId: 'inv_1', amount: 1250 };
      expectStatus(
        await tw.api('POST', '/api/v1/event-type', {
          name: 'invoice.paid',
          description: 'An invoice was paid',
          schemas: { '1': { type: 'object', examples: [example, { other: true }] } },
        }),
        201,
        'create event type',
      );
      const ep = await createEndpoint(tw, appId, { url: rx.url });
      const res = expectStatus(
        await tw.api('POST', `/api/v1/app/${appId}/endpoint/${ep.id}/send-example`, { eventType: 'invoice.paid' }),
        200,
        'send-example',
      );
      await rx.waitFor((r) => r.length === 1);
      expect(JSON.parse(rx.requests[0]!.body.toString())).toEqual(example);
      await eventually(() => tw.api('GET', `/api/v1/app/${appId}/msg/${res.body.id}/endpoint`), (r) => r.body.data[0]?.status === 0);
    });
  });
});
