import {
  createServer,
  type IncomingMessage,
  request as nodeRequest,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { Pool } from 'undici';
import { staticInstances } from '../discovery/instances.ts';
import { createInternalAuth } from '../rpc/identity.ts';
import { createGateway, type Gateway, type GatewayOptions } from './gateway.ts';

export const INTERNAL_SECRET = 'gateway-test-internal-secret-0123456789';
export const internalAuth = createInternalAuth(INTERNAL_SECRET);

/** What a fake upstream saw of one request. */
export interface Seen {
  readonly method: string;
  readonly url: string;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/** Decides how a fake upstream answers; the default echoes what it saw as JSON. */
export type Behaviour = (req: IncomingMessage, res: ServerResponse, seen: Seen) => void;

export const echo: Behaviour = (_req, res, seen) => {
  const body = JSON.stringify(seen);
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
};

/** A node:http server on an ephemeral port that records every request but health checks. */
export interface FakeUpstream {
  readonly url: string;
  readonly seen: Seen[];
  behave(behaviour: Behaviour): void;
  /** The status `/health/live` answers with (200 at first). */
  health(status: number): void;
  close(): Promise<void>;
}

export async function startUpstream(behaviour: Behaviour = echo, port = 0): Promise<FakeUpstream> {
  const seen: Seen[] = [];
  let current = behaviour;
  let healthStatus = 200;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (req.url === '/health/live') {
        res.writeHead(healthStatus, { 'content-type': 'application/json' }).end('{}');
        return;
      }
      const entry = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: { ...req.headers },
        body: Buffer.concat(chunks).toString('utf8'),
      };
      seen.push(entry);
      current(req, res, entry);
    });
  });
  await new Promise<void>((done) => server.listen(port, '127.0.0.1', done));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    behave(next) {
      current = next;
    },
    health(status) {
      healthStatus = status;
    },
    close() {
      server.closeAllConnections();
      return new Promise((done) => server.close(() => done()));
    },
  };
}

/** Gateway settings for tests: small body limit, generous rate limit, one echo upstream per service. */
export function gatewayOptions(
  services: Record<string, readonly string[]>,
  overrides: Partial<GatewayOptions> = {},
): GatewayOptions {
  return {
    log: pino({ level: 'silent' }),
    edge: {
      bodyLimitBytes: 4096,
      requestTimeoutMs: 5000,
      auth: {
        secret: 'gateway-test-jwt-secret-0123456789-0123456789',
        ttlSeconds: 900,
        issuer: 'splitshop',
        audience: 'splitshop-api',
        clockSkewSeconds: 0,
      },
      rateLimit: { max: 10_000, windowSeconds: 60 },
    },
    routes: [
      { prefix: '/products', service: 'catalog' },
      { prefix: '/orders', service: 'orders' },
      { prefix: '/auth', service: 'users' },
      { prefix: '/users', service: 'users' },
    ],
    services: Object.fromEntries(
      Object.entries(services).map(([name, urls]) => [name, staticInstances(urls)]),
    ),
    internalAuth,
    // Health rounds are left to the tests that are about them.
    upstream: { healthIntervalMs: 3_600_000 },
    ...overrides,
  };
}

/** A listening gateway and a raw HTTP client for it that sends paths exactly as written. */
export interface RunningGateway {
  readonly app: Gateway;
  readonly url: string;
  request(
    path: string,
    options?: { method?: string; headers?: Record<string, string>; body?: string },
  ): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }>;
  close(): Promise<void>;
}

export async function startGateway(options: GatewayOptions): Promise<RunningGateway> {
  const app = await createGateway(options);
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  const client = new Pool(url, { connections: 4 });
  return {
    app,
    url,
    async request(path, { method = 'GET', headers = {}, body } = {}) {
      const res = await client.request({
        path,
        method: method as 'GET',
        headers,
        ...(body !== undefined ? { body } : {}),
      });
      return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
    },
    async close() {
      await client.close();
      await app.close();
    },
  };
}

/** A request through node:http, which, unlike undici, sends any `Connection` header it is given. */
export function nodeHttpGet(
  url: string,
  headers: Record<string, string>,
): Promise<{ status: number; text: string }> {
  return new Promise((done, fail) => {
    const req = nodeRequest(url, { headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => done({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
    });
    req.on('error', fail);
    req.end();
  });
}
