import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';
import { Agent, request } from 'undici';

/** The browse-heavy mix every topology is measured with. */
export const MIX = [
  { kind: 'list products', weight: 60 },
  { kind: 'get product', weight: 25 },
  { kind: 'place order', weight: 10 },
  { kind: 'own orders', weight: 5 },
] as const;

export interface Seeded {
  readonly products: readonly string[];
  readonly tokens: readonly string[];
}

export interface LoadResult {
  readonly name: string;
  readonly rps: number;
  readonly p50_ms: number;
  readonly p95_ms: number;
  readonly p99_ms: number;
  readonly requests: number;
  readonly non2xx: number;
  readonly errors: number;
}

export const progress = (message: string) => process.stderr.write(`[bench] ${message}\n`);

async function call(baseUrl: string, method: string, path: string, body?: unknown, token?: string) {
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

/** Products with ample stock and customers with tokens, created through the public API. */
export async function seed(baseUrl: string, adminPassword: string, count = 20): Promise<Seeded> {
  const admin = (await call(baseUrl, 'POST', '/auth/login', { username: 'admin', password: adminPassword }))
    .access_token as string;
  const products: string[] = [];
  for (let i = 0; i < count; i++) {
    const p = await call(
      baseUrl,
      'POST',
      '/products',
      { name: `Bench ${i}`, price: 19.99, stock: 1_000_000 },
      admin,
    );
    products.push(p.id);
  }
  const tokens: string[] = [];
  for (let i = 0; i < count; i++) {
    const username = `bench${i}_${Date.now().toString(36)}`;
    await call(baseUrl, 'POST', '/auth/register', {
      username,
      email: `${username}@example.com`,
      password: 'bench-password',
    });
    tokens.push(
      (await call(baseUrl, 'POST', '/auth/login', { username, password: 'bench-password' })).access_token,
    );
  }
  return { products, tokens };
}

/** One request of the mix. */
interface MixRequest {
  readonly method: 'GET' | 'POST';
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body?: string;
}

/** Request `i` of the mix, drawn by weight; a deterministic sequence so both topologies see the same. */
function mixRequest(seeded: Seeded, i: number): MixRequest {
  const draw = (i * 7919) % 100;
  const product = seeded.products[i % seeded.products.length];
  const token = seeded.tokens[i % seeded.tokens.length];
  const auth = { authorization: `Bearer ${token}` };
  if (draw < 60) return { method: 'GET', path: '/products?limit=20', headers: {} };
  if (draw < 85) return { method: 'GET', path: `/products/${product}`, headers: {} };
  if (draw < 95) {
    return {
      method: 'POST',
      path: '/orders',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ product_id: product, quantity: 1 }),
    };
  }
  return { method: 'GET', path: '/orders?limit=10', headers: auth };
}

function percentiles(name: string, latencies: number[], rest: Omit<LoadResult, 'name' | `p${string}_ms`>) {
  latencies.sort((a, b) => a - b);
  const at = (q: number) =>
    Math.round((latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0) * 10) / 10;
  const row: LoadResult = { name, ...rest, p50_ms: at(0.5), p95_ms: at(0.95), p99_ms: at(0.99) };
  progress(`${name}: ${row.rps} req/s, p50 ${row.p50_ms} ms, p99 ${row.p99_ms} ms, non-2xx ${row.non2xx}`);
  return row;
}

/** The mix as fast as it goes, from `connections` connections each sending its next request on an answer. */
export async function runMixAtMax(
  name: string,
  baseUrl: string,
  seeded: Seeded,
  options: { connections: number; durationSeconds: number },
): Promise<LoadResult> {
  progress(`${name}: ${options.connections} connections, ${options.durationSeconds} s, as fast as it goes`);
  const latencies: number[] = [];
  let n = 0;
  const result = await new Promise<autocannon.Result>((done, fail) => {
    const instance = autocannon(
      {
        url: baseUrl,
        connections: options.connections,
        duration: options.durationSeconds,
        requests: [{ setupRequest: (req) => ({ ...req, ...mixRequest(seeded, n++) }) }],
      },
      (err, res) => (err ? fail(err) : done(res)),
    );
    instance.on('response', (_client, _status, _bytes, responseTime) => latencies.push(responseTime));
  });
  return percentiles(name, latencies, {
    rps: Math.round(result.requests.average),
    requests: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors,
  });
}

/**
 * The mix at a fixed arrival rate: request `i` is due at `i / rate` seconds, is sent then whether or not
 * earlier ones have been answered, and its latency counts from when it was due, so a server that
 * stalls is charged for the requests waiting behind the stall (no coordinated omission, as in wrk2).
 * autocannon's `overallRate` is not this: it is a quota per second that each connection spends as fast
 * as it can when the second starts, so every second began with a burst of the whole quota (with it, the
 * split's p95 at 200 req/s read 127 ms where evenly spaced requests see 17 ms).
 */
export async function runMixAtRate(
  name: string,
  baseUrl: string,
  seeded: Seeded,
  options: { rate: number; durationSeconds: number },
): Promise<LoadResult> {
  progress(`${name}: ${options.rate} req/s evenly spaced, ${options.durationSeconds} s`);
  // Enough connections that a slow server, not the client, is what makes requests wait.
  const agent = new Agent({ connections: 256, keepAliveTimeout: 30_000 });
  const total = Math.round(options.rate * options.durationSeconds);
  const latencies: number[] = [];
  let non2xx = 0;
  let errors = 0;
  const answers: Promise<void>[] = [];
  const start = performance.now();
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / options.rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const { method, path, headers, body } = mixRequest(seeded, i);
    answers.push(
      request(`${baseUrl}${path}`, { method, headers, body, dispatcher: agent }).then(
        async (res) => {
          await res.body.dump();
          latencies.push(performance.now() - due);
          if (res.statusCode < 200 || res.statusCode >= 300) non2xx++;
        },
        () => {
          errors++;
        },
      ),
    );
  }
  await Promise.all(answers);
  const seconds = (performance.now() - start) / 1000;
  await agent.close();
  return percentiles(name, latencies, {
    rps: Math.round(latencies.length / seconds),
    requests: latencies.length,
    non2xx,
    errors,
  });
}

/** CPU seconds used so far and peak resident memory of a process, from /proc. */
export function processStats(pid: number): {
  cpu_s: number;
  peak_rss_mib: number;
  rss_mib: number;
  pss_mib: number;
} {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (text: string, key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(text)?.[1] ?? 0);
  const mib = (k: number) => Math.round(k / 102.4) / 10;
  // RSS counts pages shared with other processes (the Node binary's code, some 57 MiB) in each of them;
  // PSS gives each process its share, so the PSS of several processes adds up to what they take.
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  return {
    cpu_s: Math.round((ticks / 100) * 10) / 10,
    peak_rss_mib: mib(kib(status, 'VmHWM')),
    rss_mib: mib(kib(status, 'VmRSS')),
    pss_mib: mib(kib(rollup, 'Pss')),
  };
}
