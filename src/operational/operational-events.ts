// Operational webhooks tell the people running Tapwire what happens to their customers' endpoints
// (created, disabled, failing…). Each event is an ordinary message in a reserved application, so it
// is stored in the same transaction as the change it reports, then signed, delivered and retried by
// the normal pipeline. This file builds those messages; payloads mirror Svix's operational webhooks.
import { newId } from '../domain/ids.js';
import type { Application, Attempt, Endpoint, Message } from '../domain/types.js';

export { OPERATIONAL_APP_UID } from '../domain/operational.js';
/** uid of the endpoint in it that TAPWIRE_OPERATIONAL_WEBHOOK_URL configures. */
export const OPERATIONAL_ENDPOINT_UID = 'tapwire-operational';

/**
 * message.attempt.failing is sent when this many attempts of one delivery have failed and another
 * is scheduled (as Svix does: its 4th failure, about 35 minutes in on the default schedule), and
 * message.attempt.recovered when such a delivery later succeeds.
 */
export const FAILING_AFTER_ATTEMPTS = 4;

/** Operational events are kept like any message's payload: 90 days. */
const PAYLOAD_RETENTION_MS = 90 * 86_400_000;

export type EndpointEventType = 'endpoint.created' | 'endpoint.updated' | 'endpoint.deleted' | 'endpoint.enabled';
export type AttemptEventType = 'message.attempt.failing' | 'message.attempt.exhausted' | 'message.attempt.recovered';
export type OperationalEventType = EndpointEventType | 'endpoint.disabled' | AttemptEventType;

/** Why an endpoint was disabled: by Tapwire (410 Gone, or failing too long) or through the API. */
export type DisableTrigger = 'automatic' | 'manual';

/** The application and endpoint an event is about (ids and uids are both reported). */
type AppRef = Pick<Application, 'id' | 'uid'>;
type EndpointRef = Pick<Endpoint, 'id' | 'uid'>;

/** Every operational event type, in the order the docs list them: what an operational endpoint may filter on. */
export const OPERATIONAL_EVENT_TYPES: readonly OperationalEventType[] = [
  'endpoint.created',
  'endpoint.updated',
  'endpoint.deleted',
  'endpoint.disabled',
  'endpoint.enabled',
  'message.attempt.failing',
  'message.attempt.exhausted',
  'message.attempt.recovered',
];

/** While the operational application is not known, look for it again at most this often (another process may create it). */
const LOOKUP_INTERVAL_MS = 5_000;
/** Once known, check it again this often (another process may have deleted it, or made a new one). */
const RECHECK_INTERVAL_MS = 60_000;

/**
 * Builds operational events as messages for the operational application. Events about that
 * application's own endpoints and deliveries are never raised (see {@link covers}): reporting on
 * the reporting channel could loop.
 *
 * The application exists once an operational endpoint was created (through the API, or at start
 * from TAPWIRE_OPERATIONAL_WEBHOOK_URL); until then no event is built or stored. A process that
 * started before another one created it finds it through {@link ready}, which looks it up again
 * at most every LOOKUP_INTERVAL_MS while it is unknown, and every RECHECK_INTERVAL_MS once known (it
 * may have been deleted, or made again with a new id, by another process).
 */
export class OperationalEvents {
  private id: string | null;
  private lookedUpAt = Number.NEGATIVE_INFINITY;

  /**
   * @param appId id of the operational application, null when it does not exist (yet).
   * @param findAppId looks the application up (by its uid); absent: only {@link adopt} sets it.
   */
  constructor(
    appId: string | null,
    private readonly findAppId: (() => Promise<string | null>) | null = null,
    private readonly monotonicNow: () => number = () => performance.now(),
  ) {
    this.id = appId;
  }

  /** The operational application's id; null while it is not known. */
  get appId(): string | null {
    return this.id;
  }

  /** The operational application was created (or found) with this id. */
  adopt(appId: string): void {
    this.id = appId;
    this.lookedUpAt = this.monotonicNow();
  }

  /**
   * Whether events can be built: the operational application is known. It is looked up again every
   * LOOKUP_INTERVAL_MS while unknown and every RECHECK_INTERVAL_MS once known; a failed lookup keeps
   * what was known (events are never what makes a request fail).
   */
  async ready(): Promise<boolean> {
    const interval = this.id === null ? LOOKUP_INTERVAL_MS : RECHECK_INTERVAL_MS;
    if (this.findAppId && this.monotonicNow() - this.lookedUpAt >= interval) {
      this.lookedUpAt = this.monotonicNow();
      try {
        this.id = await this.findAppId();
      } catch {
        // The store is unreachable: the change being reported fails on its own anyway.
      }
    }
    return this.id !== null;
  }

  /** Whether changes in this application raise operational events (every application but ours). */
  covers(appId: string): boolean {
    return appId !== this.id;
  }

  /** endpoint.created / updated / deleted / enabled: `{appId, appUid, endpointId, endpointUid}`. */
  endpointEvent(type: EndpointEventType, app: AppRef, endpoint: EndpointRef, now: Date): Message {
    return this.message(type, endpointData(app, endpoint), now);
  }

  /** endpoint.disabled: the endpoint fields plus `failSince` (null when it was not failing) and `trigger`. */
  endpointDisabled(app: AppRef, endpoint: EndpointRef, failSince: Date | null, trigger: DisableTrigger, now: Date): Message {
    return this.message('endpoint.disabled', { ...endpointData(app, endpoint), failSince: failSince?.toISOString() ?? null, trigger }, now);
  }

  /**
   * message.attempt.failing / exhausted / recovered:
   * `{appId, appUid, msgId, msgEventId, endpointId, lastAttempt: {id, responseStatusCode, timestamp}}`.
   */
  attemptEvent(type: AttemptEventType, app: AppRef, message: Pick<Message, 'id' | 'eventId'>, attempt: Attempt, now: Date): Message {
    return this.message(
      type,
      {
        appId: app.id,
        appUid: app.uid,
        msgId: message.id,
        msgEventId: message.eventId,
        endpointId: attempt.endpointId,
        lastAttempt: { id: attempt.id, responseStatusCode: attempt.responseStatusCode, timestamp: attempt.timestamp.toISOString() },
      },
      now,
    );
  }

  /** `{"type", "timestamp", "data"}` as a message of the operational application, with eventType = type. */
  private message(type: OperationalEventType, data: Record<string, unknown>, now: Date): Message {
    if (this.id === null) throw new Error('operational events need the operational application (await ready() first)');
    return {
      id: newId('msg', now.getTime()),
      appId: this.id,
      eventId: null,
      eventType: type,
      payload: JSON.stringify({ type, timestamp: now.toISOString(), data }),
      channels: null,
      createdAt: now,
      payloadExpiresAt: new Date(now.getTime() + PAYLOAD_RETENTION_MS),
    };
  }
}

function endpointData(app: AppRef, endpoint: EndpointRef): Record<string, unknown> {
  return { appId: app.id, appUid: app.uid, endpointId: endpoint.id, endpointUid: endpoint.uid };
}
