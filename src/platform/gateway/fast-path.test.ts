import pino from 'pino';
import { request } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  type Behaviour,
  echo,
  type FakeUpstream,
  gatewayOptions,
  type RunningGateway,
  startGateway,
  startUpstream,
} from './test-support.ts';

/** A catalog answering product reads as the real one does: public, with an ETag. */
const catalogAnswer: Behaviour = (req, res, seen) => {
  const body = JSON.stringify({ url: seen.url, api_version: req.headers['api-version'] });
  res.writeHead(200, {
    'content-type': 'application/json; charset=utf-8',
    etag: '"p.1"',
    'cache-control': 'public, max-age=0, must-revalidate',
    vary: 'API-Version',
  });
  res.end(body);
};

/** Headers whose values may differ between two gateways answering the same request. */
const VARYING = new Set(['date', 'keep-alive', 'connection']);

interface Answered {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/** What may differ: the two gateways' own addresses, which the service sees as X-Forwarded-Host. */
function comparable(res: Answered) {
  const headers = Object.fromEntries(
    Object.entries(res.headers)
      .filter(([name]) => !VARYING.has(name))
      // The seconds left in the window may tick between the two requests.
      .map(([name, value]) => [name, name === 'ratelimit' ? String(value).replace(/t=\d+/, 't=?') : value]),
  );
  return { status: res.status, headers, text: res.text.replace(/"x-forwarded-host":"[^"]*"/, '') };
}

/**
 * The fast path answers the reads it takes exactly as fastify's path answers them: each request goes to
 * a gateway with the fast path and to one without, over the same upstreams, with the same request id.
 */
describe('the gateway fast path', () => {
  let orders: FakeUpstream;
  let catalog: FakeUpstream;
  let fast: RunningGateway;
  let slow: RunningGateway;
  let token: string;
  let n = 0;

  beforeAll(async () => {
    orders = await startUpstream();
    catalog = await startUpstream(catalogAnswer);
    const services = { catalog: [catalog.url], orders: [orders.url], users: [orders.url] };
    fast = await startGateway(gatewayOptions(services));
    slow = await startGateway(gatewayOptions(services, { fastPath: false }));
    token = fast.app.issueToken({ id: 'u-fast', role: 'customer' }).access_token;
    // Both edges verify tokens with the same secret; each has now seen this one once.
    for (const gateway of [fast, slow])
      await gateway.request('/orders', { headers: { authorization: `Bearer ${token}` } });
  });
  afterAll(async () => {
    await Promise.all([fast.close(), slow.close(), orders.close(), catalog.close()]);
  });
  beforeEach(() => {
    orders.behave(echo);
  });

  /** Sends one request to both gateways; answers the fast one's, after checking both are the same. */
  async function both(
    path: string,
    options: { method?: string; headers?: Record<string, string>; body?: string } = {},
  ): Promise<{ answer: Answered; taken: boolean }> {
    const headers = { 'x-request-id': `fast-path-${++n}`, ...options.headers };
    const before = fast.app.fastPathStats.taken;
    const a = await fast.request(path, { ...options, headers });
    const taken = fast.app.fastPathStats.taken > before;
    const b = await slow.request(path, { ...options, headers });
    expect(comparable(a)).toEqual(comparable(b));
    expect(slow.app.fastPathStats.taken).toBe(0);
    return { answer: a, taken };
  }

  const bearer = () => ({ authorization: `Bearer ${token}` });

  it('takes plain reads, anonymous or with a token it has verified, and answers them as fastify does', async () => {
    const cases: Array<[string, Record<string, string>]> = [
      ['/orders', {}],
      ['/v1/orders', bearer()],
      ['/v2/orders?limit=5&cursor=x', bearer()],
      ['/orders/o-1', { ...bearer(), 'api-version': '2' }],
      ['/orders', { ...bearer(), traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' }],
    ];
    for (const [path, headers] of cases) {
      const { answer, taken } = await both(path, { headers });
      expect(taken, path).toBe(true);
      expect(answer.status).toBe(200);
      expect(answer.headers['ratelimit-policy']).toBe('"default";q=10000;w=60');
      expect(answer.headers['x-request-id']).toMatch(/^fast-path-/);
      // What the service saw came through the edge: the signed identity, not the client's token.
      const seen = JSON.parse(answer.text) as { headers: Record<string, string> };
      expect(seen.headers.authorization).toBeUndefined();
      expect(seen.headers['x-splitshop-identity']).toBeDefined();
    }
    const head = await both('/orders/o-1', { method: 'HEAD', headers: bearer() });
    expect(head.taken).toBe(true);
    expect(head.answer.text).toBe('');
  });

  it('serves and revalidates cached product reads', async () => {
    for (let i = 0; i < 2; i++) {
      const { answer, taken } = await both('/v2/products?limit=3');
      expect(taken).toBe(true);
      expect(answer.headers.etag).toBe('"p.1"');
    }
    const { answer, taken } = await both('/v2/products?limit=3', { headers: { 'if-none-match': '"p.1"' } });
    expect(taken).toBe(true);
    expect(answer.status).toBe(304);
  });

  it('streams a large answer', async () => {
    const big = 'x'.repeat(200_000);
    orders.behave((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(big);
    });
    const { answer, taken } = await both('/orders/big', { headers: bearer() });
    expect(taken).toBe(true);
    expect(answer.text).toBe(big);
  });

  it('passes every byte of an answer through unchanged, text in any encoding or binary', async () => {
    const bytes = Buffer.concat([
      Buffer.from('{"name":"Kettle — ünïcode €, 茶"}', 'utf8'),
      Buffer.from(Array.from({ length: 256 }, (_, i) => i)),
    ]);
    orders.behave((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': bytes.length });
      res.end(bytes);
    });
    for (const gateway of [fast, slow]) {
      const before = gateway.app.fastPathStats.taken;
      const res = await request(`${gateway.url}/orders/bytes`, { headers: bearer() });
      const body = Buffer.from(await res.body.arrayBuffer());
      expect(gateway.app.fastPathStats.taken - before).toBe(gateway === fast ? 1 : 0);
      expect(res.headers['content-length']).toBe(String(bytes.length));
      expect(body.equals(bytes)).toBe(true);
    }
  });

  it("passes a service's refusal through, and answers a service that breaks off with a problem", async () => {
    orders.behave((_req, res) => {
      const body = JSON.stringify({ status: 404, code: 'NOT_FOUND' });
      res.writeHead(404, { 'content-type': 'application/problem+json' }).end(body);
    });
    expect((await both('/orders/none', { headers: bearer() })).answer.status).toBe(404);
    orders.behave((_req, res) => {
      res.socket?.destroy();
    });
    const { answer, taken } = await both('/orders/o-1', { headers: bearer() });
    expect(taken).toBe(true);
    expect(answer.status).toBe(503);
    expect(answer.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(answer.headers['retry-after']).toBe('1');
    expect(JSON.parse(answer.text)).toMatchObject({
      code: 'SERVICE_UNAVAILABLE',
      request_id: `fast-path-${n}`,
    });
  });

  it('leaves to fastify every request it does not take whole', async () => {
    const left: Array<[string, { method?: string; headers?: Record<string, string>; body?: string }]> = [
      [
        '/orders',
        { method: 'POST', headers: { ...bearer(), 'content-type': 'application/json' }, body: '{}' },
      ],
      ['/orders', { headers: { authorization: 'Bearer not.a.token' } }],
      ['/orders', { headers: { authorization: 'Basic dTpw' } }],
      ['/orders', { headers: { 'api-version': '3' } }],
      ['/nowhere', {}],
      ['/orders/%2e%2e/internal', {}],
      ['/orders/./o-1/../o-2', { headers: bearer() }],
      ['/orders/%zz', {}],
      ['/orders/%2Fadmin', {}],
      ['/orders//o-1', {}],
      ['/orders/a%00b', {}],
      ['/health', {}],
      ['/openapi.json', {}],
      ['/orders', { method: 'DELETE', headers: bearer() }],
      ['/orders', { method: 'GET', headers: { 'content-type': 'application/json' }, body: '{}' }],
    ];
    for (const [path, options] of left) {
      const before = fast.app.fastPathStats.taken;
      const a = await fast.request(path, options);
      expect(fast.app.fastPathStats.taken, `${options.method ?? 'GET'} ${path}`).toBe(before);
      // The API document's servers differ by port; every other answer is the same.
      if (path !== '/openapi.json' && path !== '/health') {
        const b = await slow.request(path, options);
        expect(comparable(a).status).toBe(comparable(b).status);
      }
    }
    // A token seen for the first time is verified by fastify's path; the next request takes the fast one.
    const fresh = fast.app.issueToken({ id: 'u-fresh', role: 'customer' }).access_token;
    const before = fast.app.fastPathStats.taken;
    await fast.request('/orders', { headers: { authorization: `Bearer ${fresh}` } });
    expect(fast.app.fastPathStats.taken).toBe(before);
    await fast.request('/orders', { headers: { authorization: `Bearer ${fresh}` } });
    expect(fast.app.fastPathStats.taken).toBe(before + 1);
  });
});

describe('the gateway fast path near a rate limit', () => {
  let upstream: FakeUpstream;
  let gateway: RunningGateway;

  beforeAll(async () => {
    upstream = await startUpstream();
    const options = gatewayOptions({
      catalog: [upstream.url],
      orders: [upstream.url],
      users: [upstream.url],
    });
    gateway = await startGateway({
      ...options,
      edge: { ...options.edge, rateLimit: { max: 100, windowSeconds: 60 } },
    });
  });
  afterAll(async () => {
    await Promise.all([gateway.close(), upstream.close()]);
  });

  it('counts every request it takes, and leaves the last ones before the limit, and the refusals, to fastify', async () => {
    const statuses: number[] = [];
    const remaining: number[] = [];
    let taken = 0;
    for (let i = 0; i < 102; i++) {
      const before = gateway.app.fastPathStats.taken;
      const res = await gateway.request('/orders');
      taken += gateway.app.fastPathStats.taken - before;
      statuses.push(res.status);
      remaining.push(Number(/r=(\d+)/.exec(String(res.headers.ratelimit))?.[1]));
    }
    expect(statuses.filter((s) => s === 200)).toHaveLength(100);
    expect(statuses.slice(100)).toEqual([429, 429]);
    // One count per request, whichever path took it.
    expect(remaining.slice(0, 100)).toEqual(Array.from({ length: 100 }, (_, i) => 99 - i));
    // Far from the limit (64 or more left) the fast path takes them; near it, fastify's limiter decides.
    expect(taken).toBe(36);
  });
});

describe('the gateway fast path, in the log', () => {
  it('logs a request as fastify does: the same lines, with the same fields', async () => {
    const upstream = await startUpstream();
    const lines: Array<Record<string, unknown>> = [];
    const log = pino(
      { level: 'info' },
      { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
    );
    const services = { catalog: [upstream.url], orders: [upstream.url], users: [upstream.url] };
    const fast = await startGateway(gatewayOptions(services, { log }));
    const slow = await startGateway(gatewayOptions(services, { log, fastPath: false }));
    try {
      const before = fast.app.fastPathStats.taken;
      await fast.request('/orders?limit=2', { headers: { 'x-request-id': 'logged-fast' } });
      expect(fast.app.fastPathStats.taken).toBe(before + 1);
      await slow.request('/orders?limit=2', { headers: { 'x-request-id': 'logged-slow' } });
      // What varies from one request to the next: when, how long, the client's port and the gateway's.
      const shape = (id: string): Array<Record<string, unknown>> =>
        lines
          .filter((line) => line.request_id === id)
          .map(({ time, pid, hostname, request_id, responseTime, ...rest }) => {
            expect(typeof responseTime === 'number' || responseTime === undefined).toBe(true);
            const req = rest.req as Record<string, unknown> | undefined;
            return {
              ...rest,
              ...(req ? { req: { ...req, remotePort: typeof req.remotePort, host: typeof req.host } } : {}),
            };
          });
      expect(shape('logged-fast')).toEqual(shape('logged-slow'));
      expect(shape('logged-fast').map((line) => line.msg)).toEqual(['incoming request', 'request completed']);
    } finally {
      await Promise.all([fast.close(), slow.close(), upstream.close()]);
    }
  });
});
