import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import autocannon from 'autocannon';
import {
  freePort,
  shopEnv,
  spawnShop,
  stopShop,
  TEST_ADMIN_PASSWORD,
  tempDataDir,
} from '../test/support/shop.ts';
import { progress, seed } from './workload.ts';

/**
 * The write path, measured: `POST /orders` through the whole saga in the monolith (every module on
 * SQLite, money and stock `synchronous=FULL`), beside a raw `node:http` server answering a 220-byte
 * JSON in the same run, as ratios to it. With what each order costs, counted from what ran: CPU of the
 * shop's process, COMMITs and write transactions (from its metrics), fsyncs (strace, in a separate
 * counting phase, since tracing slows the process), and the event loop's delay under the load.
 *
 *   node --experimental-strip-types bench/orders.ts
 *
 * BENCH_DURATION_SECONDS (default 10), BENCH_CONNECTIONS (32) and BENCH_ROUNDS (3); figures are
 * medians of the rounds, with each round's ratio to the raw server beside them.
 */
const DURATION = Number(process.env.BENCH_DURATION_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const COUNTED_ORDERS = 400;
const BODY = JSON.stringify({
  id: '01JEXAMPLE0000000000000000',
  status: 'confirmed',
  items: [{ product_id: '01JPRODUCT000000000000000', quantity: 1, unit_price: 19.99 }],
  total: 19.99,
  created_at: '2026-12-07T00:00:00.000Z',
});

interface Load {
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  requests: number;
}

/** CPU seconds (user + system) a process has used, from /proc. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function load(options: autocannon.Options): Promise<Load> {
  const result = await new Promise<autocannon.Result>((done, fail) =>
    autocannon({ connections: CONNECTIONS, duration: DURATION, ...options }, (err, res) =>
      err ? fail(err) : done(res),
    ),
  );
  return {
    rps: Math.round(result.requests.average),
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    requests: result.requests.total,
  };
}

/** The metrics the shop serves, as name{labels} → value. */
async function scrape(url: string | undefined): Promise<Map<string, number>> {
  if (url === undefined) return new Map();
  const text = await (await fetch(url)).text();
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    values.set(line.slice(0, at).replace(/,?process="[^"]*"/, ''), Number(line.slice(at + 1)));
  }
  return values;
}

const total = (metrics: Map<string, number>, name: string) =>
  metrics.size === 0
    ? Number.NaN
    : [...metrics].filter(([key]) => key.startsWith(`${name}{`)).reduce((sum, [, v]) => sum + v, 0);

async function serveRaw(): Promise<void> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(BODY) });
    res.end(BODY);
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () =>
    process.stdout.write(`READY ${(server.address() as AddressInfo).port}\n`),
  );
}

function startRaw(): Promise<{ url: string; stop(): void }> {
  const child = spawn(
    process.execPath,
    ['--disable-warning=ExperimentalWarning', import.meta.filename, 'raw'],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  return new Promise((done, fail) => {
    child.once('exit', (code) => fail(new Error(`raw server exited with ${code}`)));
    child.stdout!.once('data', (chunk: Buffer) => {
      const port = /READY (\d+)/.exec(chunk.toString())?.[1];
      done({ url: `http://127.0.0.1:${port}/`, stop: () => child.kill('SIGTERM') });
    });
  });
}

/** fsync and fdatasync calls of `pid` while `work` runs, by strace; undefined without strace. */
async function countSyncs(pid: number, work: () => Promise<void>): Promise<number | undefined> {
  if (spawnSync('strace', ['-V']).status !== 0) return undefined;
  const trace = spawn('strace', ['-f', '-c', '-e', 'trace=fsync,fdatasync', '-p', String(pid)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let summary = '';
  trace.stderr!.on('data', (chunk: Buffer) => {
    summary += chunk.toString();
  });
  await new Promise((done) => setTimeout(done, 500));
  await work();
  const ended = new Promise((done) => trace.once('exit', done));
  trace.kill('SIGINT');
  await ended;
  if (process.env.BENCH_SHOW_STRACE) process.stderr.write(summary);
  // strace -c's table: % time, seconds, usecs/call, calls, [errors,] syscall.
  const calls = (name: string) =>
    summary
      .split('\n')
      .map((line) => line.trim().split(/\s+/))
      .filter((cols) => cols.at(-1) === name)
      .reduce((sum, cols) => sum + Number(cols[3]), 0);
  return calls('fsync') + calls('fdatasync');
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function main(): Promise<void> {
  const raw = await startRaw();
  const dataDir = tempDataDir('splitshop-bench-orders-');
  // Ports chosen here: at LOG_LEVEL=warn the shop does not log where it listens.
  const [port, metricsPort] = [await freePort(), await freePort()];
  const shop = await spawnShop(
    shopEnv(dataDir, {
      LOG_LEVEL: 'warn',
      PORT: String(port),
      RATE_LIMIT_MAX: '100000000',
      METRICS_PORT: String(metricsPort),
    }),
  );
  try {
    // A shop without metrics (an older commit, to compare) is measured without its counts.
    const metricsUrl = (await fetch(`http://127.0.0.1:${metricsPort}/metrics`).then(
      (res) => res.ok,
      () => false,
    ))
      ? `http://127.0.0.1:${metricsPort}/metrics`
      : undefined;
    progress('seeding 20 products and 20 customers');
    const seeded = await seed(shop.baseUrl, TEST_ADMIN_PASSWORD);
    let n = 0;
    const order = () => {
      const i = n++;
      return {
        method: 'POST' as const,
        path: '/v1/orders',
        headers: {
          authorization: `Bearer ${seeded.tokens[i % seeded.tokens.length]}`,
          'content-type': 'application/json',
        },
        body: JSON.stringify({ product_id: seeded.products[i % seeded.products.length], quantity: 1 }),
      };
    };
    // Warm both up, so the first round does not pay for V8 compiling the shop.
    await load({ url: raw.url, duration: 2 });
    await load({
      url: shop.baseUrl,
      duration: 3,
      requests: [{ setupRequest: (req) => ({ ...req, ...order() }) }],
    });

    const rounds: Array<{
      raw: Load;
      orders: Load;
      cpuMs: number;
      commits: number;
      units: number;
      loopP99: number;
    }> = [];
    for (let round = 0; round < ROUNDS; round++) {
      const rawLoad = await load({ url: raw.url });
      progress(`round ${round + 1}: raw node:http ${rawLoad.rps} req/s`);
      const before = await scrape(metricsUrl);
      const cpuBefore = cpuSeconds(shop.child.pid!);
      const orders = await load({
        url: shop.baseUrl,
        requests: [{ setupRequest: (req) => ({ ...req, ...order() }) }],
      });
      const cpu = cpuSeconds(shop.child.pid!) - cpuBefore;
      const after = await scrape(metricsUrl);
      const delta = (name: string) => total(after, name) - total(before, name);
      const placed = Math.max(1, orders.requests - orders.non2xx);
      const row = {
        raw: rawLoad,
        orders,
        cpuMs: (cpu * 1000) / placed,
        commits: delta('splitshop_db_commits_total') / placed,
        units: delta('splitshop_db_units_total') / placed,
        loopP99: total(after, 'nodejs_eventloop_lag_p99_seconds') * 1000,
      };
      rounds.push(row);
      progress(
        `round ${round + 1}: ${orders.rps} orders/s (${(orders.rps / rawLoad.rps).toFixed(3)}× raw), p50 ${orders.p50} ms, p99 ${orders.p99} ms, non-2xx ${orders.non2xx}, ${row.cpuMs.toFixed(2)} ms CPU, ${row.commits.toFixed(2)} COMMITs and ${row.units.toFixed(2)} transactions per order, event loop p99 ${row.loopP99.toFixed(1)} ms`,
      );
    }

    progress(`counting fsyncs over ${COUNTED_ORDERS} orders, 16 in flight, under strace`);
    const syncs = await countSyncs(shop.child.pid!, async () => {
      await new Promise<void>((done, fail) =>
        autocannon(
          {
            url: shop.baseUrl,
            connections: 16,
            amount: COUNTED_ORDERS,
            requests: [{ setupRequest: (req) => ({ ...req, ...order() }) }],
          },
          (err) => (err ? fail(err) : done()),
        ),
      );
    });

    const ratios = rounds.map((r) => r.orders.rps / r.raw.rps);
    const pick = (f: (r: (typeof rounds)[number]) => number) => median(rounds.map(f));
    console.log(
      [
        '',
        `Median of ${ROUNDS} rounds of ${DURATION} s, ${CONNECTIONS} connections; the monolith on a fresh data directory.`,
        '',
        '| load | req/s | × raw node:http | per round | p50 ms | p99 ms | non-2xx |',
        '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
        `| raw \`node:http\`, 220-byte JSON | ${pick((r) => r.raw.rps)} | 1.00 | | ${pick((r) => r.raw.p50)} | ${pick((r) => r.raw.p99)} | 0 |`,
        `| \`POST /v1/orders\` (the saga) | ${pick((r) => r.orders.rps)} | ${median(ratios).toFixed(3)} | ${Math.min(...ratios).toFixed(3)}–${Math.max(...ratios).toFixed(3)} | ${pick((r) => r.orders.p50)} | ${pick((r) => r.orders.p99)} | ${rounds.reduce((s, r) => s + r.orders.non2xx, 0)} |`,
        '',
        `Per order: ${pick((r) => r.cpuMs).toFixed(2)} ms of the shop's CPU; ${pick((r) => r.commits).toFixed(2)} COMMITs for ${pick((r) => r.units).toFixed(2)} write transactions; ` +
          (syncs === undefined
            ? 'fsyncs not counted (no strace); '
            : `${(syncs / COUNTED_ORDERS).toFixed(2)} fsyncs (strace, ${COUNTED_ORDERS} orders at 16 in flight); `) +
          `event loop delay p99 ${pick((r) => r.loopP99).toFixed(1)} ms under the load.`,
        '',
      ].join('\n'),
    );
  } finally {
    await stopShop(shop);
    raw.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (process.argv[2] === 'raw') await serveRaw();
else await main();
