// A TCP proxy on 127.0.0.1 that a test can cut and restore, to play "the database went away and came
// back" for Tapwire processes without restarting the PostgreSQL server that other test files share.
// cut() is what a server restart looks like to a client: open connections drop, new ones are refused.
// stall() is a network partition: nothing is closed, but nothing gets through either.
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export interface TcpProxy {
  /** The proxy's own port on 127.0.0.1 (picked by the OS). */
  readonly port: number;
  /** 'open' (forwarding), 'cut' (refusing) or 'stalled' (swallowing). */
  readonly state: 'open' | 'cut' | 'stalled';
  /** Client connections accepted and forwarded so far (not counting those refused while cut). */
  readonly forwarded: number;
  /** Client connections currently open through the proxy. */
  readonly open: number;
  /** Connections refused while cut. */
  readonly refused: number;
  /**
   * Local ports of the proxy's open connections to the target: what the target sees as the client
   * port (PostgreSQL's pg_stat_activity.client_port), so a test can find the sessions behind the proxy.
   */
  upstreamPorts(): number[];
  /**
   * Drop every open connection (both sides destroyed, as when the server process dies) and refuse
   * new ones until restore(): they are accepted and reset at once, so clients fail fast with
   * ECONNRESET instead of waiting for a timeout. The port stays ours, so restore() cannot lose it.
   */
  cut(): void;
  /**
   * Stop all traffic without closing anything: open connections stop moving bytes either way, new
   * connections are accepted but get no answer. What a network partition or a frozen server does.
   */
  stall(): void;
  /** Forward again: after cut(), new connections; after stall(), the held ones carry on as well. */
  restore(): void;
  /** Drop everything and stop listening. */
  close(): Promise<void>;
}

interface Pair {
  client: Socket;
  /** null while stalled before it was connected upstream. */
  upstream: Socket | null;
}

/** Forward 127.0.0.1:<port> to `target` (a PostgreSQL server, say). */
export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const pairs = new Set<Pair>();
  let state: 'open' | 'cut' | 'stalled' = 'open';
  let forwarded = 0;
  let refused = 0;

  const drop = (pair: Pair): void => {
    if (!pairs.delete(pair)) return;
    pair.client.destroy();
    pair.upstream?.destroy();
  };
  const flow = (pair: Pair): void => {
    pair.upstream ??= connectUpstream(pair);
    pair.client.pipe(pair.upstream);
    pair.upstream.pipe(pair.client);
  };
  const halt = (pair: Pair): void => {
    pair.client.unpipe();
    pair.upstream?.unpipe();
    pair.client.pause();
    pair.upstream?.pause();
  };
  const connectUpstream = (pair: Pair): Socket => {
    const upstream = connect({ host: target.host, port: target.port });
    upstream.on('error', () => drop(pair)).on('close', () => drop(pair));
    return upstream;
  };

  const server: Server = createServer((client) => {
    if (state === 'cut') {
      refused++;
      client.on('error', () => undefined);
      client.resetAndDestroy();
      return;
    }
    forwarded++;
    const pair: Pair = { client, upstream: null };
    pairs.add(pair);
    client.on('error', () => drop(pair)).on('close', () => drop(pair));
    if (state === 'open') flow(pair);
    else client.pause();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;

  return {
    port,
    get state() {
      return state;
    },
    get forwarded() {
      return forwarded;
    },
    get open() {
      return pairs.size;
    },
    get refused() {
      return refused;
    },
    upstreamPorts() {
      return [...pairs].map(({ upstream }) => upstream?.localPort).filter((p): p is number => p !== undefined);
    },
    cut() {
      state = 'cut';
      for (const pair of [...pairs]) drop(pair);
    },
    stall() {
      state = 'stalled';
      for (const pair of pairs) halt(pair);
    },
    restore() {
      const wasStalled = state === 'stalled';
      state = 'open';
      if (wasStalled) for (const pair of pairs) flow(pair);
    },
    async close() {
      state = 'cut';
      for (const pair of [...pairs]) drop(pair);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
