import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import autocannon from 'autocannon';
import pg from 'pg';
import { split } from '../src/bootstrap/topology.ts';
import {
  freePort,
  freePortRun,
  shopEnv,
  spawnShop,
  stopShop,
  TEST_ADMIN_PASSWORD,
  tempDataDir,
} from '../test/support/shop.ts';
import { POSTGRES_URL, startSplit } from '../test/support/split.ts';
import { progress, seed } from './workload.ts';

/**
 * The write path, measured: `POST /orders` through the whole saga, in the monolith (every module on
 * SQLite, money and stock durable as `synchronous=FULL`) and in the split (Postgres, RabbitMQ, through
 * the gateway), each beside a raw `node:http` server answering a 220-byte JSON in the same run, as
 * ratios to it. With what each order costs, counted from what ran: CPU of every process; in the
 * monolith COMMITs and write transactions (its metrics) and fsyncs (strace, in a separate phase, since
 * tracing slows the process); in the split commits (pg_stat_database), round trips to Postgres (each
 * process's metrics) and WAL syncs (pg_stat_wal); and the event loop's delay p99 under the load.
 *
 *   node --experimental-strip-types bench/orders.ts
 *
 * BENCH_DURATION_SECONDS (default 10), BENCH_CONNECTIONS (32), BENCH_ROUNDS (3) and BENCH_TOPOLOGIES
 * (`monolith,split`); figures are medians of the rounds, with each round's ratio to the raw server.
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

/** A shop under test: where it listens, its processes and their metrics, and its Postgres databases. */
interface Target {
  name: string;
  baseUrl: string;
  pids: number[];
  metricsUrls: string[];
  /** Each process's name, in the order of `pids` and `metricsUrls`. */
  processNames: string[];
  /** Postgres database names, for the server's own counts; none on SQLite. */
  postgres: string[];
  stop(): Promise<void>;
}

async function startMonolith(): Promise<Target> {
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
  // A shop without metrics (an older commit, to compare) is measured without its counts.
  const url = `http://127.0.0.1:${metricsPort}/metrics`;
  const served = await fetch(url).then(
    (res) => res.ok,
    () => false,
  );
  return {
    name: 'monolith (SQLite)',
    baseUrl: shop.baseUrl,
    pids: [shop.child.pid!],
    processNames: ['shop'],
    metricsUrls: served ? [url] : [],
    postgres: [],
    async stop() {
      await stopShop(shop);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function startSplitShop(): Promise<Target> {
  const processes = Object.values(split.processes).reduce((n, p) => n + (p.instances ?? 1), 0);
  const shop = await startSplit({
    LOG_LEVEL: 'warn',
    RATE_LIMIT_MAX: '100000000',
    METRICS_PORT: String(await freePortRun(processes)),
  });
  return {
    name: 'split (Postgres, RabbitMQ)',
    baseUrl: shop.baseUrl,
    pids: shop.topology.processes.map((p) => p.child.pid!),
    processNames: shop.topology.processes.map((p) => p.name),
    metricsUrls: shop.topology.processes.flatMap((p) => (p.metricsUrl ? [p.metricsUrl] : [])),
    postgres: Object.values(shop.databases).map((url) => new URL(url).pathname.slice(1)),
    stop: () => shop.stop(),
  };
}

/** The server's own counts for these databases: transactions committed, and WAL syncs (cluster-wide). */
async function postgresCounts(names: string[]): Promise<{ commits: number; walSyncs: number }> {
  if (names.length === 0) return { commits: Number.NaN, walSyncs: Number.NaN };
  const client = new pg.Client({ connectionString: `${POSTGRES_URL}/postgres` });
  await client.connect();
  try {
    // A backend reports its counts at most once a second: wait for the load's to arrive.
    await new Promise((done) => setTimeout(done, 1_500));
    const commits = await client.query<{ n: string }>(
      'select coalesce(sum(xact_commit), 0) as n from pg_stat_database where datname = any($1)',
      [names],
    );
    const wal = await client.query<{ n: string }>('select wal_sync as n from pg_stat_wal');
    return { commits: Number(commits.rows[0]!.n), walSyncs: Number(wal.rows[0]!.n) };
  } finally {
    await client.end();
  }
}

interface Round {
  raw: Load;
  orders: Load;
  cpuMs: number;
  commits: number;
  units: number;
  roundTrips: number;
  walSyncs: number;
  loopP99: number;
  loopP99Process: string;
}

async function measure(target: Target, raw: { url: string }): Promise<string[]> {
  progress(`${target.name}: seeding 20 products and 20 customers`);
  const seeded = await seed(target.baseUrl, TEST_ADMIN_PASSWORD);
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
  const orders = (options: autocannon.Options) =>
    load({ requests: [{ setupRequest: (req) => ({ ...req, ...order() }) }], ...options });
  // Warm both up, so the first round does not pay for V8 compiling the shop.
  await load({ url: raw.url, duration: 2 });
  await orders({ url: target.baseUrl, duration: 3 });

  const scrapeAll = async () => Promise.all(target.metricsUrls.map((url) => scrape(url)));
  const sum = (all: Array<Map<string, number>>, name: string) =>
    target.metricsUrls.length === 0 ? Number.NaN : all.reduce((s, m) => s + total(m, name), 0);
  const rounds: Round[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const rawLoad = await load({ url: raw.url });
    progress(`round ${round + 1}: raw node:http ${rawLoad.rps} req/s`);
    const [before, pgBefore] = [await scrapeAll(), await postgresCounts(target.postgres)];
    const cpuBefore = target.pids.reduce((s, pid) => s + cpuSeconds(pid), 0);
    const placedLoad = await orders({ url: target.baseUrl });
    const cpu = target.pids.reduce((s, pid) => s + cpuSeconds(pid), 0) - cpuBefore;
    const after = await scrapeAll();
    const pgAfter = await postgresCounts(target.postgres);
    const placed = Math.max(1, placedLoad.requests - placedLoad.non2xx);
    const delta = (name: string) => sum(after, name) - sum(before, name);
    const loops = after.map((m) => total(m, 'nodejs_eventloop_lag_p99_seconds') * 1000);
    const worst = loops.indexOf(Math.max(...loops));
    const row: Round = {
      raw: rawLoad,
      orders: placedLoad,
      cpuMs: (cpu * 1000) / placed,
      commits:
        target.postgres.length > 0
          ? (pgAfter.commits - pgBefore.commits) / placed
          : delta('splitshop_db_commits_total') / placed,
      units: delta('splitshop_db_units_total') / placed,
      roundTrips: delta('splitshop_db_round_trips_total') / placed,
      walSyncs: (pgAfter.walSyncs - pgBefore.walSyncs) / placed,
      loopP99: loops[worst] ?? Number.NaN,
      loopP99Process: target.pids.length > 1 ? ` (${target.processNames[worst]})` : '',
    };
    rounds.push(row);
    progress(
      `round ${round + 1}: ${placedLoad.rps} orders/s (${(placedLoad.rps / rawLoad.rps).toFixed(3)}× raw), p50 ${placedLoad.p50} ms, p99 ${placedLoad.p99} ms, non-2xx ${placedLoad.non2xx}, ${row.cpuMs.toFixed(2)} ms CPU and ${row.commits.toFixed(2)} commits per order, event loop p99 ${row.loopP99.toFixed(1)} ms${row.loopP99Process}`,
    );
  }

  const ratios = rounds.map((r) => r.orders.rps / r.raw.rps);
  const pick = (f: (r: Round) => number) => median(rounds.map(f));
  const fixed = (x: number) => x.toFixed(2);
  let work: string;
  if (target.postgres.length > 0) {
    work = `${fixed(pick((r) => r.commits))} commits (pg_stat_database), ${fixed(pick((r) => r.roundTrips))} round trips to Postgres, ${fixed(pick((r) => r.walSyncs))} WAL syncs (pg_stat_wal)`;
  } else {
    progress(`counting fsyncs over ${COUNTED_ORDERS} orders, 16 in flight, under strace`);
    const syncs = await countSyncs(target.pids[0]!, async () => {
      await new Promise<void>((done, fail) =>
        autocannon(
          {
            url: target.baseUrl,
            connections: 16,
            amount: COUNTED_ORDERS,
            requests: [{ setupRequest: (req) => ({ ...req, ...order() }) }],
          },
          (err) => (err ? fail(err) : done()),
        ),
      );
    });
    work =
      `${fixed(pick((r) => r.commits))} COMMITs for ${fixed(pick((r) => r.units))} write transactions, ` +
      (syncs === undefined
        ? 'fsyncs not counted (no strace)'
        : `${fixed(syncs / COUNTED_ORDERS)} fsyncs (strace, ${COUNTED_ORDERS} orders at 16 in flight)`);
  }
  const p99 = rounds.map((r) => r.loopP99);
  return [
    `| ${target.name}: raw \`node:http\` beside it | ${pick((r) => r.raw.rps)} | 1.00 | | ${pick((r) => r.raw.p50)} | ${pick((r) => r.raw.p99)} | 0 |`,
    `| ${target.name}: \`POST /v1/orders\` (the saga) | ${pick((r) => r.orders.rps)} | ${median(ratios).toFixed(3)} | ${Math.min(...ratios).toFixed(3)}–${Math.max(...ratios).toFixed(3)} | ${pick((r) => r.orders.p50)} | ${pick((r) => r.orders.p99)} | ${rounds.reduce((s, r) => s + r.orders.non2xx, 0)} |`,
    `Per order in the ${target.name}: ${fixed(pick((r) => r.cpuMs))} ms of CPU (all its processes); ${work}; event loop delay p99 ${median(p99).toFixed(1)} ms (${Math.min(...p99).toFixed(1)}–${Math.max(...p99).toFixed(1)} over rounds)${rounds[0]!.loopP99Process ? ', in the process where it was worst' : ''}.`,
  ];
}

async function main(): Promise<void> {
  const raw = await startRaw();
  const topologies = (process.env.BENCH_TOPOLOGIES ?? 'monolith,split').split(',');
  const lines: string[][] = [];
  try {
    for (const name of topologies) {
      const target = name === 'split' ? await startSplitShop() : await startMonolith();
      try {
        lines.push(await measure(target, raw));
      } finally {
        await target.stop();
      }
    }
  } finally {
    raw.stop();
  }
  console.log(
    [
      '',
      `Median of ${ROUNDS} rounds of ${DURATION} s, ${CONNECTIONS} connections, each round's orders right after a raw round; each shop on fresh databases.`,
      '',
      '| load | req/s | × raw node:http | per round | p50 ms | p99 ms | non-2xx |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
      ...lines.flatMap((l) => l.slice(0, 2)),
      '',
      ...lines.map((l) => l[2]!),
      '',
    ].join('\n'),
  );
}

if (process.argv[2] === 'raw') await serveRaw();
else await main();
