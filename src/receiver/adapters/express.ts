// Receiving webhooks in Express (4 or 5) without depending on it: a middleware that gets the raw body
// whether or not express.raw() ran, and refuses loudly when express.json()/text() already replaced
// the bytes the signature covers, instead of answering a misleading 401.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { normalizeHeaders } from '../core.js';
import type { VerifiedWebhook } from '../types.js';
import {
  dispatchWebhook,
  readFailureResponse,
  readRawBody,
  resolveHandlerOptions,
  verifyWebhookRequest,
  type WebhookHandlerOptions,
  type WebhookRequestInfo,
} from './handle.js';
import { sendNodeResponse } from './node.js';

declare global {
  // Types `req.webhook` for Express apps (the usual augmentation of Express's global namespace).
  namespace Express {
    interface Request {
      /** The verified webhook, set by `expressWebhook()` when it has neither `inbox` nor `onWebhook`. */
      webhook?: VerifiedWebhook;
    }
  }
}

/** The parts of an Express request the middleware uses: a node:http request plus `body`. */
export type ExpressWebhookRequest = IncomingMessage & {
  body?: unknown;
  /**
   * The raw bytes, when the app's body parser keeps them:
   * `express.json({ verify: (req, _res, buf) => { req.rawBody = buf } })`.
   */
  rawBody?: unknown;
  originalUrl?: string;
  webhook?: VerifiedWebhook;
};

/** Express's `next`. */
export type ExpressNextFunction = (error?: unknown) => void;

/** An Express middleware, typed structurally so this module needs no `express` import. */
export type ExpressWebhookMiddleware = (req: ExpressWebhookRequest, res: ServerResponse, next: ExpressNextFunction) => void;

/**
 * Express middleware that verifies webhooks.
 *
 * The raw body is read from the request stream under `verifier.maxBodyBytes` and `readTimeoutMs`
 * (default 30 s) when nothing consumed it; otherwise it is taken from `req.body` when `express.raw()`
 * ran (a Buffer), or from `req.rawBody` when a parser's `verify` hook kept the bytes there. Mounting
 * no body parser on the route is simplest: `express.raw()` has its own limit (default 100 kB) that
 * applies first, and it inflates gzip bodies, which changes the signed bytes.
 * When `express.json()`, `express.text()` or `express.urlencoded()` already parsed the body, the exact
 * bytes are gone and no signature can be checked honestly: the middleware calls `next(error)` with
 * an explanation rather than answering a misleading 401.
 *
 * - With `inbox` or `onWebhook` it answers itself, as described on `handleWebhookRequest`.
 * - With neither, it sets `req.webhook` (and `req.body` to the raw Buffer when it read the stream)
 *   and calls `next()`; failed verification still answers 401/413 without calling `next`.
 *
 * @throws TypeError at once when the options are invalid.
 * @example
 * ```ts
 * // Before app.use(express.json()), or on a router without it:
 * app.post('/webhooks/tapwire', expressWebhook({ verifier: standardWebhooks({ secret }), inbox }));
 * // Or as a middleware in front of your own handler:
 * app.post('/webhooks/github', expressWebhook({ verifier: github({ secret }) }), (req, res) => {
 *   console.log(req.webhook!.type);
 *   res.sendStatus(204);
 * });
 * ```
 */
export function expressWebhook(options: WebhookHandlerOptions): ExpressWebhookMiddleware {
  const resolved = resolveHandlerOptions(options, 'expressWebhook', false);
  const passOn = resolved.inbox === undefined && resolved.onWebhook === undefined;

  return (req, res, next) => {
    const url = req.originalUrl ?? req.url;
    const info = (): WebhookRequestInfo => ({ method: req.method, url, headers: normalizeHeaders(req.headers) });
    void (async () => {
      const streamUnread = !req.readableEnded && !req.readableDidRead;
      let body: Buffer;
      if (streamUnread) {
        try {
          body = await readRawBody(req, resolved.verifier.maxBodyBytes, {
            timeoutMs: resolved.readTimeoutMs,
            scheme: resolved.verifier.scheme,
          });
        } catch (error) {
          sendNodeResponse(req, res, readFailureResponse(resolved, error, info()));
          return;
        }
        if (req.body === undefined || isEmptyPlainObject(req.body)) req.body = body;
      } else if (Buffer.isBuffer(req.body)) {
        body = req.body;
      } else if (Buffer.isBuffer(req.rawBody)) {
        body = req.rawBody;
      } else {
        next(new Error(alreadyParsedMessage(req.body)));
        return;
      }

      const request = { body, headers: req.headers, method: req.method, url };
      const outcome = verifyWebhookRequest(resolved, request);
      if (!outcome.ok) {
        sendNodeResponse(req, res, outcome.response);
        return;
      }
      if (passOn) {
        req.webhook = outcome.webhook;
        next();
        return;
      }
      sendNodeResponse(req, res, await dispatchWebhook(resolved, outcome.webhook, info()));
    })().catch((error: unknown) => {
      // Only reachable through a bug here; Express's error handling is the right place for it.
      next(error);
    });
  };
}

function alreadyParsedMessage(body: unknown): string {
  const what =
    body === undefined
      ? 'the request stream was already consumed'
      : `req.body is already ${typeof body === 'string' ? 'a string' : 'a parsed object'} (express.json(), express.text() or express.urlencoded() ran first)`;
  return (
    `expressWebhook: cannot verify the signature because ${what}, so the exact bytes it covers are gone. ` +
    'Mount the webhook route before app.use(express.json()) (or on a router without body parsers), ' +
    "or put express.raw({ type: '*/*' }) on the route itself."
  );
}

/** Express 4's body parsers set `req.body = {}` even when they skip a request (wrong content type). */
function isEmptyPlainObject(value: unknown): boolean {
  return (
    value !== null &&
    typeof value === 'object' &&
    Object.getPrototypeOf(value) === Object.prototype &&
    Object.keys(value).length === 0
  );
}
