// Domain records → Svix v1 wire shapes. Both old and new field names are returned
// (`filterTypes`/`eventTypes`, `rateLimit`/`throttleRate`), and null optionals are omitted.
import { MessageStatus, TriggerType, type Application, type Attempt, type Delivery, type Endpoint, type EventType, type Message } from '../domain/types.js';
import type { BackgroundTask } from '../domain/background-tasks.js';
import { isRefusalResponse, TENANT_REFUSAL } from '../delivery/ssrf-guard.js';
import type { Page } from '../storage/store.js';
import { exceedsJsonDepth } from './raw-json.js';

type Json = Record<string, unknown>;

export function applicationOut(app: Application): Json {
  return {
    id: app.id,
    name: app.name,
    ...(app.uid !== null ? { uid: app.uid } : {}),
    ...(app.throttleRate !== null ? { throttleRate: app.throttleRate, rateLimit: app.throttleRate } : {}),
    metadata: app.metadata,
    createdAt: app.createdAt.toISOString(),
    updatedAt: app.updatedAt.toISOString(),
  };
}

export function endpointOut(endpoint: Endpoint): Json {
  return {
    id: endpoint.id,
    url: endpoint.url,
    description: endpoint.description,
    ...(endpoint.uid !== null ? { uid: endpoint.uid } : {}),
    disabled: endpoint.disabled,
    ...(endpoint.eventTypes !== null ? { eventTypes: endpoint.eventTypes, filterTypes: endpoint.eventTypes } : {}),
    ...(endpoint.channels !== null ? { channels: endpoint.channels } : {}),
    ...(endpoint.throttleRate !== null ? { throttleRate: endpoint.throttleRate, rateLimit: endpoint.throttleRate } : {}),
    ...(endpoint.concurrencyLimit !== undefined ? { concurrencyLimit: endpoint.concurrencyLimit } : {}),
    fifo: endpoint.fifo === true,
    version: endpoint.version,
    metadata: endpoint.metadata,
    createdAt: endpoint.createdAt.toISOString(),
    updatedAt: endpoint.updatedAt.toISOString(),
  };
}

/**
 * `withContent=false` returns `payload: {}`; an expunged or expired payload reads `{"expired": true}`.
 * A raw payload (one given a content type) keeps `payload` an object, as strictly typed clients
 * decode it: its JSON object when it is one, else `{}`; its exact text is in `transformationsParams`,
 * the shape MessageIn took it in.
 */
export function messageOut(message: Message, withContent: boolean): Json {
  const contentType = message.contentType ?? null;
  let payload: unknown;
  if (!withContent) payload = {};
  else if (message.payload === null) payload = { expired: true };
  else if (contentType !== null) payload = parseRawPayload(message.payload);
  else payload = parsePayload(message.payload);
  return {
    id: message.id,
    eventType: message.eventType,
    payload,
    ...(message.eventId !== null ? { eventId: message.eventId } : {}),
    ...(message.channels !== null ? { channels: message.channels } : {}),
    ...(message.tags ? { tags: message.tags } : {}),
    ...(message.deliverAt ? { deliverAt: message.deliverAt.toISOString() } : {}),
    ...(contentType !== null
      ? {
          transformationsParams: {
            ...(withContent && message.payload !== null ? { rawPayload: message.payload } : {}),
            headers: { 'content-type': contentType },
          },
        }
      : {}),
    timestamp: message.createdAt.toISOString(),
  };
}

/** A raw payload as MessageOut.payload: the JSON object it holds, else `{}`. */
function parseRawPayload(text: string): unknown {
  const value = parsePayload(text);
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? value : {};
}

/**
 * A rawPayload (not JSON) is shown as a JSON string. So is one nested too deeply to serialize
 * again (a rawPayload is never depth-checked as JSON on the way in).
 */
function parsePayload(text: string): unknown {
  if (exceedsJsonDepth(text)) return text;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export function deliveryStatusFields(delivery: Delivery): Json {
  return {
    status: MessageStatus[delivery.status],
    statusText: delivery.status,
    ...(delivery.nextAttemptAt && (delivery.status === 'pending' || delivery.status === 'sending')
      ? { nextAttempt: delivery.nextAttemptAt.toISOString() }
      : {}),
  };
}

/**
 * Who reads an attempt: the operator (admin token) sees the SSRF guard's refusals in full; a tenant
 * (a token scoped to the application) reads TENANT_REFUSAL instead, since the detail can name
 * internal addresses and what internal names resolve to.
 */
export type AttemptAudience = 'operator' | 'tenant';

/**
 * `msg`: the attempt's message (with_msg=true), always without its payload, as Svix sends it; an
 * attempt whose message is gone gets none.
 */
export function attemptOut(attempt: Attempt, audience: AttemptAudience, msg?: Message | null): Json {
  const hidden = audience === 'tenant' && isRefusalResponse(attempt.responseStatusCode, attempt.response);
  return {
    id: attempt.id,
    msgId: attempt.msgId,
    endpointId: attempt.endpointId,
    url: attempt.url,
    response: hidden ? TENANT_REFUSAL : attempt.response,
    responseStatusCode: attempt.responseStatusCode,
    responseDurationMs: attempt.responseDurationMs,
    status: MessageStatus[attempt.status],
    statusText: attempt.status,
    triggerType: TriggerType[attempt.triggerType],
    timestamp: attempt.timestamp.toISOString(),
    ...(msg ? { msg: messageOut(msg, false) } : {}),
  };
}

/** Event types in lists leave out `schemas` unless `with_content=true`. */
export function eventTypeOut(type: EventType, withContent = true): Json {
  return {
    name: type.name,
    description: type.description,
    archived: type.archived,
    deprecated: type.deprecated,
    schemas: withContent ? type.schemas : null,
    // featureFlag (Svix's older field) is the first of featureFlags.
    ...(type.featureFlags !== null ? { featureFlags: type.featureFlags, featureFlag: type.featureFlags[0] } : {}),
    ...(type.groupName !== null ? { groupName: type.groupName } : {}),
    createdAt: type.createdAt.toISOString(),
    updatedAt: type.updatedAt.toISOString(),
  };
}

/** The list envelope; `prevIterator` is omitted on an empty page. */
export function pageOut<T>(page: Page<T>, map: (item: T) => Json): Json {
  return {
    data: page.data.map(map),
    iterator: page.iterator,
    ...(page.prevIterator !== null ? { prevIterator: page.prevIterator } : {}),
    done: page.done,
  };
}

/** A task just started, as the routes that start one answer (Svix's ReplayOut, RecoverOut and the like: no data). */
export function startedTaskOut(task: BackgroundTask): Json {
  return { id: task.id, status: task.status, task: task.task, updatedAt: task.updatedAt.toISOString() };
}

/** Svix's BackgroundTaskOut; the resume cursor stays inside. */
export function backgroundTaskOut(task: BackgroundTask): Json {
  return { id: task.id, status: task.status, task: task.task, data: task.data, updatedAt: task.updatedAt.toISOString() };
}
