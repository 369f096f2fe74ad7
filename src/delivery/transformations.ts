// Applies an endpoint's transformation to one delivery: builds the `webhook` object, runs the
// handler in the sandbox pool, judges what it returned, and turns it into the request to sign and
// send (or a cancellation). Every way the code can go wrong comes back as a value with a sentence
// for the attempt's response; nothing it does throws here.
import { checkTransformed, type TransformationMethod, type WebhookInput } from '../domain/transformation.js';
import type { TransformationRunOutcome } from '../metrics/metrics.js';
import type { TransformationPool } from './transformation-pool.js';

/** The request a delivery would make without a transformation. */
export interface UntransformedRequest {
  url: string;
  /** The stored payload, byte for byte. */
  payload: string;
  /** The raw payload's content type; null for JSON. */
  contentType: string | null;
  eventType: string;
  /** The endpoint it is for: endpoints share the sandbox threads by the time their runs take. */
  endpointId?: string;
}

/** What the handler made of the request. */
export type TransformationResult =
  | {
      kind: 'send';
      method: TransformationMethod;
      url: string;
      /** The body to sign and send. */
      body: string;
      /** null: application/json. */
      contentType: string | null;
      /** Headers the handler added (after the endpoint's own). */
      headers: Record<string, string>;
      /** The payload as the handler left it (for the simulate API). */
      payload: unknown;
      durationMs: number;
    }
  | { kind: 'cancel'; durationMs: number }
  | { kind: 'error' | 'timeout' | 'memory' | 'invalid'; message: string; durationMs: number };

/** Told of each run (for /metrics). */
export interface TransformationMetrics {
  transformationRan(outcome: TransformationRunOutcome, durationMs: number): void;
}

/** What a failed run records as the attempt's response. */
export function transformationFailure(result: Extract<TransformationResult, { message: string }>): string {
  switch (result.kind) {
    case 'timeout':
      return `Transformation failed: it ran past its time limit (${result.message})`;
    case 'memory':
      return `Transformation failed: it ran out of memory (${result.message})`;
    case 'invalid':
      return `Transformation failed: invalid result: ${result.message}`;
    default:
      return `Transformation failed: ${result.message}`;
  }
}

/** The attempt response of a delivery the handler canceled. */
export const CANCELED_BY_TRANSFORMATION = 'Canceled by the transformation (webhook.cancel = true); nothing was sent';

export class Transformations {
  constructor(
    private readonly pool: TransformationPool,
    private readonly metrics?: TransformationMetrics,
  ) {}

  /** The limits each run gets. */
  get limits(): { timeoutMs: number; memoryLimitBytes: number } {
    return this.pool.limits;
  }

  /** Run `code`'s handler on the request a delivery would make. */
  async apply(code: string, request: UntransformedRequest): Promise<TransformationResult> {
    const result = await this.run(code, request, request.endpointId ?? '');
    this.metrics?.transformationRan(result.kind === 'send' ? 'ok' : result.kind, result.durationMs);
    return result;
  }

  /**
   * Load `code` in the sandbox without calling the handler, as saving it does: null when it
   * compiles, runs its top level within the limits and defines `handler`; else what is wrong.
   */
  async check(code: string): Promise<string | null> {
    const ran = await this.pool.run(code, 'null', { checkOnly: true });
    if (ran.kind === 'ok') return null;
    if (ran.kind === 'timeout') return `its top level ran past the time limit (${ran.message})`;
    if (ran.kind === 'memory') return `its top level ran out of memory (${ran.message})`;
    return ran.message;
  }

  /** End the sandbox threads. */
  close(): Promise<void> {
    return this.pool.close();
  }

  private async run(code: string, request: UntransformedRequest, key: string): Promise<TransformationResult> {
    const isJson = request.contentType === null;
    const webhook: Omit<WebhookInput, 'payload'> = { method: 'POST', url: request.url, eventType: request.eventType, headers: {} };
    // A JSON payload is spliced in as stored: it was checked when accepted, and parsing it here
    // only to serialize it again would cost a round trip for nothing.
    const webhookJson = `${JSON.stringify(webhook).slice(0, -1)},"payload":${isJson ? request.payload : JSON.stringify(request.payload)}}`;
    const ran = await this.pool.run(code, webhookJson, { key });
    if (ran.kind !== 'ok') return { kind: ran.kind, message: ran.message, durationMs: ran.durationMs };
    let returned: unknown;
    try {
      returned = ran.resultJson === 'undefined' ? undefined : JSON.parse(ran.resultJson);
    } catch {
      return { kind: 'invalid', message: 'the returned webhook could not be read as JSON', durationMs: ran.durationMs };
    }
    const checked = checkTransformed(returned);
    if (!checked.ok) return { kind: 'invalid', message: checked.reason, durationMs: ran.durationMs };
    const out = checked.request;
    if (out.cancel) return { kind: 'cancel', durationMs: ran.durationMs };
    let body: string;
    let contentType: string | null;
    if (!isJson && typeof out.payload === 'string') {
      // A raw payload the handler left a string goes with the sender's content type.
      body = out.payload;
      contentType = request.contentType;
    } else {
      body = JSON.stringify(out.payload);
      contentType = null;
      // An unchanged JSON payload goes out byte for byte (JSON numbers beyond 2^53 survive, and
      // the receiver sees exactly what was accepted).
      if (isJson && body === canonicalJson(request.payload)) body = request.payload;
    }
    return { kind: 'send', method: out.method, url: out.url, body, contentType, headers: out.headers, payload: out.payload, durationMs: ran.durationMs };
  }
}

/** A stored JSON payload as JSON.stringify would write it; null when it does not parse. */
function canonicalJson(payload: string): string | null {
  try {
    return JSON.stringify(JSON.parse(payload));
  } catch {
    return null;
  }
}
