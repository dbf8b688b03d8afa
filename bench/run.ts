import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import {
  freePort,
  type ShopProcess,
  shopEnv,
  spawnShop,
  stopShop,
  TEST_ADMIN_PASSWORD,
  tempDataDir,
} from '../test/support/shop.ts';

/**
 * `npm run bench`: starts the shop as `npm start` would, seeds it, and measures start-up time, idle
 * memory, and throughput and latency of product reads and order placement under autocannon.
 * Writes bench/results/<date>.md and .json. BENCH_DURATION_SECONDS shortens or lengthens each run.
 */
const DURATION = Number(process.env.BENCH_DURATION_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const progress = (message: string) => process.stderr.write(`[bench] ${message}\n`);

interface LoadResult {
  name: string;
  rps: number;
  p50_ms: number;
  p99_ms: number;
  requests: number;
  non2xx: number;
  errors: number;
}

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return Math.round((kb / 1024) * 10) / 10;
}

async function json(baseUrl: string, method: string, path: string, body?: unknown, token?: string) {
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    headers: {
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${path} → ${res.status} ${text}`);
  return JSON.parse(text);
}

async function load(name: string, options: autocannon.Options): Promise<LoadResult> {
  progress(`${name}: ${options.connections} connections for ${options.duration} s`);
  const result = await autocannon(options);
  const row = {
    name,
    rps: Math.round(result.requests.average),
    p50_ms: result.latency.p50,
    p99_ms: result.latency.p99,
    requests: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors,
  };
  progress(`${name}: ${row.rps} req/s, p50 ${row.p50_ms} ms, p99 ${row.p99_ms} ms, non-2xx ${row.non2xx}`);
  return row;
}

async function startTimed(dataDir: string): Promise<{ shop: ShopProcess; ms: number }> {
  const started = performance.now();
  const port = String(await freePort());
  const shop = await spawnShop(
    shopEnv(dataDir, { LOG_LEVEL: 'warn', RATE_LIMIT_MAX: '100000000', PORT: port }),
  );
  return { shop, ms: Math.round(performance.now() - started) };
}

async function main(): Promise<void> {
  const dataDir = tempDataDir('splitshop-bench-');
  progress('starting the monolith on a fresh data directory');
  const first = await startTimed(dataDir);
  await stopShop(first.shop);
  const { shop, ms: startupMs } = await startTimed(dataDir);
  const base = shop.baseUrl;
  try {
    progress('seeding: 20 products, 20 customers');
    const admin = (
      await json(base, 'POST', '/auth/login', { username: 'admin', password: TEST_ADMIN_PASSWORD })
    ).access_token as string;
    const products: string[] = [];
    for (let i = 0; i < 20; i++) {
      const p = await json(
        base,
        'POST',
        '/products',
        { name: `Bench ${i}`, price: 19.99, stock: 1_000_000 },
        admin,
      );
      products.push(p.id);
    }
    const tokens: string[] = [];
    for (let i = 0; i < 20; i++) {
      const username = `bench${i}_${Date.now().toString(36)}`;
      await json(base, 'POST', '/auth/register', {
        username,
        email: `${username}@example.com`,
        password: 'bench-password',
      });
      tokens.push(
        (await json(base, 'POST', '/auth/login', { username, password: 'bench-password' })).access_token,
      );
    }
    await new Promise((r) => setTimeout(r, 2000));
    const idleRss = rssMiB(shop.child.pid!);
    progress(`idle RSS ${idleRss} MiB, start-up ${startupMs} ms`);

    let n = 0;
    const productRead = await load('GET /products/{id}', {
      url: base,
      connections: CONNECTIONS,
      duration: DURATION,
      requests: [
        {
          setupRequest: (req) => ({
            ...req,
            method: 'GET',
            path: `/products/${products[n++ % products.length]}`,
          }),
        },
      ],
    });
    const placeOrder = await load('POST /orders', {
      url: base,
      connections: CONNECTIONS,
      duration: DURATION,
      requests: [
        {
          setupRequest: (req) => {
            const i = n++;
            return {
              ...req,
              method: 'POST',
              path: '/orders',
              headers: {
                'content-type': 'application/json',
                authorization: `Bearer ${tokens[i % tokens.length]}`,
              },
              body: JSON.stringify({ product_id: products[i % products.length], quantity: 1 }),
            };
          },
        },
      ],
    });
    const peakRss = rssMiB(shop.child.pid!);
    const results = {
      date: new Date().toISOString(),
      machine: {
        cpus: cpus().length,
        cpu: cpus()[0]?.model,
        memory_gib: Math.round(totalmem() / 2 ** 30),
        node: process.version,
      },
      settings: { duration_s: DURATION, connections: CONNECTIONS },
      monolith: {
        startup_ms: startupMs,
        idle_rss_mib: idleRss,
        rss_after_load_mib: peakRss,
        loads: [productRead, placeOrder],
      },
    };
    writeResults(results);
  } finally {
    await stopShop(shop);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

function writeResults(results: {
  date: string;
  machine: Record<string, unknown>;
  settings: Record<string, unknown>;
  monolith: { startup_ms: number; idle_rss_mib: number; rss_after_load_mib: number; loads: LoadResult[] };
}): void {
  const dir = join(import.meta.dirname, 'results');
  mkdirSync(dir, { recursive: true });
  const stamp = results.date.slice(0, 10);
  writeFileSync(join(dir, `${stamp}.json`), `${JSON.stringify(results, null, 2)}\n`);
  const m = results.monolith;
  const md = [
    `# Splitshop benchmark, ${results.date}`,
    '',
    `Machine: ${results.machine.cpus} cores (${results.machine.cpu}), ${results.machine.memory_gib} GiB, Node ${results.machine.node}.`,
    `Command: \`npm run bench\` (autocannon, ${CONNECTIONS} connections, ${DURATION} s per run, client on the same machine).`,
    '',
    '| topology | workload | req/s | p50 ms | p99 ms | non-2xx |',
    '| --- | --- | ---: | ---: | ---: | ---: |',
    ...m.loads.map((l) => `| monolith | ${l.name} | ${l.rps} | ${l.p50_ms} | ${l.p99_ms} | ${l.non2xx} |`),
    '',
    `Monolith start-up (existing data, to listening): ${m.startup_ms} ms. Idle RSS: ${m.idle_rss_mib} MiB; after the load: ${m.rss_after_load_mib} MiB.`,
    '',
  ].join('\n');
  writeFileSync(join(dir, `${stamp}.md`), md);
  process.stdout.write(md);
}

await main();
