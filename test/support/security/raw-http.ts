import { type IncomingHttpHeaders, type OutgoingHttpHeaders, request } from 'node:http';
import { connect } from 'node:net';

/** A request sent with node:http: the path goes out exactly as written (no URL parser resolves it). */
export interface SendOptions {
  readonly method?: string;
  readonly path: string;
  /** Sent as given; an array sends the header once per value. */
  readonly headers?: OutgoingHttpHeaders;
  readonly token?: string;
  /** Sent as JSON. */
  readonly body?: unknown;
  /** The client's own address (any of 127.0.0.0/8 on loopback), to be a distinct caller. */
  readonly localAddress?: string;
}

export interface RawResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** The parsed JSON when the server said JSON, else the text. */
  readonly body: unknown;
  readonly text: string;
}

const TIMEOUT_MS = 30_000;

/** Sends one request to `baseUrl` and reads the whole answer. */
export function send(baseUrl: string, options: SendOptions): Promise<RawResponse> {
  const { hostname, port } = new URL(baseUrl);
  const headers: OutgoingHttpHeaders = { ...options.headers };
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  const payload = options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body));
  if (payload !== undefined) {
    headers['content-type'] ??= 'application/json';
    headers['content-length'] = payload.length;
  }
  return new Promise((done, fail) => {
    const req = request(
      {
        host: hostname,
        port,
        method: options.method ?? 'GET',
        path: options.path,
        headers,
        timeout: TIMEOUT_MS,
        // A distinct source address needs its own connection.
        ...(options.localAddress ? { localAddress: options.localAddress, agent: false } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', fail);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const json = /[/+]json\b/.test(res.headers['content-type'] ?? '') && text !== '';
          done({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: json ? JSON.parse(text) : text,
            text,
          });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${options.method ?? 'GET'} ${options.path} timed out`)));
    req.on('error', fail);
    req.end(payload);
  });
}

/**
 * Writes `bytes` on a fresh TCP connection and collects everything the server writes back until it
 * closes the connection or stays quiet for `idleMs`: for request lines and framings node:http will not send.
 */
export function exchangeRaw(baseUrl: string, bytes: string, idleMs = 1500): Promise<string> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((done, fail) => {
    const socket = connect({ host: hostname, port: Number(port) });
    const chunks: Buffer[] = [];
    socket.setTimeout(idleMs, () => socket.destroy());
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      // A server that resets a connection it refuses has answered too.
      if (error.code === 'ECONNRESET' || error.code === 'EPIPE') return;
      fail(error);
    });
    socket.on('close', () => done(Buffer.concat(chunks).toString('latin1')));
    socket.write(bytes, 'latin1');
  });
}

/** The status codes of every HTTP/1.x answer in a raw exchange, in order. */
export function statusesOf(raw: string): number[] {
  return [...raw.matchAll(/^HTTP\/1\.[01] (\d{3})/gm)].map((m) => Number(m[1]));
}
