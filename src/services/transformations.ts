// Use cases of endpoint transformations (Svix's GET/PATCH …/endpoint/{id}/transformation), and
// trying code on a message without sending anything (Tapwire's …/transformation/simulate), which
// the dashboard's editor uses to show a result or an error before saving.
import { MAX_TRANSFORMATION_CODE_BYTES } from '../domain/transformation.js';
import type { Endpoint } from '../domain/types.js';
import { TapwireError, notFound, validationError } from '../errors/tapwire-error.js';
import { transformationFailure, type TransformationResult } from '../delivery/transformations.js';
import type { ServiceContext } from './context.js';
import { getEndpoint } from './endpoints.js';
import { getMessage } from './messages.js';

/** What GET …/transformation answers. */
export interface TransformationView {
  code: string | null;
  enabled: boolean;
  updatedAt: Date | null;
}

/** A PATCH: absent fields keep their value; `code: null` removes the code (and disables it). */
export interface TransformationPatch {
  code?: string | null;
  enabled?: boolean;
  variables?: Record<string, string> | null;
}

export function describeTransformation(endpoint: Endpoint): TransformationView {
  const t = endpoint.transformation;
  return { code: t?.code ?? null, enabled: t?.enabled ?? false, updatedAt: t?.updatedAt ?? null };
}

export async function getTransformation(ctx: ServiceContext, appIdOrUid: string, endpointIdOrUid: string): Promise<TransformationView> {
  return describeTransformation(await getEndpoint(ctx, appIdOrUid, endpointIdOrUid));
}

export async function patchTransformation(ctx: ServiceContext, appIdOrUid: string, endpointIdOrUid: string, patch: TransformationPatch): Promise<TransformationView> {
  if (patch.variables && Object.keys(patch.variables).length > 0) {
    throw validationError(['body', 'variables'], 'transformation variables are not supported; write the values into the code');
  }
  if (typeof patch.code === 'string') checkCode(patch.code, ['body', 'code']);
  const endpoint = await getEndpoint(ctx, appIdOrUid, endpointIdOrUid);
  // Code that cannot even load (a syntax error, no handler) is refused now rather than failing
  // every delivery later.
  if (typeof patch.code === 'string' && ctx.transformations) {
    const problem = await ctx.transformations.check(patch.code);
    if (problem !== null) throw validationError(['body', 'code'], `the code cannot be used: ${problem}`);
  }
  const code = patch.code === undefined ? (endpoint.transformation?.code ?? null) : patch.code;
  // Removing the code switches it off: an enabled transformation without code would mean nothing.
  const enabled = code === null ? false : (patch.enabled ?? endpoint.transformation?.enabled ?? false);
  if (patch.enabled === true && code === null) throw validationError(['body', 'enabled'], 'a transformation cannot be enabled without code; set code too');
  const updated = await ctx.store.setEndpointTransformation({ appId: endpoint.appId, endpointId: endpoint.id, code, enabled, now: ctx.clock.now() });
  if (!updated) throw notFound('Endpoint');
  return describeTransformation(updated);
}

/** What to try code on: a stored message, or a payload given with the request. */
export interface SimulateInput {
  code?: string;
  msgId?: string;
  payload?: unknown;
  eventType?: string;
}

/** The result of a simulated run, as the API answers it. */
export interface SimulateOutput {
  outcome: 'ok' | 'cancel' | 'error' | 'timeout' | 'memory' | 'invalid';
  method?: string;
  url?: string;
  headers?: Record<string, string>;
  payload?: unknown;
  body?: string;
  error?: string;
  durationMs: number;
}

/**
 * Run code (given, or the endpoint's saved code) on a message or payload as a delivery to this
 * endpoint would, and say what would be sent. Nothing is sent or stored.
 */
export async function simulateTransformation(ctx: ServiceContext, appIdOrUid: string, endpointIdOrUid: string, input: SimulateInput): Promise<SimulateOutput> {
  const transformations = ctx.transformations;
  if (!transformations) throw new TapwireError('server_error', { detail: 'This process has no transformation sandbox' });
  const endpoint = await getEndpoint(ctx, appIdOrUid, endpointIdOrUid);
  const code = input.code ?? endpoint.transformation?.code;
  if (code === undefined) throw validationError(['body', 'code'], 'the endpoint has no transformation; give the code to try');
  checkCode(code, ['body', 'code']);
  if ((input.msgId === undefined) === (input.payload === undefined)) {
    throw validationError(['body'], 'give either msgId (a message to try it on) or payload, not both');
  }
  let request: { payload: string; contentType: string | null; eventType: string };
  if (input.msgId !== undefined) {
    const message = await getMessage(ctx, endpoint.appId, input.msgId);
    if (message.payload === null) throw new TapwireError('missing_payload');
    request = { payload: message.payload, contentType: message.contentType ?? null, eventType: message.eventType };
  } else {
    request = { payload: JSON.stringify(input.payload), contentType: null, eventType: input.eventType ?? 'example' };
  }
  const result = await transformations.apply(code, { url: endpoint.url, ...request, endpointId: endpoint.id });
  return simulateOutput(result);
}

function simulateOutput(result: TransformationResult): SimulateOutput {
  switch (result.kind) {
    case 'send':
      return { outcome: 'ok', method: result.method, url: result.url, headers: result.headers, payload: result.payload, body: result.body, durationMs: result.durationMs };
    case 'cancel':
      return { outcome: 'cancel', durationMs: result.durationMs };
    default:
      return { outcome: result.kind, error: transformationFailure(result), durationMs: result.durationMs };
  }
}

function checkCode(code: string, loc: string[]): void {
  const bytes = Buffer.byteLength(code, 'utf8');
  if (bytes > MAX_TRANSFORMATION_CODE_BYTES) {
    throw validationError(loc, `the code is ${bytes} bytes; at most ${MAX_TRANSFORMATION_CODE_BYTES} (64 KiB) are accepted`);
  }
  if (code.trim() === '') throw validationError(loc, 'the code is empty; set null to remove the transformation');
}
