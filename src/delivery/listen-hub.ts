// The listen hub: the WebSockets of the `tapwire listen` sessions this process holds. The delivery
// worker hands it each delivery whose endpoint is a session's (URL `tapwire-listen://<id>`); the hub
// pushes it down that session's socket and waits for the CLI to report its local receiver's answer,
// which the worker then records as the attempt. A session whose socket is elsewhere (another
// process) or gone (a laptop that lost its network) answers "detached": the worker records nothing
// and leaves the delivery for a later claim, so nothing pushed but unreported is ever lost.
//
// The hub also keeps the sessions' rows alive (a heartbeat every process can read, for the
// dashboard), notices dead sockets by ping, ends sessions another process deleted, and removes the
// endpoints of sessions that vanished longer than TAPWIRE_LISTEN_SESSION_TIMEOUT ago.
import type { Logger } from 'pino';
import type WebSocket from 'ws';

import type { ListenSession } from '../domain/listen.js';
import type { Clock } from '../services/context.js';
import type { Store } from '../storage/store.js';

/** One delivery as pushed to the CLI. */
export interface ListenPush {
  deliveryId: string;
  msgId: string;
  eventType: string;
  /** 1 for the first attempt. */
  attempt: number;
  /** Everything a real endpoint's request would carry: content type, signature headers, forwarded provider headers. */
  headers: Record<string, string>;
  body: string;
}

/** What became of a push. */
export type ListenOutcome =
  | { kind: 'answered'; statusCode: number; body: string; durationMs: number; error: string | null }
  /** Not attached here, or the socket closed before the CLI reported: nothing was recorded as sent. */
  | { kind: 'detached' };

/** Frames the server sends. */
export type ServerFrame =
  | { type: 'ready'; sessionId: string; appId: string; appUid: string | null; endpointId: string; sourceId: string | null; secret: string; /** How long the server waits for a report (TAPWIRE_REQUEST_TIMEOUT): the CLI's local deadline. */ timeoutMs: number }
  | ({ type: 'event' } & ListenPush)
  | { type: 'ended'; reason: string };

/** Frames the CLI sends. */
export type ClientFrame =
  | { type: 'result'; deliveryId: string; statusCode: number; body?: string; durationMs?: number; error?: string | null }
  | { type: 'end' };

export interface ListenHubOptions {
  store: Store;
  clock: Clock;
  logger: Logger;
  /** A session whose socket has been gone this long loses its endpoint (TAPWIRE_LISTEN_SESSION_TIMEOUT). */
  sessionTimeoutMs: number;
  /** The longest report kept from the CLI (TAPWIRE_MAX_RESPONSE_BYTES, as a real response). */
  maxResponseBytes: number;
  /** Heartbeat, ping and sweep period. Default 10 s (a quarter of the session timeout if that is shorter). */
  heartbeatMs?: number;
}

interface Waiter {
  resolve: (outcome: ListenOutcome) => void;
  timer: NodeJS.Timeout;
}

interface Attached {
  session: ListenSession;
  socket: WebSocket;
  /** Pushed deliveries waiting for the CLI's report, by delivery id. */
  waiting: Map<string, Waiter>;
  /** The socket answered the last ping. */
  alive: boolean;
}

/** WebSocket close codes the CLI reads: 4000 = another connection took the session over; 4001 = ended. */
export const CLOSE_REPLACED = 4000;
export const CLOSE_ENDED = 4001;
/** The server is stopping or restarting: reconnect. */
export const CLOSE_RESTART = 1012;

export class ListenHub {
  private readonly store: Store;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly sessionTimeoutMs: number;
  private readonly maxResponseBytes: number;
  private readonly attached = new Map<string, Attached>();
  private readonly timer: NodeJS.Timeout;
  private beating: Promise<void> | null = null;
  private closed = false;

  constructor(options: ListenHubOptions) {
    this.store = options.store;
    this.clock = options.clock;
    this.logger = options.logger.child({ component: 'listen' });
    this.sessionTimeoutMs = options.sessionTimeoutMs;
    this.maxResponseBytes = options.maxResponseBytes;
    // Every 10 s, or more often under a short session timeout, so a vanished session is removed on time.
    this.timer = setInterval(() => void this.heartbeat(), options.heartbeatMs ?? Math.min(10_000, Math.max(250, Math.floor(options.sessionTimeoutMs / 4))));
    this.timer.unref();
  }

  /** Sessions attached to this process. */
  get size(): number {
    return this.attached.size;
  }

  /** The session is attached to this process. */
  has(sessionId: string): boolean {
    return this.attached.has(sessionId);
  }

  /**
   * Take over `socket` for `session` (stored already) and tell the CLI it is ready. A socket still
   * attached for the same session (the CLI reconnected before the old one was seen to close) is
   * closed: its unreported pushes are detached, so they are pushed again on the new socket.
   */
  attach(session: ListenSession, socket: WebSocket, ready: Extract<ServerFrame, { type: 'ready' }>): void {
    const previous = this.attached.get(session.id);
    if (previous) this.drop(previous, CLOSE_REPLACED, 'replaced by a newer connection of the same session');
    const entry: Attached = { session, socket, waiting: new Map(), alive: true };
    this.attached.set(session.id, entry);
    socket.on('pong', () => {
      entry.alive = true;
    });
    socket.on('message', (data, isBinary) => {
      if (isBinary) return;
      this.onFrame(entry, data.toString());
    });
    socket.on('close', () => {
      if (this.attached.get(session.id) !== entry) return;
      this.detach(entry);
      if (!this.closed) {
        void this.store.markListenSessionDetached({ id: session.id, now: this.clock.now() }).catch((error: unknown) => {
          this.logger.warn({ err: error, sessionId: session.id }, 'recording a detached listen session failed');
        });
      }
      this.logger.info({ sessionId: session.id, appId: session.appId }, 'listen session detached');
    });
    socket.on('error', (error) => this.logger.warn({ err: error, sessionId: session.id }, 'listen socket error'));
    this.send(entry, ready);
    this.logger.info({ sessionId: session.id, appId: session.appId, endpointId: session.endpointId, client: session.client }, 'listen session attached');
  }

  /**
   * Push one delivery to its session and wait for the CLI's report, at most `timeoutMs` (a CLI that
   * stays silent that long counts as a timeout, as a real endpoint would).
   */
  deliver(sessionId: string, push: ListenPush, timeoutMs: number): Promise<ListenOutcome> {
    const entry = this.attached.get(sessionId);
    if (!entry || entry.socket.readyState !== entry.socket.OPEN) return Promise.resolve({ kind: 'detached' });
    return new Promise<ListenOutcome>((resolve) => {
      const started = this.clock.now().getTime();
      const timer = setTimeout(() => {
        entry.waiting.delete(push.deliveryId);
        resolve({
          kind: 'answered',
          statusCode: 0,
          body: `tapwire listen did not report an answer within ${timeoutMs} ms`,
          durationMs: this.clock.now().getTime() - started,
          error: 'timeout',
        });
      }, timeoutMs);
      // A second push of the same delivery (its lease ran out and it was claimed again) replaces the first wait.
      entry.waiting.get(push.deliveryId)?.resolve({ kind: 'detached' });
      entry.waiting.set(push.deliveryId, { resolve, timer });
      this.send(entry, { type: 'event', ...push });
    });
  }

  /**
   * End a session held here: tell the CLI, close its socket, delete its endpoint (which deletes the
   * session row; its pending deliveries end canceled). False when it is not attached here.
   */
  async end(sessionId: string, reason: string): Promise<boolean> {
    const entry = this.attached.get(sessionId);
    if (!entry) return false;
    this.send(entry, { type: 'ended', reason });
    this.drop(entry, CLOSE_ENDED, reason);
    await this.removeDestination(entry.session);
    return true;
  }

  /** Delete a session's endpoint (and so its row). */
  async removeDestination(session: ListenSession): Promise<void> {
    await this.store.deleteEndpoint(session.appId, session.endpointId, this.clock.now());
    this.logger.info({ sessionId: session.id, appId: session.appId, endpointId: session.endpointId }, 'listen session ended; its endpoint is deleted');
  }

  /** Stop: every CLI is told the server restarts (it reconnects, to this process again or another). */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    await this.beating;
    for (const entry of [...this.attached.values()]) this.drop(entry, CLOSE_RESTART, 'server stopping');
  }

  /**
   * Every period: ping each socket (one that did not answer the last ping is dead: terminated, its
   * pushes detached), refresh the rows of the sessions held here, end those whose row another
   * process deleted (DELETE /api/v1/listen-session/{id} there), and remove the endpoints of
   * sessions nobody has held for the session timeout.
   */
  heartbeat(): Promise<void> {
    if (this.beating || this.closed) return this.beating ?? Promise.resolve();
    const run = async (): Promise<void> => {
      for (const entry of [...this.attached.values()]) {
        if (!entry.alive) {
          this.logger.info({ sessionId: entry.session.id }, 'listen socket stopped answering pings; closing it');
          entry.socket.terminate();
          continue;
        }
        entry.alive = false;
        entry.socket.ping();
      }
      const now = this.clock.now();
      try {
        const ids = [...this.attached.keys()];
        if (ids.length > 0) await this.store.touchListenSessions({ ids, now });
        for (const id of ids) {
          const entry = this.attached.get(id);
          if (entry && !(await this.store.getListenSession(id))) {
            this.send(entry, { type: 'ended', reason: 'the session was ended on the server' });
            this.drop(entry, CLOSE_ENDED, 'ended elsewhere');
          }
        }
        const expired = await this.store.listExpiredListenSessions({ lastSeenBefore: new Date(now.getTime() - this.sessionTimeoutMs), limit: 100 });
        for (const session of expired) {
          if (this.attached.has(session.id)) continue;
          await this.removeDestination(session);
        }
      } catch (error) {
        this.logger.warn({ err: error }, 'listen heartbeat failed; retrying next period');
      }
    };
    this.beating = run().finally(() => {
      this.beating = null;
    });
    return this.beating;
  }

  private onFrame(entry: Attached, text: string): void {
    let frame: ClientFrame;
    try {
      frame = JSON.parse(text) as ClientFrame;
    } catch {
      this.logger.warn({ sessionId: entry.session.id }, 'listen client sent a frame that is not JSON; ignored');
      return;
    }
    if (frame.type === 'result' && typeof frame.deliveryId === 'string') {
      const waiter = entry.waiting.get(frame.deliveryId);
      if (!waiter) return;
      entry.waiting.delete(frame.deliveryId);
      clearTimeout(waiter.timer);
      const statusCode = Number.isInteger(frame.statusCode) && frame.statusCode >= 0 && frame.statusCode <= 999 ? frame.statusCode : 0;
      const body = typeof frame.body === 'string' ? truncate(frame.body, this.maxResponseBytes) : '';
      const durationMs = typeof frame.durationMs === 'number' && Number.isFinite(frame.durationMs) && frame.durationMs >= 0 ? Math.round(frame.durationMs) : 0;
      const error = typeof frame.error === 'string' && frame.error ? frame.error.slice(0, 1000) : null;
      waiter.resolve({ kind: 'answered', statusCode: error ? 0 : statusCode, body: error ? body || error : body, durationMs, error });
    } else if (frame.type === 'end') {
      void this.end(entry.session.id, 'ended by the listener').catch((error: unknown) => {
        this.logger.warn({ err: error, sessionId: entry.session.id }, 'ending a listen session failed; its endpoint is removed after the session timeout');
      });
    }
  }

  private send(entry: Attached, frame: ServerFrame): void {
    if (entry.socket.readyState === entry.socket.OPEN) entry.socket.send(JSON.stringify(frame));
  }

  /** Forget the socket: its unreported pushes are detached (pushed again later), then it is closed. */
  private drop(entry: Attached, code: number, reason: string): void {
    this.detach(entry);
    entry.socket.close(code, reason.slice(0, 120));
  }

  private detach(entry: Attached): void {
    if (this.attached.get(entry.session.id) === entry) this.attached.delete(entry.session.id);
    for (const waiter of entry.waiting.values()) {
      clearTimeout(waiter.timer);
      waiter.resolve({ kind: 'detached' });
    }
    entry.waiting.clear();
  }
}

/** At most `maxBytes` of UTF-8, cut on a character boundary. */
function truncate(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  return Buffer.from(text).subarray(0, maxBytes).toString('utf8').replace(/\uFFFD$/, '');
}
