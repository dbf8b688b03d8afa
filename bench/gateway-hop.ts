import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { availableParallelism } from 'node:os';
import { createInterface } from 'node:readline';
import { createSigner } from 'fast-jwt';
import { Redis } from 'ioredis';
import pino from 'pino';
import { Pool } from 'undici';
import { createSessions } from '../src/platform/auth/sessions.ts';
import { staticInstances } from '../src/platform/discovery/instances.ts';
import { createGateway } from '../src/platform/gateway/gateway.ts';
import { createInternalAuth } from '../src/platform/rpc/identity.ts';

/**
 * One proxy hop, measured: a raw `node:http` server answering a small JSON, then the same server behind
 * a bare `@fastify/http-proxy` (skipped if that devDependency is absent), behind a plain undici pool
 * proxy, behind the cheapest proxy we can write with undici's `dispatch` (the floor: no checks at all),
 * and behind the Splitshop gateway with everything on (a real JWT verified, its session checked, rate
 * limits, identity signed, path normalization, round robin, breaker), once with its rate limits counted
 * in memory and once shared through Redis as several gateways share them (when Redis is reachable);
 * without the session check, and with an admin's token, whose session is confirmed on every request.
 * Ratios are to the first proxy measured.
 * Each server runs in its own process; autocannon runs in this one. Where `taskset` is there and the
 * machine has two cores or more, the server under test has a core to itself and the load and the
 * upstream share another, so each figure is that server's own cost, not how the scheduler shared cores
 * among three busy processes (on 2 cores that varied the ratios by ±20% from run to run).
 *
 *   node --experimental-strip-types bench/gateway-hop.ts
 *
 * BENCH_DURATION_SECONDS (default 5), BENCH_ROUNDS (default 3) and BENCH_CONNECTIONS (default 50) change
 * the load; each figure is the median of the rounds. Each server is warmed up for BENCH_WARMUP_SECONDS
 * (default 5) before its first round and for one second before each later one: with one second only, every server
 * measured slower in the first round, the gateway most (51 µs per request against 43 later), as it has
 * the most code for V8 to compile.
 */
const DURATION = Number(process.env.BENCH_DURATION_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const WARMUP = Number(process.env.BENCH_WARMUP_SECONDS ?? 5);
/** The gateway with shared rate limits counts in this Redis (BENCH_REDIS_URL), when it is reachable. */
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const JWT_SECRET = 'bench-jwt-secret-0123456789-0123456789-0123456789';
const INTERNAL_SECRET = 'bench-internal-secret-0123456789-0123456789';
const BODY = JSON.stringify({
  items: [{ id: 'p1', name: 'Kettle', price: 39.5, stock: 7 }],
  next_cursor: null,
});

type Role =
  | 'upstream'
  | 'undici-proxy'
  | 'dispatch-proxy'
  | 'http-proxy'
  | 'gateway'
  | 'gateway-redis'
  | 'gateway-no-sessions';

function listen(server: ReturnType<typeof createServer>): Promise<number> {
  return new Promise((done) =>
    server.listen(0, '127.0.0.1', () => done((server.address() as AddressInfo).port)),
  );
}

async function serveUpstream(): Promise<number> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(BODY) });
    res.end(BODY);
  });
  server.keepAliveTimeout = 60_000;
  return listen(server);
}

/** The least a proxy can do with undici: forward method, path and headers, pipe the answer back. */
async function serveUndiciProxy(target: string): Promise<number> {
  const pool = new Pool(target, { connections: 128, pipelining: 1 });
  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    try {
      const { statusCode, headers, body } = await pool.request({
        method: req.method as 'GET',
        path: req.url ?? '/',
        headers: { accept: req.headers.accept ?? '*/*' },
      });
      res.writeHead(statusCode, headers as Record<string, string>);
      body.pipe(res);
    } catch {
      res.writeHead(502).end();
    }
  });
  server.keepAliveTimeout = 60_000;
  return listen(server);
}

/**
 * The floor: the cheapest proxy we know how to write on `node:http` and undici, with no checks at all.
 * It forwards method and path through undici's `dispatch` (no body stream), gathers the answer and
 * ends the response with it in one write, as the gateway's fast path does.
 */
async function serveDispatchProxy(target: string): Promise<number> {
  const pool = new Pool(target, { connections: 128, pipelining: 1 });
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    let status = 0;
    let headers: Record<string, string | string[] | undefined> = {};
    pool.dispatch(
      { method: req.method as 'GET', path: req.url ?? '/', headers: { accept: req.headers.accept ?? '*/*' } },
      {
        onRequestStart() {},
        onResponseStart(_controller, statusCode, answerHeaders) {
          status = statusCode;
          headers = answerHeaders;
        },
        onResponseData(_controller, chunk) {
          chunks.push(chunk);
        },
        onResponseEnd() {
          delete headers.connection;
          delete headers['keep-alive'];
          res.writeHead(status, headers);
          res.end(Buffer.concat(chunks).toString('latin1'), 'latin1');
        },
        onResponseError() {
          res.writeHead(502).end();
        },
      },
    );
  });
  server.keepAliveTimeout = 60_000;
  return listen(server);
}

async function serveHttpProxy(target: string): Promise<number> {
  const { default: Fastify } = await import('fastify');
  const { default: proxy } = await import('@fastify/http-proxy');
  const app = Fastify({ logger: false });
  await app.register(proxy, { upstream: target });
  await app.listen({ port: 0, host: '127.0.0.1' });
  return (app.server.address() as AddressInfo).port;
}

/**
 * The gateway with everything on. Sessions are read, as the split reads them from the users service,
 * by an HTTP call (to the upstream, standing in for users): a customer's from the cache after its first
 * request, an admin's on every one. `sessions: false` is the gateway before sessions, to price them.
 */
async function serveGateway(
  target: string,
  options: { redis?: Redis; sessions?: false } = {},
): Promise<number> {
  const users = new Pool(target, { connections: 16 });
  const source = async (userId: string) => {
    const { body } = await users.request({ method: 'GET', path: `/internal/users/${userId}/session` });
    await body.text();
    return { role: userId === 'bench-admin' ? ('admin' as const) : ('customer' as const), version: 0 };
  };
  const app = await createGateway({
    ...(options.redis ? { redis: options.redis } : {}),
    log: pino({ level: 'warn' }),
    edge: {
      bodyLimitBytes: 1_048_576,
      requestTimeoutMs: 30_000,
      auth: {
        secret: JWT_SECRET,
        ttlSeconds: 900,
        issuer: 'splitshop',
        audience: 'splitshop-api',
        clockSkewSeconds: 30,
        ...(options.sessions === false
          ? {}
          : { sessions: createSessions({ source, log: pino({ level: 'warn' }) }) }),
      },
      rateLimit: { max: 1_000_000_000, windowSeconds: 60 },
    },
    routes: [
      { prefix: '/products', service: 'catalog' },
      { prefix: '/orders', service: 'orders' },
    ],
    services: { catalog: staticInstances([target]), orders: staticInstances([target]) },
    internalAuth: createInternalAuth(INTERNAL_SECRET),
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  return (app.server.address() as AddressInfo).port;
}

async function child(role: Role, target: string): Promise<void> {
  const serve = {
    upstream: serveUpstream,
    'undici-proxy': serveUndiciProxy,
    'dispatch-proxy': serveDispatchProxy,
    'http-proxy': serveHttpProxy,
  };
  const port =
    role === 'gateway'
      ? await serveGateway(target)
      : role === 'gateway-no-sessions'
        ? await serveGateway(target, { sessions: false })
        : role === 'gateway-redis'
          ? await serveGateway(target, {
              redis: new Redis(REDIS_URL, { keyPrefix: `bench:${process.pid}:` }),
            })
          : await serve[role](target);
  // A clean exit, so `--cpu-prof` can write its profile.
  process.once('SIGTERM', () => process.exit(0));
  process.stdout.write(`READY ${port}\n`);
}

interface Started {
  readonly url: string;
  readonly pid: number;
  stop(): void;
}

/** CPU seconds (user + system) a process has used so far, from /proc; undefined where there is none. */
function cpuSeconds(pid: number): number | undefined {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    // utime and stime, fields 14 and 15 of stat(5), in clock ticks of 1/100 s on Linux.
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

/** `taskset`, when it is there and there are two cores to give out; else nothing is pinned. */
const PINNING = availableParallelism() >= 2 && spawnSync('taskset', ['-p', String(process.pid)]).status === 0;
/** The core of the server under test; the load (this process) and the upstream share core 0. */
const coreOf = (role: Role) => (role === 'upstream' ? '0' : '1');

function start(role: Role, target = ''): Promise<Started> {
  const args = [
    '--experimental-strip-types',
    '--disable-warning=ExperimentalWarning',
    import.meta.filename,
    role,
    target,
  ];
  const proc = PINNING
    ? spawn('taskset', ['-c', coreOf(role), process.execPath, ...args], {
        stdio: ['ignore', 'pipe', 'inherit'],
      })
    : spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((done, fail) => {
    proc.once('exit', (code) => fail(new Error(`${role} exited with ${code}`)));
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      const match = /^READY (\d+)$/.exec(line);
      if (match)
        done({ url: `http://127.0.0.1:${match[1]}`, pid: proc.pid!, stop: () => proc.kill('SIGTERM') });
    });
  });
}

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

async function redisReachable(): Promise<boolean> {
  const redis = new Redis(REDIS_URL, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    await redis.ping();
    return true;
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

interface Measured {
  readonly rps: number;
  /** CPU microseconds the server under test spent per request; undefined without /proc. */
  readonly cpuMicros: number | undefined;
}

async function measure(target: Target, warmupSeconds: number): Promise<Measured> {
  const { name, url, headers = {}, pid } = target;
  // Imported here, so the server processes do not load it.
  const { default: autocannon } = await import('autocannon');
  const run = (duration: number) =>
    autocannon({ url, connections: CONNECTIONS, duration, headers, pipelining: 1 });
  await run(warmupSeconds);
  const cpuBefore = cpuSeconds(pid);
  const result = await run(DURATION);
  const cpuAfter = cpuSeconds(pid);
  if (result.non2xx > 0 || result.errors > 0)
    throw new Error(`${name}: ${result.non2xx} non-2xx answers, ${result.errors} errors`);
  const rps = Math.round(result.requests.average);
  const cpuMicros =
    cpuBefore === undefined || cpuAfter === undefined
      ? undefined
      : Math.round(((cpuAfter - cpuBefore) * 1e6) / result.requests.total);
  process.stderr.write(
    `[bench] ${name}: ${rps} req/s, p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms, ${cpuMicros ?? '?'} µs CPU per request\n`,
  );
  return { rps, cpuMicros };
}

async function httpProxyInstalled(): Promise<boolean> {
  try {
    import.meta.resolve('@fastify/http-proxy');
    return true;
  } catch {
    return false;
  }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

interface Target {
  readonly name: string;
  readonly url: string;
  /** The process serving `url`, whose CPU time is measured. */
  readonly pid: number;
  readonly headers?: Record<string, string>;
  readonly runs: Measured[];
}

async function main(): Promise<void> {
  if (PINNING) spawnSync('taskset', ['-a', '-p', '-c', '0', String(process.pid)]);
  process.stderr.write(
    PINNING
      ? '[bench] each server under test on core 1; the load and the upstream on core 0\n'
      : '[bench] taskset is not there (or one core): nothing is pinned\n',
  );
  const upstream = await start('upstream');
  const stops = [upstream.stop];
  try {
    const targets: Target[] = [
      { name: 'raw node:http', url: `${upstream.url}/orders`, pid: upstream.pid, runs: [] },
    ];
    const names = {
      'http-proxy': '@fastify/http-proxy',
      'undici-proxy': 'plain undici proxy',
      'dispatch-proxy': 'floor: undici dispatch',
    };
    for (const role of ['http-proxy', 'undici-proxy', 'dispatch-proxy'] as const) {
      if (role === 'http-proxy' && !(await httpProxyInstalled())) continue;
      const server = await start(role, upstream.url);
      stops.push(server.stop);
      const name = names[role];
      targets.push({ name, url: `${server.url}/orders`, pid: server.pid, runs: [] });
    }
    const gateway = await start('gateway', upstream.url);
    stops.push(gateway.stop);
    const sign = createSigner({
      key: JWT_SECRET,
      algorithm: 'HS256',
      expiresIn: 3_600_000,
      iss: 'splitshop',
      aud: 'splitshop-api',
    });
    const authorization = `Bearer ${sign({ sub: 'bench-user', role: 'customer', ver: 0 })}`;
    const bare = await start('gateway-no-sessions', upstream.url);
    stops.push(bare.stop);
    targets.push(
      {
        name: 'gateway, no session check',
        url: `${bare.url}/v1/orders`,
        pid: bare.pid,
        headers: { authorization },
        runs: [],
      },
      {
        name: 'gateway, local rate limits',
        url: `${gateway.url}/v1/orders`,
        pid: gateway.pid,
        headers: { authorization },
        runs: [],
      },
      {
        name: 'gateway, admin confirmed',
        url: `${gateway.url}/v1/orders`,
        pid: gateway.pid,
        headers: { authorization: `Bearer ${sign({ sub: 'bench-admin', role: 'admin', ver: 0 })}` },
        runs: [],
      },
    );
    if (await redisReachable()) {
      const shared = await start('gateway-redis', upstream.url);
      stops.push(shared.stop);
      targets.push({
        name: 'gateway, limits in Redis',
        url: `${shared.url}/v1/orders`,
        pid: shared.pid,
        headers: { authorization },
        runs: [],
      });
    } else process.stderr.write('[bench] Redis is not reachable: the shared-limit gateway is skipped\n');
    targets.push({
      name: 'gateway, cached product list',
      url: `${gateway.url}/v1/products`,
      pid: gateway.pid,
      runs: [],
    });
    // Rounds in turn, so a machine that gets busier or quieter weighs on every target alike.
    for (let round = 0; round < ROUNDS; round++) {
      for (const target of targets) target.runs.push(await measure(target, round === 0 ? WARMUP : 1));
    }

    const rpsOf = (target: Target) => median(target.runs.map((run) => run.rps));
    const cpuOf = (target: Target) => {
      const known = target.runs.flatMap((run) => (run.cpuMicros === undefined ? [] : [run.cpuMicros]));
      return known.length === 0 ? undefined : median(known);
    };
    const raw = rpsOf(targets[0]!);
    const baseline = targets[1]!;
    const rows = targets.map((target) => {
      const rps = rpsOf(target);
      const cpu = cpuOf(target);
      const baseCpu = cpuOf(baseline);
      const cpuRatio = cpu === undefined || baseCpu === undefined ? '?' : (baseCpu / cpu).toFixed(2);
      // Each round's ratio to the baseline measured in the same round, a few seconds apart: the spread
      // the machine's noise gives the median beside it.
      const ratios = target.runs.map((run, i) => run.rps / baseline.runs[i]!.rps);
      const spread = `${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}`;
      return `| ${target.name.padEnd(28)} | ${String(rps).padStart(6)} | ${(rps / raw).toFixed(2)} | ${(rps / rpsOf(baseline)).toFixed(2)} | ${spread} | ${cpu ?? '?'} | ${cpuRatio} |`;
    });
    console.log(
      [
        '',
        `Median of ${ROUNDS} rounds of ${DURATION} s, ${CONNECTIONS} connections, one process per server` +
          (PINNING ? ', the server under test alone on a core;' : ';'),
        "CPU is the server process's user + system time over the requests it answered.",
        '',
        `| hop                          |  req/s | × raw | × ${baseline.name} | per round | CPU µs/request | CPU efficiency × ${baseline.name} |`,
        '| ---------------------------- | -----: | ----: | ----: | ----: | ----: | ----: |',
        ...rows,
        '',
      ].join('\n'),
    );
  } finally {
    for (const stop of stops) stop();
  }
}

const [role, target] = process.argv.slice(2) as [Role | undefined, string | undefined];
if (role) await child(role, target ?? '');
else await main();
