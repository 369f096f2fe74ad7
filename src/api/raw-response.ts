// An HTTP answer written straight to a socket, for the places no Fastify reply exists: malformed
// requests (the client error handler) and refused WebSocket upgrades. The connection closes after it.
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';

/** Write `status` with `body` as JSON, then end the connection. */
export function endWithJson(socket: Duplex, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`,
  );
}
