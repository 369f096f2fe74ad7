// Shared steps of the delivery tests: set up an application and endpoints through the public API,
// send messages, read attempts and delivery states, and poll the API until a condition holds
// (a short poll, never a fixed sleep).
import type { IncomingHttpHeaders } from 'node:http';
import { afterEach } from 'vitest';
import { startReceiver, type ReceivedRequest, type Receiver } from './receiver.js';
import { startTapwire, type StartTapwireOptions, type TestTapwire } from './tapwire.js';

/**
 * Servers and receivers for one test file, all closed after each test (even a failing one).
 * Call once at the top level of the file.
 */
export function useDeliveryFixtures(): {
  setup(env?: Record<string, string>, options?: StartTapwireOptions): Promise<{ tw: TestTapwire; appId: string }>;
  receiver(): Promise<Receiver>;
  /** Run `cleanup` after the test, with the others (last registered runs first). */
  defer(cleanup: () => Promise<void>): void;
} {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    while (cleanups.length > 0) await cleanups.pop()!();
  });
  return {
    async setup(env = {}, options = {}) {
      const tw = await startTapwire(env, options);
      cleanups.push(() => tw.close());
      return { tw, appId: await createApp(tw) };
    },
    async receiver() {
      const r = await startReceiver();
      cleanups.push(() => r.close());
      return r;
    },
    defer(cleanup) {
      cleanups.push(cleanup);
    },
  };
}

/** Poll `probe` until `accept` holds for its value; fail with the last value after `timeoutMs`. */
export async function eventually<T>(
  probe: () => Promise<T>,
  accept: (value: T) => boolean,
  { timeoutMs = 10_000, intervalMs = 10, what = 'condition' }: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (accept(value)) return value;
    if (Date.now() > deadline) {
      throw new Error(`${what} not met within ${timeoutMs} ms; last value: ${JSON.stringify(value)?.slice(0, 2000)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Fails the test with the response when the status is not the expected one. */
export function expectStatus<T extends { status: number; text: string }>(res: T, status: number, what: string): T {
  if (res.status !== status) throw new Error(`${what}: expected ${status}, got ${res.status}: ${res.text}`);
  return res;
}

export async function createApp(tw: TestTapwire, name = 'Acme'): Promise<string> {
  const res = expectStatus(await tw.api('POST', '/api/v1/app', { name }), 201, 'create application');
  return res.body.id as string;
}

export async function createEventTypes(tw: TestTapwire, ...names: string[]): Promise<void> {
  for (const name of names) {
    expectStatus(await tw.api('POST', '/api/v1/event-type', { name, description: name }), 201, `create event type ${name}`);
  }
}

export interface CreatedEndpoint {
  id: string;
  secret: string;
}

export async function createEndpoint(tw: TestTapwire, appId: string, body: Record<string, unknown>): Promise<CreatedEndpoint> {
  const res = expectStatus(await tw.api('POST', `/api/v1/app/${appId}/endpoint`, body), 201, 'create endpoint');
  const id = res.body.id as string;
  const secret = expectStatus(await tw.api('GET', `/api/v1/app/${appId}/endpoint/${id}/secret`), 200, 'get secret').body.key as string;
  return { id, secret };
}

/** POST a message; `raw` sends that exact request body. Returns the message id. */
export async function sendMessage(
  tw: TestTapwire,
  appId: string,
  message: { eventType: string; payload: unknown; channels?: string[]; payloadRetentionPeriod?: number } | { raw: string },
): Promise<string> {
  const res =
    'raw' in message
      ? await tw.api('POST', `/api/v1/app/${appId}/msg`, undefined, { raw: message.raw })
      : await tw.api('POST', `/api/v1/app/${appId}/msg`, message);
  return expectStatus(res, 202, 'create message').body.id as string;
}

/** Every attempt to an endpoint, oldest first. */
export async function attemptsToEndpoint(tw: TestTapwire, appId: string, endpointId: string): Promise<any[]> {
  const res = expectStatus(await tw.api('GET', `/api/v1/app/${appId}/attempt/endpoint/${endpointId}?limit=250`), 200, 'list attempts');
  return (res.body.data as any[]).slice().reverse();
}

/** The state of one message at one endpoint, from GET …/msg/{id}/endpoint. */
export async function destinationState(tw: TestTapwire, appId: string, msgId: string, endpointId: string): Promise<any | undefined> {
  const res = expectStatus(await tw.api('GET', `/api/v1/app/${appId}/msg/${msgId}/endpoint`), 200, 'list destinations');
  return (res.body.data as any[]).find((d) => d.id === endpointId);
}

/** The state of one message at one endpoint, from GET …/endpoint/{id}/msg. */
export async function attemptedMessageState(tw: TestTapwire, appId: string, endpointId: string, msgId: string): Promise<any | undefined> {
  const res = expectStatus(await tw.api('GET', `/api/v1/app/${appId}/endpoint/${endpointId}/msg`), 200, 'list attempted messages');
  return (res.body.data as any[]).find((m) => m.id === msgId);
}

/** Waits until the message's delivery to the endpoint reaches `status` (0 success, 2 fail). */
export function waitForDestinationStatus(tw: TestTapwire, appId: string, msgId: string, endpointId: string, status: number): Promise<any> {
  return eventually(
    () => destinationState(tw, appId, msgId, endpointId),
    (d) => d?.status === status,
    { what: `delivery of ${msgId} to ${endpointId} reaching status ${status}` },
  );
}

/** Header values as plain strings (what a verifier gets). */
export function flatHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

/** Requests whose path starts with `path`. */
export function hitsOn(requests: ReceivedRequest[], path: string): ReceivedRequest[] {
  return requests.filter((r) => r.path.startsWith(path));
}
