// Operational webhooks tell the people running Tapwire what happens to their customers' endpoints
// (created, disabled, failing…). Each event is an ordinary message in a reserved application, so it
// is stored in the same transaction as the change it reports, then signed, delivered and retried by
// the normal pipeline. This file builds those messages; payloads mirror Svix's operational webhooks.
import { newId } from '../domain/ids.js';
import type { Application, Attempt, Endpoint, Message } from '../domain/types.js';

/** uid of the application that holds operational events (created at startup when configured). */
export const OPERATIONAL_APP_UID = 'tapwire-operational';
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

/**
 * Builds operational events as messages for the operational application. Events about that
 * application's own endpoints and deliveries are never raised (see {@link covers}): reporting on
 * the reporting channel could loop.
 */
export class OperationalEvents {
  /** @param appId id of the operational application. */
  constructor(readonly appId: string) {}

  /** Whether changes in this application raise operational events (every application but ours). */
  covers(appId: string): boolean {
    return appId !== this.appId;
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
    return {
      id: newId('msg', now.getTime()),
      appId: this.appId,
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
