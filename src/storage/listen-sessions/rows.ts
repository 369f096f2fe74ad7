// Listen session rows ↔ records, the same for both databases (their ColumnValues say how the list of
// event types is held); times are epoch milliseconds, which pg returns as text for bigint.
import type { ListenSession } from '../../domain/listen.js';
import type { ColumnValues } from '../shared/values.js';

export interface ListenSessionRow {
  id: string;
  app_id: string;
  endpoint_id: string;
  source_id: string | null;
  token_hash: string;
  forward_to: string;
  event_types: unknown;
  client: string;
  created_at: number | string;
  last_seen_at: number | string;
  detached_at: number | string | null;
}

export function toListenSession(r: ListenSessionRow, values: ColumnValues): ListenSession {
  return {
    id: r.id,
    appId: r.app_id,
    endpointId: r.endpoint_id,
    sourceId: r.source_id,
    tokenHash: r.token_hash,
    forwardTo: r.forward_to,
    eventTypes: values.readTextList(r.event_types),
    client: r.client,
    createdAt: new Date(Number(r.created_at)),
    lastSeenAt: new Date(Number(r.last_seen_at)),
    detachedAt: r.detached_at === null ? null : new Date(Number(r.detached_at)),
  };
}

export function listenSessionParams(s: ListenSession, values: ColumnValues): Record<string, unknown> {
  return {
    id: s.id,
    appId: s.appId,
    endpointId: s.endpointId,
    sourceId: s.sourceId,
    tokenHash: s.tokenHash,
    forwardTo: s.forwardTo,
    eventTypes: values.writeTextList(s.eventTypes),
    client: s.client,
    createdAt: s.createdAt.getTime(),
    lastSeenAt: s.lastSeenAt.getTime(),
    detachedAt: s.detachedAt?.getTime() ?? null,
  };
}

/** A session names its application, endpoint and source; one of them is missing. */
export const LISTEN_SESSION_MISSING_PARENT = 'Application, endpoint or ingest source not found';
