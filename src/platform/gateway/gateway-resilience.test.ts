import { connect } from 'node:net';
import pino from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { GatewayOptions } from './gateway.ts';
import {
  type Behaviour,
  type FakeUpstream,
  gatewayOptions,
  type RunningGateway,
  startGateway,
  startUpstream,
} from './test-support.ts';
import type { UpstreamOptions } from './upstreams.ts';

/** Drops the connection as soon as a request has arrived: the client gets a reset, no answer. */
const reset = (req: { socket: { destroy(): void } }) => req.socket.destroy();
/** Never answers. */
const hang = () => undefined;

describe('the gateway in front of failing instances', () => {
  const upstreams: FakeUpstream[] = [];
  let gateway: RunningGateway | undefined;

  async function setup(
    catalog: FakeUpstream[],
    upstream: Partial<UpstreamOptions> = {},
    keyedWrites: GatewayOptions['keyedWrites'] = [],
  ) {
    upstreams.push(...catalog);
    gateway = await startGateway(
      gatewayOptions(
        { catalog: catalog.map((u) => u.url), orders: [catalog[0]!.url], users: [catalog[0]!.url] },
        { cache: false, upstream: { healthIntervalMs: 3_600_000, ...upstream }, keyedWrites },
      ),
    );
    return gateway;
  }

  afterEach(async () => {
    vi.useRealTimers();
    await gateway?.close();
    gateway = undefined;
    await Promise.all(upstreams.splice(0).map((u) => u.close()));
  });

  it('takes turns between instances', async () => {
    const [a, b] = await Promise.all([startUpstream(), startUpstream()]);
    const { request } = await setup([a!, b!]);
    for (let i = 0; i < 6; i++) expect((await request('/products')).status).toBe(200);
    expect([a!.seen.length, b!.seen.length]).toEqual([3, 3]);
  });

  it('tries an idempotent GET again on another instance when the first resets the connection', async () => {
    const [a, b] = await Promise.all([startUpstream(reset), startUpstream()]);
    const { request } = await setup([a!, b!], { ejectAfterFailures: 100 });
    const res = await request('/products/p1');
    expect(res.status).toBe(200);
    expect([a!.seen.length, b!.seen.length]).toEqual([1, 1]);
  });

  it('never sends a POST again: the service may have acted on it', async () => {
    const [a, b] = await Promise.all([startUpstream(reset), startUpstream()]);
    const { request } = await setup([a!, b!], { ejectAfterFailures: 100 });
    const res = await request('/products', { method: 'POST', body: '{}' });
    expect(res.status).toBe(503);
    expect(JSON.parse(res.text).code).toBe('SERVICE_UNAVAILABLE');
    expect(res.headers['retry-after']).toBeDefined();
    expect([a!.seen.length, b!.seen.length]).toEqual([1, 0]);
  });

  it('sends a POST with an Idempotency-Key again, on another instance, where the service honours the key', async () => {
    const [a, b] = await Promise.all([startUpstream(reset), startUpstream()]);
    const { request } = await setup([a!, b!], { ejectAfterFailures: 100 }, [
      { method: 'POST', path: '/products' },
    ]);
    const res = await request('/products', {
      method: 'POST',
      headers: { 'idempotency-key': 'k-1' },
      body: '{"n":1}',
    });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text).body).toBe('{"n":1}');
    expect([a!.seen.length, b!.seen.length]).toEqual([1, 1]);
  });

  it('never sends a POST with an Idempotency-Key again where the service does not honour the key', async () => {
    const [a, b] = await Promise.all([startUpstream(reset), startUpstream()]);
    const { request } = await setup([a!, b!], { ejectAfterFailures: 100 }, [
      { method: 'POST', path: '/orders' },
    ]);
    const res = await request('/products', {
      method: 'POST',
      headers: { 'idempotency-key': 'k-2' },
      body: '{}',
    });
    expect(res.status).toBe(503);
    expect([a!.seen.length, b!.seen.length]).toEqual([1, 0]);
  });

  it('ejects an instance after failures in a row, skips it, and tries it again later', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const [a, b] = await Promise.all([startUpstream(reset), startUpstream()]);
    const { request } = await setup([a!, b!], { ejectAfterFailures: 2, ejectForMs: 10_000 });
    for (let i = 0; i < 6; i++) expect((await request('/products')).status).toBe(200);
    // Two failures eject it: the other four requests all went to b.
    expect(a!.seen).toHaveLength(2);
    expect(b!.seen).toHaveLength(6);
    vi.advanceTimersByTime(9_999);
    await request('/products');
    expect(a!.seen).toHaveLength(2);
    vi.advanceTimersByTime(1);
    a!.behave((_req, res) => res.writeHead(200).end('{}'));
    for (let i = 0; i < 4; i++) await request('/products');
    expect(a!.seen).toHaveLength(4);
  });

  it('ejects an instance that answers 5xx, without sending the request again', async () => {
    const [a, b] = await Promise.all([
      startUpstream((_req, res) => res.writeHead(500).end('{}')),
      startUpstream(),
    ]);
    const { request } = await setup([a!, b!], { ejectAfterFailures: 1 });
    expect((await request('/products')).status).toBe(500);
    for (let i = 0; i < 3; i++) expect((await request('/products')).status).toBe(200);
    expect([a!.seen.length, b!.seen.length]).toEqual([1, 3]);
  });

  it('answers 504 by the time limit of the whole request, never retrying past it', async () => {
    const [a, b] = await Promise.all([startUpstream(hang), startUpstream(hang)]);
    const { request } = await setup([a!, b!], { timeoutMs: 300, ejectAfterFailures: 100 });
    const res = await request('/products');
    expect(res.status).toBe(504);
    // The read timed out on one instance: with no time left it is not sent to the other one.
    expect(a!.seen.length + b!.seen.length).toBe(1);
  });

  it('answers 504 TIMEOUT when the instance does not answer in time', async () => {
    const a = await startUpstream(hang);
    const { request } = await setup([a], { timeoutMs: 100 });
    const res = await request('/products', { method: 'POST', body: '{}' });
    expect(res.status).toBe(504);
    expect(JSON.parse(res.text).code).toBe('TIMEOUT');
  });

  it('opens the breaker after failures in a row, then answers 503 without asking, until it half-opens', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const a = await startUpstream(hang);
    const { request } = await setup([a], {
      timeoutMs: 100,
      ejectAfterFailures: 100,
      breakerAfterFailures: 2,
      breakerHalfOpenMs: 5_000,
    });
    let fastestTimeout = Number.POSITIVE_INFINITY;
    for (let i = 0; i < 2; i++) {
      const started = performance.now();
      expect((await request('/products/p1')).status).toBe(504);
      fastestTimeout = Math.min(fastestTimeout, performance.now() - started);
    }
    expect(a.seen).toHaveLength(2);
    const started = performance.now();
    const open = await request('/products/p1');
    // Answered without waiting for the instance: faster than any request that waited for it.
    expect(performance.now() - started).toBeLessThan(fastestTimeout);
    expect(open.status).toBe(503);
    expect(JSON.parse(open.text).code).toBe('SERVICE_UNAVAILABLE');
    expect(open.headers['retry-after']).toBe('5');
    expect(a.seen).toHaveLength(2);
    vi.advanceTimersByTime(5_000);
    a.behave((_req, res) => res.writeHead(200).end('{}'));
    expect((await request('/products/p1')).status).toBe(200);
    expect((await request('/products/p1')).status).toBe(200);
    expect(a.seen).toHaveLength(4);
  });

  it('counts only failures in a row toward the breaker, and logs it opening', async () => {
    let failing = true;
    const a = await startUpstream((req, res) =>
      failing ? req.socket.destroy() : res.writeHead(200, { 'content-type': 'application/json' }).end('{}'),
    );
    upstreams.push(a);
    const lines: Array<{ msg: string; service?: string }> = [];
    gateway = await startGateway(
      gatewayOptions(
        { catalog: [a.url], orders: [a.url], users: [a.url] },
        {
          cache: false,
          log: pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) }),
          upstream: { healthIntervalMs: 3_600_000, ejectAfterFailures: 100, breakerAfterFailures: 2 },
        },
      ),
    );
    const { request } = gateway;
    const answers: number[] = [];
    // Failure, success, failure, success: never two failures in a row, so the breaker stays closed.
    for (let i = 0; i < 4; i++) {
      answers.push((await request('/products/p1')).status);
      failing = !failing;
    }
    expect(answers).toEqual([503, 200, 503, 200]);
    expect(a.seen).toHaveLength(4);
    failing = true;
    expect((await request('/products/p1')).status).toBe(503);
    expect((await request('/products/p1')).status).toBe(503);
    expect(a.seen).toHaveLength(6);
    // Two in a row: open, and the next request does not reach the instance.
    const open = await request('/products/p1');
    expect(open.status).toBe(503);
    // The breaker's half-open delay (5 s by default), where a failed instance says 1 s.
    expect(open.headers['retry-after']).toBe('5');
    expect(a.seen).toHaveLength(6);
    expect(lines.filter((line) => line.msg === 'circuit breaker opened')).toEqual([
      expect.objectContaining({ service: 'catalog' }),
    ]);
  });

  it('answers 503 with Retry-After when every instance fails, having tried each', async () => {
    const [a, b] = await Promise.all([startUpstream(reset), startUpstream(reset)]);
    const { request } = await setup([a!, b!], { ejectAfterFailures: 1 });
    expect((await request('/products')).status).toBe(503);
    const res = await request('/products');
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('1');
    // Both are ejected after the first request; still passing their health checks, both are tried
    // again (panic) rather than the service being given up for everyone.
    expect(a!.seen.length + b!.seen.length).toBe(4);
  });

  it('keeps a lone instance serving when one of its routes fails: no client can eject a service for everyone', async () => {
    const a = await startUpstream((req, res) =>
      req.url?.startsWith('/products/broken')
        ? res.writeHead(500, { 'content-type': 'application/json' }).end('{}')
        : res.writeHead(200, { 'content-type': 'application/json' }).end('{}'),
    );
    const { request } = await setup([a], { ejectAfterFailures: 3 });
    for (let i = 0; i < 6; i++) expect((await request('/products/broken')).status).toBe(500);
    expect((await request('/products/p1')).status).toBe(200);
    expect(a.seen).toHaveLength(7);
  });

  it('reports each service with its instances and breaker on /health, naming the one that is out, and stays ready', async () => {
    const [a, b] = await Promise.all([startUpstream(), startUpstream(reset)]);
    const { request } = await setup([a!, b!], { ejectAfterFailures: 1, healthIntervalMs: 100 });
    const health = async () => {
      const res = await request('/health');
      return { status: res.status, body: JSON.parse(res.text) };
    };
    expect(await health()).toMatchObject({
      status: 200,
      body: {
        checks: {
          catalog: {
            status: 'up',
            breaker: 'closed',
            panic: false,
            instances: [
              { url: a!.url, healthy: true, ejected: false },
              { url: b!.url, healthy: true, ejected: false },
            ],
          },
        },
      },
    });
    await request('/products');
    await request('/products');
    expect((await health()).body.checks.catalog).toMatchObject({
      status: 'up',
      panic: false,
      instances: [{ ejected: false }, { ejected: true }],
    });
    a!.behave(reset);
    await request('/products');
    // Both ejected, both passing their health checks: they take requests all the same.
    expect(await health()).toMatchObject({
      status: 200,
      body: { checks: { catalog: { status: 'up', panic: true } } },
    });
    a!.health(503);
    b!.health(503);
    await vi.waitFor(async () => expect((await health()).body.status).toBe('degraded'), { timeout: 3_000 });
    const { status, body } = await health();
    // Reported, and the gateway stays ready: it answers catalog's requests 503 at once, and the rest.
    expect(status).toBe(200);
    expect((await request('/health/ready')).status).toBe(200);
    expect(body.checks.catalog).toMatchObject({
      status: 'down',
      error: 'no instance is available',
      required: false,
      fallback: expect.any(String),
      panic: false,
      instances: [{ healthy: false }, { healthy: false }],
    });
    expect((await request('/health/live')).status).toBe(200);
  });
});

describe('the gateway in front of a client that stops reading', () => {
  const CHUNK = Buffer.alloc(1024 * 1024, 'x');
  const CHUNKS = 64;
  /** Answers 64 MiB, more than the sockets between the processes hold, a chunk at a time as they are taken. */
  const big: Behaviour = (_req, res) => {
    res.writeHead(200, {
      'content-type': 'application/octet-stream',
      'content-length': CHUNKS * CHUNK.length,
    });
    let left = CHUNKS;
    const more = () => {
      while (left > 0) {
        left--;
        if (!res.write(CHUNK)) return void res.once('drain', more);
      }
      res.end();
    };
    more();
  };

  // Node cuts a socket whose write is stuck after twice its timeout (the first expiry only notes the
  // write queue), so each case takes some 11 s; they run side by side.
  it.concurrent.each([
    ['a read (the fast path)', 'GET /orders/big HTTP/1.1\r\nHost: shop\r\n\r\n'],
    [
      'a write (through fastify)',
      'POST /orders/big HTTP/1.1\r\nHost: shop\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}',
    ],
  ])(
    'cuts its connection once nothing moved for the connection timeout, and lets the service go: %s',
    async (_name, sent) => {
      let upstreamGone: (finished: boolean) => void = () => undefined;
      const gone = new Promise<boolean>((done) => {
        upstreamGone = done;
      });
      const upstream = await startUpstream((req, res, seen) => {
        res.once('close', () => upstreamGone(res.writableFinished));
        big(req, res, seen);
      });
      const options = gatewayOptions({
        catalog: [upstream.url],
        orders: [upstream.url],
        users: [upstream.url],
      });
      // The connection timeout is the request's time limit and 5 s more.
      const gateway = await startGateway({ ...options, edge: { ...options.edge, requestTimeoutMs: 500 } });
      const client = connect(Number(new URL(gateway.url).port), '127.0.0.1');
      try {
        client.on('error', () => undefined);
        const started = Date.now();
        client.write(sent);
        // Reads the first bytes, then nothing more: the sockets fill up and the answer stalls.
        client.once('data', () => client.pause());
        // The service's answer is broken off, not left holding a connection of the gateway's pool.
        expect(await gone).toBe(false);
        expect(Date.now() - started).toBeGreaterThanOrEqual(5_500);
        // And the client's connection was closed, after what the sockets held.
        let received = 0;
        client.on('data', (chunk: Buffer) => {
          received += chunk.length;
        });
        const closed = new Promise((done) => client.once('close', done));
        client.resume();
        await closed;
        expect(received).toBeLessThan(CHUNKS * CHUNK.length);
      } finally {
        client.destroy();
        await gateway.close();
        await upstream.close();
      }
    },
    30_000,
  );
});
