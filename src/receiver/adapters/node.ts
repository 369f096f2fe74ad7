// Receiving webhooks on a plain node:http (or https/http2-compat) server: the request handler reads
// the raw body under the verifier's cap, verifies it and answers. Also the response writer the
// Express adapter shares, since Express requests and responses are node:http ones.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { normalizeHeaders } from '../core.js';
import {
  jsonResponse,
  processWebhookRequest,
  readFailureResponse,
  readRawBody,
  resolveHandlerOptions,
  type ResolvedWebhookHandlerOptions,
  type WebhookHandlerOptions,
  type WebhookResponse,
} from './handle.js';

/**
 * A node:http request handler that receives webhooks. Only POST is accepted (anything else gets 405
 * with `Allow: POST`); the path is not looked at, so route to it yourself or give it its own server.
 * The body is read raw, refused past `verifier.maxBodyBytes` (413, before reading it when
 * `content-length` says so) or after `readTimeoutMs` (408, default 30 s); then the answer is the one
 * described on {@link handleWebhookRequest}. When the body was not read to its end the connection is
 * closed after the answer instead of being drained.
 *
 * @param options `verifier` and exactly one of `inbox` / `onWebhook`; see {@link WebhookHandlerOptions}.
 * @throws TypeError at once when the options are invalid.
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * const handler = createNodeHandler({ verifier: standardWebhooks({ secret }), inbox });
 * createServer((req, res) => (req.url === '/webhooks' ? handler(req, res) : res.writeHead(404).end())).listen(3000);
 * ```
 */
export function createNodeHandler(options: WebhookHandlerOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const resolved = resolveHandlerOptions(options, 'createNodeHandler', true);
  return (req, res) => {
    void handleNodeRequest(resolved, req, res).catch((error: unknown) => {
      // Only reachable through a bug here (or a throwing onError); still answer rather than hang.
      try {
        resolved.onError(error, { method: req.method, url: req.url, headers: normalizeHeaders(req.headers) });
      } catch {
        // The answer matters more than the log.
      }
      sendNodeResponse(req, res, jsonResponse(500, { error: 'internal' }));
    });
  };
}

async function handleNodeRequest(options: ResolvedWebhookHandlerOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== 'POST') {
    sendNodeResponse(req, res, jsonResponse(405, { error: 'method_not_allowed' }, { allow: 'POST' }));
    return;
  }
  let body: Buffer;
  try {
    body = await readRawBody(req, options.verifier.maxBodyBytes, {
      timeoutMs: options.readTimeoutMs,
      scheme: options.verifier.scheme,
    });
  } catch (error) {
    const info = { method: req.method, url: req.url, headers: normalizeHeaders(req.headers) };
    sendNodeResponse(req, res, readFailureResponse(options, error, info));
    return;
  }
  sendNodeResponse(req, res, await processWebhookRequest(options, { body, headers: req.headers, method: req.method, url: req.url }));
}

/**
 * Writes `response` on a node:http response (Express's included). Does nothing when an answer was
 * already sent or the connection is gone. When the request body has not fully arrived (refused for
 * size or time), adds `Connection: close` so Node closes the socket after the answer rather than
 * reading the rest of an oversized body.
 *
 * @example
 * ```ts
 * sendNodeResponse(req, res, await processWebhookRequest(resolved, { body, headers: req.headers }));
 * ```
 */
export function sendNodeResponse(req: IncomingMessage, res: ServerResponse, response: WebhookResponse): void {
  if (res.headersSent || res.writableEnded || res.destroyed) return;
  const headers: Record<string, string> = { ...response.headers };
  if (!req.complete) headers.connection = 'close';
  res.writeHead(response.status, headers);
  res.end(response.body);
}
