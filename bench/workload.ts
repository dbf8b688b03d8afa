import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';

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

/** One request of the mix, drawn by weight; a deterministic sequence so both topologies see the same. */
function mixedRequest(seeded: Seeded) {
  let n = 0;
  return (req: autocannon.Request): autocannon.Request => {
    const i = n++;
    const draw = (i * 7919) % 100;
    const product = seeded.products[i % seeded.products.length];
    const token = seeded.tokens[i % seeded.tokens.length];
    const auth = { authorization: `Bearer ${token}` };
    if (draw < 60) return { ...req, method: 'GET', path: '/products?limit=20', headers: {} };
    if (draw < 85) return { ...req, method: 'GET', path: `/products/${product}`, headers: {} };
    if (draw < 95) {
      return {
        ...req,
        method: 'POST',
        path: '/orders',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({ product_id: product, quantity: 1 }),
      };
    }
    return { ...req, method: 'GET', path: '/orders?limit=10', headers: auth };
  };
}

/** Runs the mix at `rate` requests per second in total, or as fast as it goes when `rate` is undefined. */
export async function runMix(
  name: string,
  baseUrl: string,
  seeded: Seeded,
  options: { connections: number; durationSeconds: number; rate?: number },
): Promise<LoadResult> {
  progress(
    `${name}: ${options.connections} connections, ${options.durationSeconds} s, ${options.rate ?? 'max'} req/s`,
  );
  const latencies: number[] = [];
  const result = await new Promise<autocannon.Result>((done, fail) => {
    const instance = autocannon(
      {
        url: baseUrl,
        connections: options.connections,
        duration: options.durationSeconds,
        ...(options.rate ? { overallRate: options.rate } : {}),
        requests: [{ setupRequest: mixedRequest(seeded) }],
      },
      (err, res) => (err ? fail(err) : done(res)),
    );
    instance.on('response', (_client, _status, _bytes, responseTime) => latencies.push(responseTime));
  });
  latencies.sort((a, b) => a - b);
  const at = (q: number) =>
    Math.round((latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0) * 10) / 10;
  const row: LoadResult = {
    name,
    rps: Math.round(result.requests.average),
    p50_ms: at(0.5),
    p95_ms: at(0.95),
    p99_ms: at(0.99),
    requests: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors,
  };
  progress(`${name}: ${row.rps} req/s, p50 ${row.p50_ms} ms, p99 ${row.p99_ms} ms, non-2xx ${row.non2xx}`);
  return row;
}

/** CPU seconds used so far and peak resident memory of a process, from /proc. */
export function processStats(pid: number): { cpu_s: number; peak_rss_mib: number; rss_mib: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return {
    cpu_s: Math.round((ticks / 100) * 10) / 10,
    peak_rss_mib: Math.round(kib('VmHWM') / 102.4) / 10,
    rss_mib: Math.round(kib('VmRSS') / 102.4) / 10,
  };
}
