import { spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import {
  freePort,
  type ShopProcess,
  shopEnv,
  spawnShop,
  stopShop,
  TEST_ADMIN_PASSWORD,
  tempDataDir,
} from '../test/support/shop.ts';
import { type SplitShop, startSplit } from '../test/support/split.ts';
import { type LoadResult, processStats, progress, runMixAtMax, runMixAtRate, seed } from './workload.ts';

/**
 * `npm run bench`: one workload (the browse-heavy mix of workload.ts) against the monolith on SQLite and
 * against the split topology (a gateway and a process per module on Postgres and RabbitMQ) in the same
 * run, at a fixed arrival rate and at maximum throughput, with CPU seconds and peak RSS per process;
 * then the bare gateway hop against its baselines (bench/gateway-hop.ts) and orders alone beside a raw
 * server (bench/orders.ts). Writes
 * bench/results/<date>.md and .json. BENCH_DURATION_SECONDS, BENCH_CONNECTIONS, BENCH_RATE tune it.
 */
const DURATION = Number(process.env.BENCH_DURATION_SECONDS ?? 15);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const RATE = Number(process.env.BENCH_RATE ?? 200);
const WARM_UP_SECONDS = 5;

interface ProcessRow {
  process: string;
  cpu_s: number;
  peak_rss_mib: number;
  /** Proportional set size after both loads: shared pages divided among the processes sharing them. */
  pss_mib: number;
}

interface TopologyResult {
  topology: string;
  startup_ms: number;
  idle_rss_mib: number;
  idle_pss_mib: number;
  fixed: LoadResult;
  max: LoadResult;
  processes: ProcessRow[];
}

async function measure(
  topology: string,
  baseUrl: string,
  pids: ReadonlyArray<{ name: string; pid: number }>,
  startupMs: number,
): Promise<TopologyResult> {
  progress(`${topology}: seeding 20 products and 20 customers`);
  const seeded = await seed(baseUrl, TEST_ADMIN_PASSWORD);
  await new Promise((r) => setTimeout(r, 1000));
  const idleStats = pids.map((p) => processStats(p.pid));
  const idle = idleStats.reduce((sum, s) => sum + s.rss_mib, 0);
  const idlePss = idleStats.reduce((sum, s) => sum + s.pss_mib, 0);
  // Unmeasured: the first seconds after a start pay for V8 compiling the shop and pools opening
  // (a split's p99 over its first 2 s at 200 req/s was ~1 s, then ~60 ms), which is start-up, not load.
  await runMixAtRate(`${topology}, warm-up`, baseUrl, seeded, {
    rate: RATE,
    durationSeconds: WARM_UP_SECONDS,
  });
  const before = new Map(pids.map((p) => [p.name, processStats(p.pid).cpu_s]));
  const durationSeconds = DURATION;
  const fixed = await runMixAtRate(`${topology}, ${RATE} req/s`, baseUrl, seeded, {
    rate: RATE,
    durationSeconds,
  });
  const max = await runMixAtMax(`${topology}, max`, baseUrl, seeded, {
    connections: CONNECTIONS,
    durationSeconds,
  });
  const processes = pids.map((p) => {
    const stats = processStats(p.pid);
    return {
      process: p.name,
      cpu_s: Math.round((stats.cpu_s - before.get(p.name)!) * 10) / 10,
      peak_rss_mib: stats.peak_rss_mib,
      pss_mib: stats.pss_mib,
    };
  });
  return {
    topology,
    startup_ms: startupMs,
    idle_rss_mib: Math.round(idle * 10) / 10,
    idle_pss_mib: Math.round(idlePss * 10) / 10,
    fixed,
    max,
    processes,
  };
}

async function benchMonolith(): Promise<TopologyResult> {
  const dataDir = tempDataDir('splitshop-bench-');
  const env = shopEnv(dataDir, {
    LOG_LEVEL: 'warn',
    RATE_LIMIT_MAX: '100000000',
    PORT: String(await freePort()),
  });
  progress('monolith: first start on a fresh data directory');
  await stopShop(await spawnShop(env));
  const started = performance.now();
  const shop: ShopProcess = await spawnShop(env);
  const startupMs = Math.round(performance.now() - started);
  try {
    return await measure('monolith', shop.baseUrl, [{ name: 'shop', pid: shop.child.pid! }], startupMs);
  } finally {
    await stopShop(shop);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function benchSplit(): Promise<TopologyResult> {
  progress('split: starting the gateway and one process per module');
  const started = performance.now();
  const shop: SplitShop = await startSplit({ LOG_LEVEL: 'warn', RATE_LIMIT_MAX: '100000000' });
  const startupMs = Math.round(performance.now() - started);
  try {
    const pids = shop.topology.processes.map((p) => ({ name: p.name, pid: p.child.pid! }));
    return await measure('split', shop.baseUrl, pids, startupMs);
  } finally {
    await shop.stop();
  }
}

function table(results: TopologyResult[]): string {
  const [mono, split] = results as [TopologyResult, TopologyResult];
  const rows = [
    '| topology | load | req/s | p50 ms | p95 ms | p99 ms | non-2xx | errors |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const r of results) {
    for (const l of [r.fixed, r.max]) {
      rows.push(
        `| ${r.topology} | ${l.name.split(', ')[1]} | ${l.rps} | ${l.p50_ms} | ${l.p95_ms} | ${l.p99_ms} | ${l.non2xx} | ${l.errors} |`,
      );
    }
  }
  const ratio = (a: number, b: number) => (b === 0 ? 'n/a' : (a / b).toFixed(2));
  rows.push(
    '',
    `Monolith / split at maximum throughput: ${ratio(mono.max.rps, split.max.rps)}× the requests per second; p99 at ${RATE} req/s: ${mono.fixed.p99_ms} ms vs ${split.fixed.p99_ms} ms.`,
  );
  return rows.join('\n');
}

function resources(results: TopologyResult[]): string {
  const rows = [
    '| topology | process | CPU s (both loads) | peak RSS MiB | PSS MiB after the loads |',
    '| --- | --- | ---: | ---: | ---: |',
  ];
  for (const r of results) {
    for (const p of r.processes)
      rows.push(`| ${r.topology} | ${p.process} | ${p.cpu_s} | ${p.peak_rss_mib} | ${p.pss_mib} |`);
    const cpu = r.processes.reduce((s, p) => s + p.cpu_s, 0);
    const rss = r.processes.reduce((s, p) => s + p.peak_rss_mib, 0);
    const pss = r.processes.reduce((s, p) => s + p.pss_mib, 0);
    rows.push(
      `| ${r.topology} | **all** | **${cpu.toFixed(1)}** | **${rss.toFixed(1)}** | **${pss.toFixed(1)}** |`,
    );
  }
  rows.push(
    '',
    'RSS counts the pages processes share (the Node binary, some 57 MiB) once in each of them, so the sum',
    "of several processes' RSS overstates what they take; PSS shares those pages out among them.",
    '',
    ...results.map(
      (r) =>
        `${r.topology}: ready in ${r.startup_ms} ms; idle RSS ${r.idle_rss_mib} MiB in all, PSS ${r.idle_pss_mib} MiB.`,
    ),
  );
  return rows.join('\n');
}

/** The bare gateway hop against a raw server and a bare @fastify/http-proxy hop: bench/gateway-hop.ts. */
function benchGatewayHop(): Promise<string> {
  progress(
    'gateway hop: raw node:http, @fastify/http-proxy, plain undici proxy, the dispatch floor, the gateway',
  );
  // Five rounds of eight seconds rather than three of ten: on this VM one server's figure moves by 10%
  // or more from one minute to the next, and the median of more rounds moves less.
  return benchScript('gateway-hop.ts', {
    BENCH_DURATION_SECONDS: String(Math.min(DURATION, 8)),
    BENCH_ROUNDS: process.env.BENCH_ROUNDS ?? '5',
  });
}

/** Orders alone through the whole saga, beside a raw server: bench/orders.ts. */
function benchOrders(): Promise<string> {
  progress(
    'orders: POST /orders in the monolith and the split, each beside raw node:http, with what each order costs',
  );
  return benchScript('orders.ts', { BENCH_DURATION_SECONDS: String(Math.min(DURATION, 10)) });
}

/** Runs a bench script of this folder and answers what it printed. */
function benchScript(script: string, env: Record<string, string>): Promise<string> {
  return new Promise((done, fail) => {
    const child = spawn(
      process.execPath,
      ['--disable-warning=ExperimentalWarning', join(import.meta.dirname, script)],
      { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } },
    );
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.on('exit', (code) => (code === 0 ? done(out.trim()) : fail(new Error(`${script} exited ${code}`))));
  });
}

async function main(): Promise<void> {
  const results = [await benchMonolith(), await benchSplit()];
  const hop = await benchGatewayHop();
  const orders = await benchOrders();
  const date = new Date().toISOString();
  const machine = {
    cpus: cpus().length,
    cpu: cpus()[0]?.model,
    memory_gib: Math.round(totalmem() / 2 ** 30),
    node: process.version,
  };
  const md = [
    `# Splitshop benchmark, ${date}`,
    '',
    `Machine: ${machine.cpus} cores (${machine.cpu}), ${machine.memory_gib} GiB, Node ${machine.node}; load generator on the same machine.`,
    `Command: \`npm run bench\` — ${DURATION} s per load; the mix: product list 60%, product 25%, place order 10%, own orders 5%.`,
    `At ${RATE} req/s the requests are evenly spaced and sent whether or not earlier ones were answered, each timed from when it was due; at max, autocannon with ${CONNECTIONS} connections.`,
    '',
    table(results),
    '',
    resources(results),
    '',
    '## One gateway hop',
    '',
    hop,
    '',
    '## Orders alone (the write path)',
    '',
    orders,
    '',
  ].join('\n');
  const dir = join(import.meta.dirname, 'results');
  mkdirSync(dir, { recursive: true });
  const stamp = date.slice(0, 10);
  writeFileSync(
    join(dir, `${stamp}.json`),
    `${JSON.stringify({ date, machine, settings: { DURATION, CONNECTIONS, RATE }, results, gateway_hop: hop, orders }, null, 2)}\n`,
  );
  writeFileSync(join(dir, `${stamp}.md`), md);
  process.stdout.write(md);
}

await main();
