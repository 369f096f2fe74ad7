// Receiving webhooks in Fastify: a plugin whose encapsulated context swaps the body parsers for one
// raw-Buffer parser capped at the verifier's limit, so the signed bytes survive while the rest of the
// app keeps its JSON parser. Fastify is only imported for types.
import type { FastifyError, FastifyPluginAsync, FastifyReply } from 'fastify';
import { normalizeHeaders } from '../core.js';
import { WebhookVerificationError } from '../errors.js';
import {
  processWebhookRequest,
  readFailureResponse,
  resolveHandlerOptions,
  type WebhookHandlerOptions,
  type WebhookResponse,
} from './handle.js';

/** Options of {@link fastifyWebhook}: the handler options plus the route path. */
export interface FastifyWebhookOptions extends WebhookHandlerOptions {
  /** Route path inside the plugin's prefix. Default `'/'` (so the prefix itself is the URL). */
  path?: string;
}

/**
 * Fastify plugin that receives webhooks on one POST route. Register it with a `prefix`; like any
 * plugin not wrapped in fastify-plugin it is encapsulated, so the raw body parser it installs (every
 * content type parsed as a Buffer, `bodyLimit` = `verifier.maxBodyBytes`) applies to its route only
 * and the app's JSON parsing elsewhere is untouched. A body over the limit answers 413
 * `{"error":"payload_too_large"}` (refused before reading when `content-length` says so) and closes
 * the connection; other answers are the ones described on `handleWebhookRequest`.
 *
 * Fastify reads the body itself, so `readTimeoutMs` does not apply: bound slow senders with Fastify's
 * `requestTimeout` / `connectionTimeout` server options. Fastify also answers a malformed
 * `Content-Type` header with its own 415 before the route runs.
 *
 * @throws TypeError (failing `register`/`ready`) when the options are invalid or name neither
 *   `inbox` nor `onWebhook`.
 * @example
 * ```ts
 * const app = Fastify({ requestTimeout: 30_000 });
 * await app.register(fastifyWebhook, { prefix: '/webhooks/stripe', verifier: stripe({ secret }), inbox });
 * ```
 */
export const fastifyWebhook: FastifyPluginAsync<FastifyWebhookOptions> = async (instance, opts) => {
  const options = resolveHandlerOptions(opts, 'fastifyWebhook', true);
  const { verifier } = options;
  const path = opts.path ?? '/';

  instance.removeAllContentTypeParsers();
  instance.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: verifier.maxBodyBytes }, (_request, body, done) => {
    done(null, body);
  });

  instance.setErrorHandler((error: FastifyError, request, reply) => {
    if (error.code !== 'FST_ERR_CTP_BODY_TOO_LARGE') throw error; // the app's own error handler decides
    const info = { method: request.method, url: request.url, headers: normalizeHeaders(request.headers) };
    const tooLarge = new WebhookVerificationError(
      verifier.scheme,
      'body_too_large',
      `Body exceeds the ${verifier.maxBodyBytes}-byte limit`,
      { cause: error },
    );
    // Close rather than drain: the sender may still be sending the oversized rest.
    return send(reply, readFailureResponse(options, tooLarge, info), { connection: 'close' });
  });

  instance.post(path, { bodyLimit: verifier.maxBodyBytes }, async (request, reply) => {
    const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
    const response = await processWebhookRequest(options, {
      body,
      headers: request.headers,
      method: request.method,
      url: request.url,
    });
    return send(reply, response);
  });
};

function send(reply: FastifyReply, response: WebhookResponse, extraHeaders: Record<string, string> = {}): FastifyReply {
  return reply
    .code(response.status)
    .headers({ ...response.headers, ...extraHeaders })
    .send(response.body);
}
