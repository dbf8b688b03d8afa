import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';

/** Which way a toxic acts: `upstream` is what the client sends, `downstream` what the service answers. */
export type Direction = 'upstream' | 'downstream' | 'both';

/** The Toxiproxy toxics this proxy imitates, with Toxiproxy's meaning. */
export type Toxic =
  /** `latency`: every chunk is held `ms` before it is passed on. */
  | { readonly kind: 'latency'; readonly ms: number; readonly direction?: Direction }
  /** `timeout`: no data gets through; the connection is closed after `ms` (0: never, data is dropped). */
  | { readonly kind: 'timeout'; readonly ms: number; readonly direction?: Direction }
  /** `reset_peer`: the connection is reset (TCP RST) `ms` after data first flows the toxic's way. */
  | { readonly kind: 'reset'; readonly ms: number; readonly direction?: Direction }
  /** A disabled proxy: it refuses connections, and the open ones are closed. */
  | { readonly kind: 'down' };

/**
 * A TCP proxy in front of one service, for fault tests: what Toxiproxy does, in-process, so a test needs
 * no server of its own. Its port is fixed at creation (callers are configured with it before the
 * service's own address is known); `target` is set once the service runs.
 */
export interface FaultProxy {
  readonly port: number;
  readonly url: string;
  /** Where connections go; until set, they are refused. */
  setTarget(target: { host: string; port: number }): void;
  /** Replaces the current toxic (undefined: pass everything through). */
  setToxic(toxic: Toxic | undefined): Promise<void>;
  close(): Promise<void>;
}

interface Pair {
  readonly client: Socket;
  readonly upstream: Socket;
  timers: NodeJS.Timeout[];
}

function acts(toxic: Toxic | undefined, way: 'upstream' | 'downstream'): boolean {
  if (toxic === undefined || toxic.kind === 'down') return false;
  const direction = toxic.direction ?? 'both';
  return direction === 'both' || direction === way;
}

function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve((server.address() as { port: number }).port);
    });
  });
}

export async function createFaultProxy(): Promise<FaultProxy> {
  let target: { host: string; port: number } | undefined;
  let toxic: Toxic | undefined;
  const pairs = new Set<Pair>();

  function close(pair: Pair, reset: boolean): void {
    for (const timer of pair.timers) clearTimeout(timer);
    for (const socket of [pair.client, pair.upstream]) {
      if (reset && !socket.destroyed) socket.resetAndDestroy();
      else socket.destroy();
    }
    pairs.delete(pair);
  }

  /** Passes chunks from `from` to `to`, through whatever toxic acts that way when each chunk arrives. */
  function pipe(pair: Pair, from: Socket, to: Socket, way: 'upstream' | 'downstream'): void {
    let last = Promise.resolve();
    let lastDue = 0;
    let doomed = false;
    from.on('data', (chunk) => {
      const now = acts(toxic, way) ? toxic : undefined;
      if (now?.kind === 'timeout' || now?.kind === 'reset') {
        if (!doomed && (now.kind === 'reset' || now.ms > 0)) {
          doomed = true;
          pair.timers.push(setTimeout(() => close(pair, now.kind === 'reset'), now.ms));
        }
        // Nothing passes a connection that is timing out or about to be reset.
        return;
      }
      // Latency holds each chunk `ms` from its arrival, in order, as Toxiproxy's latency toxic does.
      const delay = now?.kind === 'latency' ? now.ms : 0;
      const due = Math.max(Date.now() + delay, lastDue);
      lastDue = due;
      last = last.then(async () => {
        const wait = due - Date.now();
        if (wait > 0) await new Promise((r) => pair.timers.push(setTimeout(r, wait)));
        if (!to.destroyed) to.write(chunk);
      });
    });
    // A clean close passes on once the chunks held back have gone out.
    from.on(
      'close',
      () =>
        void last.then(() => {
          to.end();
          if (pair.client.destroyed && pair.upstream.destroyed) close(pair, false);
        }),
    );
  }

  function onConnection(client: Socket): void {
    if (target === undefined) {
      client.resetAndDestroy();
      return;
    }
    const upstream = tcpConnect(target.port, target.host);
    const pair: Pair = { client, upstream, timers: [] };
    pairs.add(pair);
    for (const socket of [client, upstream]) {
      socket.setNoDelay(true);
      // A refused or broken connection on one side resets the other, as it would without the proxy.
      socket.on('error', () => close(pair, true));
    }
    pipe(pair, client, upstream, 'upstream');
    pipe(pair, upstream, client, 'downstream');
  }

  let server = createServer({ noDelay: true }, onConnection);
  const port = await listen(server, 0);
  let down = false;

  return {
    port,
    url: `http://127.0.0.1:${port}`,
    setTarget(next) {
      target = next;
    },
    async setToxic(next) {
      toxic = next;
      if (next?.kind === 'down' && !down) {
        down = true;
        for (const pair of [...pairs]) close(pair, false);
        await new Promise((r) => server.close(r));
      } else if (next?.kind !== 'down' && down) {
        server = createServer({ noDelay: true }, onConnection);
        await listen(server, port);
        down = false;
      }
    },
    async close() {
      for (const pair of [...pairs]) close(pair, false);
      if (!down) await new Promise((r) => server.close(r));
    },
  };
}
