import { randomUUID } from 'node:crypto';
import { Agent, request } from 'undici';

/** The service a public route belongs to, as the gateway routes it. */
export type Target = 'catalog' | 'orders' | 'users' | 'payments' | 'notifications';

/** One request of the load and how it ended; `status` 0 when no answer came at all. */
export interface Outcome {
  readonly target: Target;
  readonly method: string;
  readonly path: string;
  /** Sent as `X-Request-Id`; the gateway passes it on, so services log it. */
  readonly requestId: string;
  readonly startedAt: number;
  readonly endedAt: number;
  readonly status: number;
  /** The problem document's `code`, for an error answer that was one. */
  readonly code?: string;
  /** Whether an error answer was an RFC 9457 problem document. */
  readonly problem?: boolean;
  /** The id of a placed order, acknowledged when `status` is 201. */
  readonly orderId?: string;
  /** A product a write created, by its unique name. */
  readonly productName?: string;
}

export interface LoadOptions {
  readonly baseUrl: string;
  /** Tokens of the customers who place orders and read their own data, used in turn. */
  readonly customers: readonly string[];
  /** The products orders are placed for and reads ask about. */
  readonly productIds: readonly string[];
  readonly ordersPerSecond: number;
  /** Reads spread over every service: products (most), the customer, orders, payments, notifications. */
  readonly readsPerSecond: number;
  /** Non-idempotent admin writes to catalog (new products with no stock), when an admin token is given. */
  readonly adminToken?: string;
  readonly writesPerSecond?: number;
  /** A share of orders placed with a card that is declined, so sagas compensate too; default 0.1. */
  readonly declinedShare?: number;
}

export interface LoadSummary {
  readonly requests: number;
  readonly seconds: number;
  readonly rps: number;
  readonly p99Ms: number;
  readonly errors5xx: number;
  /** Requests that got no answer at all (the gateway itself never went away). */
  readonly unanswered: number;
  readonly byStatus: Readonly<Record<number, number>>;
}

export interface Load {
  readonly outcomes: readonly Outcome[];
  /** Stops sending and waits for the requests in flight; `resume` starts again. */
  pause(): Promise<void>;
  resume(): void;
  /** How long the load has run, without its pauses. */
  readonly activeSeconds: number;
  /** Requests that were due while too many were in flight, and so were not sent. */
  readonly skipped: number;
  /** Ids of the orders answered 201 so far. */
  acknowledgedOrderIds(): string[];
  /** The outcomes that started in [from, to). */
  between(from: number, to?: number): Outcome[];
  close(): Promise<void>;
}

const TICK_MS = 10;
/** More requests in flight than this means the shop is stuck; the load stops piling on. */
const MAX_IN_FLIGHT = 400;

/** Figures of `outcomes`; `activeSeconds` is how long the load ran, without its pauses (default: first to last). */
export function summarize(outcomes: readonly Outcome[], activeSeconds?: number): LoadSummary {
  const byStatus: Record<number, number> = {};
  for (const o of outcomes) byStatus[o.status] = (byStatus[o.status] ?? 0) + 1;
  const latencies = outcomes.map((o) => o.endedAt - o.startedAt).sort((a, b) => a - b);
  let first = Number.POSITIVE_INFINITY;
  let last = 0;
  for (const o of outcomes) {
    first = Math.min(first, o.startedAt);
    last = Math.max(last, o.endedAt);
  }
  const seconds = activeSeconds ?? (outcomes.length === 0 ? 0 : (last - first) / 1000);
  return {
    requests: outcomes.length,
    seconds: Math.round(seconds),
    rps: seconds === 0 ? 0 : Math.round(outcomes.length / seconds),
    p99Ms: latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * 0.99))] ?? 0,
    errors5xx: outcomes.filter((o) => o.status >= 500).length,
    unanswered: byStatus[0] ?? 0,
    byStatus,
  };
}

/**
 * An open-loop load on the gateway: requests start on a fixed schedule whether or not earlier ones
 * have answered (a closed loop would slow down with the shop and hide its stalls). Every request has
 * its own `X-Request-Id`, and every outcome is kept, so a test can judge any window of it.
 */
export function startLoad(options: LoadOptions): Load {
  const agent = new Agent({ connections: 256, keepAliveTimeout: 10_000 });
  const outcomes: Outcome[] = [];
  const inFlight = new Set<Promise<void>>();
  /** Recent placed orders and who placed them, for reads of their payments. */
  const recentOrders: Array<{ orderId: string; token: string }> = [];
  let timer: NodeJS.Timeout | undefined;
  let sequence = 0;
  let skipped = 0;
  let activeMs = 0;
  let resumedAt = 0;

  async function send(
    target: Target,
    method: 'GET' | 'POST',
    path: string,
    token: string | undefined,
    body?: unknown,
    productName?: string,
  ): Promise<void> {
    const requestId = `load-${randomUUID()}`;
    const startedAt = Date.now();
    let status = 0;
    let parsed: Record<string, unknown> | undefined;
    let problem: boolean | undefined;
    try {
      const res = await request(new URL(path, options.baseUrl), {
        method,
        dispatcher: agent,
        headers: {
          'x-request-id': requestId,
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        headersTimeout: 60_000,
        bodyTimeout: 60_000,
      });
      status = res.statusCode;
      const text = await res.body.text();
      const type = String(res.headers['content-type'] ?? '');
      if (status >= 400) problem = type.startsWith('application/problem+json');
      if (type.includes('json') && text !== '') parsed = JSON.parse(text) as Record<string, unknown>;
    } catch {
      status = 0;
    }
    const orderId =
      target === 'orders' && method === 'POST'
        ? ((parsed?.id ?? parsed?.order_id) as string | undefined)
        : undefined;
    if (orderId !== undefined && status === 201 && token !== undefined) {
      recentOrders.push({ orderId, token });
      if (recentOrders.length > 50) recentOrders.shift();
    }
    outcomes.push({
      target,
      method,
      path,
      requestId,
      startedAt,
      endedAt: Date.now(),
      status,
      ...(status >= 400 && typeof parsed?.code === 'string' ? { code: parsed.code } : {}),
      ...(problem === undefined ? {} : { problem }),
      ...(orderId === undefined ? {} : { orderId }),
      ...(productName === undefined ? {} : { productName }),
    });
  }

  const pick = <T>(list: readonly T[]): T => list[Math.floor(Math.random() * list.length)]!;

  function placeOrder(): Promise<void> {
    const declined = Math.random() < (options.declinedShare ?? 0.1);
    return send('orders', 'POST', '/orders', pick(options.customers), {
      items: [{ product_id: pick(options.productIds), quantity: 1 + Math.floor(Math.random() * 3) }],
      payment_method: declined ? 'pm_card_chargeDeclined' : 'pm_card_visa',
    });
  }

  function read(n: number): Promise<void> {
    const token = pick(options.customers);
    const placed = recentOrders.length > 0 ? pick(recentOrders) : undefined;
    // Mostly product reads (the edge cache serves many), and every other service now and then.
    switch (n % 10) {
      case 0:
        return send('users', 'GET', '/users/me', token);
      case 1:
        return send('notifications', 'GET', '/notifications?limit=5', token);
      case 2:
        // The payments of one's own order, once there is one.
        return placed
          ? send('payments', 'GET', `/payments?order_id=${placed.orderId}`, placed.token)
          : send('orders', 'GET', '/orders?limit=5', token);
      case 3:
        return send('orders', 'GET', '/orders?limit=5', token);
      case 4:
      case 5:
      case 6:
        return send('catalog', 'GET', `/products/${pick(options.productIds)}`, undefined);
      default:
        return send('catalog', 'GET', '/products?limit=20', undefined);
    }
  }

  function write(): Promise<void> {
    const name = `infra-probe ${randomUUID()}`;
    return send('catalog', 'POST', '/products', options.adminToken, { name, price: 1, stock: 0 }, name);
  }

  function track(work: Promise<void>): void {
    inFlight.add(work);
    void work.finally(() => inFlight.delete(work));
  }

  function resume(): void {
    if (timer !== undefined) return;
    const began = Date.now();
    resumedAt = began;
    let orders = 0;
    let reads = 0;
    let writes = 0;
    timer = setInterval(() => {
      const elapsed = (Date.now() - began) / 1000;
      // Requests due while the cap is reached are skipped, not sent in a burst later.
      const due = (sent: number, rate: number, start: () => Promise<void>) => {
        let next = sent;
        for (; next < elapsed * rate; next++) {
          if (inFlight.size < MAX_IN_FLIGHT) track(start());
          else skipped++;
        }
        return next;
      };
      orders = due(orders, options.ordersPerSecond, placeOrder);
      reads = due(reads, options.readsPerSecond, () => read(sequence++));
      writes = due(writes, options.adminToken ? (options.writesPerSecond ?? 0) : 0, write);
    }, TICK_MS);
  }

  async function pause(): Promise<void> {
    if (timer !== undefined) {
      clearInterval(timer);
      activeMs += Date.now() - resumedAt;
    }
    timer = undefined;
    while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
  }

  resume();
  return {
    outcomes,
    get activeSeconds() {
      return (activeMs + (timer === undefined ? 0 : Date.now() - resumedAt)) / 1000;
    },
    get skipped() {
      return skipped;
    },
    pause,
    resume,
    acknowledgedOrderIds: () => outcomes.flatMap((o) => (o.status === 201 && o.orderId ? [o.orderId] : [])),
    between: (from, to = Number.POSITIVE_INFINITY) =>
      outcomes.filter((o) => o.startedAt >= from && o.startedAt < to),
    async close() {
      await pause();
      await agent.close();
    },
  };
}
