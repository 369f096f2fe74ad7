// A `tapwire listen` session: a developer's CLI connected over a WebSocket, attached as a temporary
// destination (an endpoint of the application, or of an ingest source's application) whose
// deliveries are pushed down the socket instead of being POSTed. The CLI makes the request to its
// local URL and reports the answer, which is recorded as the attempt. The session row says which
// endpoint is the session's and when a server process holding its socket last saw it, so every
// process can list live sessions and remove the destination of one that vanished.

/** The URL scheme of a listen session's endpoint: never dialed; the worker pushes to the session. */
export const LISTEN_URL_SCHEME = 'tapwire-listen:';

/** The endpoint URL of session `id`. */
export function listenEndpointUrl(id: string): string {
  return `${LISTEN_URL_SCHEME}//${id}`;
}

/** The session id an endpoint URL names, or null when it is not a listen endpoint. */
export function listenSessionIdOf(url: string): string | null {
  return url.startsWith(LISTEN_URL_SCHEME) ? url.slice(LISTEN_URL_SCHEME.length + 2) : null;
}

/** The uid of session `id`'s endpoint. */
export function listenEndpointUid(id: string): string {
  return `listen-${id}`;
}

/** A session id: the CLI makes one (random, URL-safe) and sends it again on every reconnect. */
export const LISTEN_SESSION_ID_PATTERN = /^[A-Za-z0-9_-]{16,64}$/;

export interface ListenSession {
  /** Chosen by the CLI (LISTEN_SESSION_ID_PATTERN), kept across its reconnects. */
  id: string;
  appId: string;
  /** The session's endpoint (uid `listen-<id>`, URL `tapwire-listen://<id>`). */
  endpointId: string;
  /** The ingest source listened to, or null when listening to an application. */
  sourceId: string | null;
  /** SHA-256 (hex) of the API token that opened it: only the same token may attach to it again. */
  tokenHash: string;
  /** The local URL the CLI forwards to, as it reported it (display only). */
  forwardTo: string;
  /** The event types asked for; null = every one. */
  eventTypes: string[] | null;
  /** What the CLI says it is (host name, version), for display. */
  client: string;
  createdAt: Date;
  /** Last time a server process holding the session's socket said so (a heartbeat). */
  lastSeenAt: Date;
  /** When its socket last closed without the CLI ending the session; null while attached. */
  detachedAt: Date | null;
}
