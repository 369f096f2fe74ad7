// `tapwire listen`, the CLI side: connect out to a Tapwire server over a WebSocket (so it works
// from a laptop behind NAT: the server never dials in), receive each delivery of the session,
// POST it to the local URL with the headers a real endpoint would get, and report the answer,
// which the server records as the attempt. A dropped connection is retried with backoff under the
// same session id, so the server pushes again whatever it had pushed but not heard back about.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { styleText } from 'node:util';
import WebSocket from 'ws';

import type { ClientFrame, ServerFrame } from '../delivery/listen-hub.js';
import { VERSION } from '../version.js';

export interface ListenOptions {
  /** Base URL of the Tapwire server (http:// or https://). */
  serverUrl: string;
  token: string;
  /** The local URL each event is POSTed to. */
  forwardTo: string;
  /** Application id or uid; exactly one of app and source. */
  app: string | null;
  source: string | null;
  eventTypes: string[] | null;
  /** Replay what was accepted since then (on the first connection; see connectUrl). */
  since: Date | null;
  /** Where lines go. */
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
  /** Colour the status of each line (a TTY without NO_COLOR). */
  color: boolean;
  /** First reconnect delay; doubles up to maxBackoffMs. Defaults 500 ms and 15 s. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  now?: () => Date;
}

/** A failure the CLI cannot recover from by reconnecting (bad token, unknown application…). */
export class ListenError extends Error {
  constructor(
    message: string,
    readonly status: number | null,
  ) {
    super(message);
    this.name = 'ListenError';
  }
}

export interface ListenSummary {
  forwarded: number;
  succeeded: number;
  failed: number;
}

/** Largest local response body reported back (the server keeps at most its own limit of it). */
const MAX_REPORTED_BODY = 64 * 1024;

export class ListenClient {
  private readonly options: ListenOptions;
  private readonly sessionId = randomBytes(16).toString('base64url');
  private readonly now: () => Date;
  private socket: WebSocket | null = null;
  private stopping = false;
  private ended: string | null = null;
  /** The server refused the session after it had been ready (a reconnect with a revoked token…). */
  private refusedAfterReady = false;
  private everReady = false;
  private secret: string | null = null;
  private timeoutMs = 15_000;
  private startedAt: Date | null = null;
  private backoffMs: number;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private readonly summary: ListenSummary = { forwarded: 0, succeeded: 0, failed: 0 };
  private readonly inFlight = new Set<Promise<void>>();
  private settleFirst: { resolve: () => void; reject: (error: Error) => void } | null = null;
  private settleDone: (() => void) | null = null;
  private readonly done: Promise<void>;

  constructor(options: ListenOptions) {
    this.options = options;
    this.now = options.now ?? (() => new Date());
    this.backoffMs = options.minBackoffMs ?? 500;
    this.done = new Promise((resolve) => (this.settleDone = resolve));
  }

  /** Connect; resolves once the server has attached the session (the secret is printed then), rejects on a refusal. */
  start(): Promise<void> {
    this.startedAt = this.now();
    return new Promise((resolve, reject) => {
      this.settleFirst = { resolve, reject };
      this.connect();
    });
  }

  /** Resolves when the session is over: stopped, or ended by the server. */
  whenDone(): Promise<void> {
    return this.done;
  }

  /** The session ended because the server refused it (not because it was stopped or ended there). */
  get refused(): boolean {
    return this.refusedAfterReady;
  }

  /**
   * Ctrl-C: end the session on the server (its temporary endpoint is deleted), wait for requests
   * under way to be reported (at most `graceMs`), then close.
   */
  async stop(graceMs = 3_000): Promise<ListenSummary> {
    if (this.stopping) return this.summary;
    this.stopping = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    const socket = this.socket;
    const deadline = new Promise<void>((resolve) => setTimeout(resolve, graceMs).unref());
    await Promise.race([Promise.allSettled([...this.inFlight]), deadline]);
    if (socket && socket.readyState === WebSocket.OPEN) {
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      this.send({ type: 'end' });
      await Promise.race([closed, deadline]);
      socket.terminate();
    } else {
      socket?.terminate();
    }
    this.settleDone?.();
    return this.summary;
  }

  get counts(): ListenSummary {
    return { ...this.summary };
  }

  /** The WebSocket URL: on reconnects, `since` is the session's start (or the asked-for time, if earlier), so an endpoint the server had to make again is sent what arrived meanwhile. */
  private connectUrl(): string {
    const url = new URL(this.options.serverUrl);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    url.pathname = `${url.pathname.replace(/\/+$/, '')}/api/v1/listen`;
    const query = url.searchParams;
    if (this.options.app) query.set('app', this.options.app);
    if (this.options.source) query.set('source', this.options.source);
    query.set('session', this.sessionId);
    if (this.options.eventTypes?.length) query.set('events', this.options.eventTypes.join(','));
    const since = this.everReady ? earliest(this.options.since, this.startedAt) : this.options.since;
    if (since) query.set('since', since.toISOString());
    query.set('forward_to', this.options.forwardTo);
    query.set('client', `${hostname()} tapwire/${VERSION}`);
    return url.toString();
  }

  private connect(): void {
    if (this.stopping) return;
    const socket = new WebSocket(this.connectUrl(), { headers: { authorization: `Bearer ${this.options.token}` }, handshakeTimeout: 10_000 });
    this.socket = socket;
    // A refusal answered over HTTP: its body says why. The socket's close that follows is this one.
    let refused = false;
    socket.on('unexpected-response', (_req, res) => {
      refused = true;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk.slice(0, 4096)));
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        const detail = errorDetail(body) ?? `HTTP ${status}`;
        // Refusals that another try would get again end the CLI; 5xx and 429 are worth retrying.
        if (status < 500 && status !== 429) this.fatal(new ListenError(`the server refused the session (${status}): ${detail}`, status));
        else this.lost(`the server answered ${status}: ${detail}`);
        socket.terminate();
      });
    });
    socket.on('message', (data, isBinary) => {
      if (isBinary) return;
      let frame: ServerFrame;
      try {
        frame = JSON.parse(data.toString()) as ServerFrame;
      } catch {
        return;
      }
      this.onFrame(frame);
    });
    socket.on('close', () => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (refused) return;
      if (this.stopping || this.ended !== null) {
        this.settleDone?.();
        return;
      }
      this.lost('connection closed');
    });
    socket.on('error', (error) => {
      // 'close' follows; before the first ready, a server that cannot be reached at all is fatal.
      if (!this.everReady && !this.stopping && isUnreachable(error)) {
        this.fatal(new ListenError(`cannot reach the Tapwire server at ${this.options.serverUrl}: ${error.message}`, null));
      }
    });
  }

  private onFrame(frame: ServerFrame): void {
    switch (frame.type) {
      case 'ready': {
        this.timeoutMs = frame.timeoutMs;
        this.backoffMs = this.options.minBackoffMs ?? 500;
        const target = frame.sourceId ? `ingest source ${frame.sourceId}` : `application ${frame.appUid ?? frame.appId}`;
        if (!this.everReady) {
          this.everReady = true;
          this.secret = frame.secret;
          this.line(this.options.out, `Signing secret: ${frame.secret}`);
          this.line(this.options.out, `Ready: forwarding events of ${target} to ${this.options.forwardTo} (Ctrl-C to stop)`);
          this.settleFirst?.resolve();
          this.settleFirst = null;
        } else {
          if (frame.secret !== this.secret) this.line(this.options.out, `Signing secret changed: ${frame.secret}`);
          this.line(this.options.err, 'Reconnected');
        }
        return;
      }
      case 'event': {
        const work = this.forward(frame).finally(() => this.inFlight.delete(work));
        this.inFlight.add(work);
        return;
      }
      case 'ended': {
        this.ended = frame.reason;
        if (!this.stopping) this.line(this.options.err, `Session ended: ${frame.reason}`);
        return;
      }
    }
  }

  /** POST one event to the local URL and report what it answered (or why it did not). */
  private async forward(event: Extract<ServerFrame, { type: 'event' }>): Promise<void> {
    const started = performance.now();
    let result: Extract<ClientFrame, { type: 'result' }>;
    try {
      const response = await fetch(this.options.forwardTo, {
        method: 'POST',
        headers: event.headers,
        body: event.body,
        redirect: 'manual',
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      const body = (await response.text()).slice(0, MAX_REPORTED_BODY);
      result = { type: 'result', deliveryId: event.deliveryId, statusCode: response.status, body, durationMs: performance.now() - started };
    } catch (error) {
      const reason = describeFetchError(error, this.timeoutMs);
      result = { type: 'result', deliveryId: event.deliveryId, statusCode: 0, body: `tapwire listen could not reach ${this.options.forwardTo}: ${reason.message}`, durationMs: performance.now() - started, error: reason.kind };
    }
    this.send(result);
    const ok = result.statusCode >= 200 && result.statusCode < 300;
    this.summary.forwarded++;
    if (ok) this.summary.succeeded++;
    else this.summary.failed++;
    const status = result.error ? `error (${(result.body ?? '').replace(/^.*?: /, '')})` : String(result.statusCode);
    const painted = this.paint(ok ? 'green' : result.statusCode >= 400 && result.statusCode < 500 ? 'yellow' : 'red', status);
    const retry = event.attempt > 1 ? ` (attempt ${event.attempt})` : '';
    this.line(this.options.out, `${this.now().toISOString()}  ${event.eventType}  ${event.msgId}  → ${painted}  ${Math.round(result.durationMs ?? 0)} ms${retry}`);
  }

  private send(frame: ClientFrame): void {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(frame));
  }

  /** The connection dropped: try again after the backoff (doubling, capped). */
  private lost(reason: string): void {
    if (this.stopping || this.reconnectTimer) return;
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, this.options.maxBackoffMs ?? 15_000);
    this.line(this.options.err, `Disconnected (${reason}); reconnecting in ${(delay / 1000).toFixed(1)} s`);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.connect();
    }, delay);
  }

  private fatal(error: ListenError): void {
    if (this.settleFirst) {
      this.settleFirst.reject(error);
      this.settleFirst = null;
      this.stopping = true;
      this.socket?.terminate();
      return;
    }
    this.line(this.options.err, error.message);
    this.ended = error.message;
    this.refusedAfterReady = true;
    this.stopping = true;
    this.socket?.terminate();
    this.settleDone?.();
  }

  private paint(color: 'green' | 'yellow' | 'red', text: string): string {
    return this.options.color ? styleText(color, text) : text;
  }

  private line(stream: NodeJS.WritableStream, text: string): void {
    stream.write(`${text}\n`);
  }
}

/** The line printed when a session ends: `Forwarded 3 events: 2 succeeded, 1 failed`. */
export function describeSummary(summary: ListenSummary): string {
  return `Forwarded ${summary.forwarded} event${summary.forwarded === 1 ? '' : 's'}: ${summary.succeeded} succeeded, ${summary.failed} failed`;
}

function earliest(a: Date | null, b: Date | null): Date | null {
  if (!a) return b;
  if (!b) return a;
  return a < b ? a : b;
}

/** The `detail` of a Tapwire JSON error (or the first validation issue's message). */
function errorDetail(body: string): string | null {
  try {
    const parsed = JSON.parse(body) as { detail?: unknown };
    if (typeof parsed.detail === 'string') return parsed.detail;
    if (Array.isArray(parsed.detail)) {
      const first = parsed.detail[0] as { loc?: string[]; msg?: string } | undefined;
      if (first?.msg) return `${first.loc?.at(-1) ?? ''}: ${first.msg}`;
    }
  } catch {
    // Not JSON: the status says enough.
  }
  return null;
}

function isUnreachable(error: Error): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EHOSTUNREACH';
}

function describeFetchError(error: unknown, timeoutMs: number): { kind: 'timeout' | 'connection'; message: string } {
  const e = error as Error & { cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return { kind: 'timeout', message: `no answer within ${timeoutMs} ms` };
  return { kind: 'connection', message: e?.cause?.code ?? e?.cause?.message ?? e?.message ?? String(error) };
}
