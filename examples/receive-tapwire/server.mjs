// A small app that receives Tapwire webhooks the safe way, with `tapwire/receiver`:
//   - the signature is checked on the raw bytes (Standard Webhooks, several secrets during rotation),
//   - each verified event is written to a durable inbox before the 2xx goes out,
//   - the real work runs in the background with retries, once per event id.
//
// Run it:  WEBHOOK_SECRET=whsec_... node examples/receive-tapwire/server.mjs
// then register http://127.0.0.1:8090/webhooks/tapwire as an endpoint in Tapwire with that secret.
import { createServer } from 'node:http';
import { createInbox, createNodeHandler, standardWebhooks } from 'tapwire/receiver';

const secrets = (process.env.WEBHOOK_SECRET ?? '').split(/[\s,]+/).filter(Boolean);
if (secrets.length === 0) {
  console.error('Set WEBHOOK_SECRET to the endpoint secret from Tapwire (whsec_…); several, comma-separated, while rotating.');
  process.exit(2);
}

/** Writes one line of JSON to stdout: what a real app would do in its database or queue. */
function record(what, fields) {
  process.stdout.write(`${JSON.stringify({ what, ...fields })}\n`);
}

const inbox = await createInbox({
  database: process.env.INBOX_DATABASE ?? './webhook-inbox.db',
  handlers: {
    // One handler per event type; '*' catches the rest. A handler that throws is retried with
    // backoff and, after the last attempt, parked as a dead letter you can list and replay.
    'invoice.paid': async (event) => {
      const { data } = event.json();
      record('invoice paid', { eventId: event.id, invoice: data?.invoiceId, attempt: event.attempt });
    },
    '*': async (event) => {
      record('event', { eventId: event.id, type: event.type, attempt: event.attempt });
    },
  },
});

const handleTapwire = createNodeHandler({
  verifier: standardWebhooks({ secrets }),
  inbox,
  // Why a request was refused goes to your logs, never to the caller.
  onRejected: (error) => record('rejected', { reason: error.reason }),
});

const server = createServer((req, res) => {
  if (req.url === '/webhooks/tapwire') return handleTapwire(req, res);
  res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not_found"}');
});

const port = Number(process.env.PORT ?? 8090);
server.listen(port, process.env.HOST ?? '127.0.0.1', () => {
  const address = server.address();
  record('listening', { url: `http://${address.address}:${address.port}/webhooks/tapwire` });
});

async function shutdown() {
  server.close();
  await inbox.close();
  process.exit(0);
}
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
