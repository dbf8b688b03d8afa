import { setTimeout as sleep } from 'node:timers/promises';
import { amqpNames } from '../../src/platform/events/amqp-topology.ts';
import { type Observed, observeShop } from './invariants-read.ts';
import type { ShopHandle } from './shop.ts';

/**
 * The invariant check every fault suite runs after its faults: it reads every module's database (and,
 * when events travel over AMQP, the broker) directly, never through the API it is checking.
 *
 * - every acknowledged order (a 201 the client saw) is present, and every order is in a terminal state;
 * - charges − refunds = the totals of confirmed and shipped orders, per order and overall;
 * - initial stock − stock held by live (confirmed, shipped) orders = current stock, per product;
 * - exactly one notification per notifying event;
 * - every committed event was applied exactly once by each consumer (inboxes hold no duplicates, and
 *   none is missing), the outbox is empty or draining, and nothing is stuck in a queue or a dead-letter
 *   queue (unless `expectDeadLetters` says how many the test put there on purpose).
 *
 * It polls until every invariant holds or `settleTimeoutMs` has passed, and returns the last report.
 */
export interface InvariantExpectations {
  /** Ids of the orders the clients saw acknowledged (201). */
  readonly acknowledgedOrderIds: readonly string[];
  /** The stock each product the test created started with. */
  readonly initialStock: Readonly<Record<string, number>>;
  /**
   * Messages the test dead-lettered on purpose (poison), per queue name: a consumer's dead-letter queue
   * (`<namespace>.<consumer>.dead`), or `outbox.<module>` for the rows an outbox set aside (the
   * in-memory bus dead-letters there). Committed events that many may be missing from that consumer's
   * inbox. Default none.
   */
  readonly expectDeadLetters?: Readonly<Record<string, number>>;
  /** How long to wait for sagas, relays and queues to settle before judging; default 60 s. */
  readonly settleTimeoutMs?: number;
}

export interface InvariantReport {
  readonly acknowledged: number;
  readonly present: number;
  readonly eventsCommitted: number;
  readonly appliedOnce: number;
  /** Every broken invariant, in words; empty when the books balance. */
  readonly violations: readonly string[];
}

/**
 * The durable consumers of events, the types each subscribes to, and the types whose effect is one
 * notification. `invariants.test.ts` keeps this in step with the modules' own subscriptions.
 */
export const CONSUMERS: Readonly<Record<string, { types: readonly string[]; notifying: readonly string[] }>> =
  {
    notifications: {
      types: [
        'users.user_registered',
        'users.user_updated',
        'orders.order_confirmed',
        'orders.order_cancelled',
        'orders.order_shipped',
      ],
      notifying: [
        'users.user_registered',
        'orders.order_confirmed',
        'orders.order_cancelled',
        'orders.order_shipped',
      ],
    },
  };

const TERMINAL = new Set(['confirmed', 'cancelled', 'shipped']);
const LIVE = new Set(['confirmed', 'shipped']);
/** Lines per broken invariant: the first few say what is wrong, the count says how much. */
const SHOWN = 8;

export async function checkInvariants(
  shop: Pick<ShopHandle, 'databases' | 'amqp'>,
  expect: InvariantExpectations,
): Promise<InvariantReport> {
  const observer = observeShop(shop, Object.keys(CONSUMERS));
  const deadline = Date.now() + (expect.settleTimeoutMs ?? 60_000);
  try {
    for (;;) {
      const report = judge(await observer.observe(), expect, shop.amqp?.namespace);
      if (report.violations.length === 0 || Date.now() >= deadline) return report;
      await sleep(250);
    }
  } finally {
    await observer.close();
  }
}

/** Broken invariants, each a heading and the lines that say where. */
type Findings = Array<[heading: string, lines: string[]]>;

/** The report on one observation. */
export function judge(seen: Observed, expect: InvariantExpectations, namespace?: string): InvariantReport {
  const orders = new Map(seen.orders.map((o) => [o.id, o]));
  const missing = expect.acknowledgedOrderIds.filter((id) => !orders.has(id) || !seen.orderStreams.has(id));
  const dead = expect.expectDeadLetters ?? {};
  const events = eventFindings(seen, dead, namespace);
  const findings: Findings = [
    ['acknowledged orders missing', missing],
    [
      'orders not in a terminal state',
      seen.orders.filter((o) => !TERMINAL.has(o.status)).map((o) => `${o.id} is ${o.status}`),
    ],
    [
      'sagas still running',
      seen.sagas.filter((s) => s.status !== 'done').map((s) => `saga of order ${s.order_id}`),
    ],
    ['books do not balance', booksFindings(seen, orders)],
    ['stock does not add up', stockFindings(seen, expect.initialStock)],
    ...events.findings,
    [
      'messages left in queues',
      [...seen.queues]
        .filter(([q, n]) => n !== (dead[q] ?? 0))
        .map(([q, n]) => `${q}: ${n}, expected ${dead[q] ?? 0}`),
    ],
  ];
  const violations: string[] = [];
  for (const [heading, lines] of findings) {
    if (lines.length === 0) continue;
    violations.push(`${heading} (${lines.length}):`, ...lines.slice(0, SHOWN).map((l) => `  ${l}`));
    if (lines.length > SHOWN) violations.push(`  … and ${lines.length - SHOWN} more`);
  }
  return {
    acknowledged: expect.acknowledgedOrderIds.length,
    present: expect.acknowledgedOrderIds.length - missing.length,
    eventsCommitted: events.committed,
    appliedOnce: events.appliedOnce,
    violations,
  };
}

/** Per order, what was charged minus what was refunded is what a live order costs; and overall. */
function booksFindings(seen: Observed, orders: ReadonlyMap<string, Observed['orders'][number]>): string[] {
  const net = new Map<string, { charged: number; refunded: number; charges: number }>();
  for (const p of seen.payments) {
    if (p.status !== 'succeeded') continue;
    const n = net.get(p.order_id) ?? { charged: 0, refunded: 0, charges: 0 };
    if (p.kind === 'charge') {
      n.charged += p.amount_minor;
      n.charges += 1;
    } else n.refunded += p.amount_minor;
    net.set(p.order_id, n);
  }
  const lines: string[] = [];
  let netTotal = 0;
  let liveTotal = 0;
  for (const id of new Set([...orders.keys(), ...net.keys()])) {
    const order = orders.get(id);
    const n = net.get(id) ?? { charged: 0, refunded: 0, charges: 0 };
    const owed = order && LIVE.has(order.status) ? (order.total_minor ?? 0) : 0;
    netTotal += n.charged - n.refunded;
    liveTotal += owed;
    if (n.charged - n.refunded !== owed || n.charges > 1) {
      lines.push(
        `order ${id} (${order?.status ?? 'absent'}, owes ${owed}): ${n.charges} charge(s) ${n.charged} − refunds ${n.refunded} = ${n.charged - n.refunded}`,
      );
    }
  }
  if (netTotal !== liveTotal)
    lines.push(`overall: charges − refunds = ${netTotal}, live orders total ${liveTotal}`);
  return lines;
}

/** Initial stock − stock held by live orders = current stock, for each product the test created. */
function stockFindings(seen: Observed, initialStock: Readonly<Record<string, number>>): string[] {
  const held = new Map<string, number>();
  for (const o of seen.orders) {
    if (!LIVE.has(o.status)) continue;
    for (const item of JSON.parse(o.items) as Array<{ product_id: string; quantity: number }>) {
      held.set(item.product_id, (held.get(item.product_id) ?? 0) + item.quantity);
    }
  }
  const stock = new Map(seen.products.map((p) => [p.id, Number(p.stock)]));
  return Object.entries(initialStock).flatMap(([id, initial]) => {
    const want = initial - (held.get(id) ?? 0);
    const have = stock.get(id);
    return have === want
      ? []
      : [
          `product ${id}: initial ${initial} − held ${held.get(id) ?? 0} = ${want}, stock ${have ?? 'absent'}`,
        ];
  });
}

/**
 * Outboxes drained, and every committed event a consumer subscribes to in its inbox once, with one
 * notification when it notifies; dead letters only where the test put them.
 */
function eventFindings(seen: Observed, dead: Readonly<Record<string, number>>, namespace?: string) {
  const findings: Findings = [
    [
      'outbox not drained',
      seen.outbox
        .filter((r) => r.sent_at === null && r.dead_at === null)
        .map((r) => `${r.module}: ${r.type} ${r.event_id}`),
    ],
  ];
  const outboxDead = new Map<string, number>();
  for (const r of seen.outbox)
    if (r.dead_at !== null) outboxDead.set(r.module, (outboxDead.get(r.module) ?? 0) + 1);
  findings.push([
    'outbox dead letters',
    [...outboxDead]
      .filter(([m, n]) => n !== (dead[`outbox.${m}`] ?? 0))
      .map(([m, n]) => `${m}: ${n}, expected ${dead[`outbox.${m}`] ?? 0}`),
  ]);

  let committed = 0;
  let appliedOnce = 0;
  const names = amqpNames(namespace);
  const notified = new Map<string, number>();
  for (const n of seen.notifications) notified.set(n.event_id, (notified.get(n.event_id) ?? 0) + 1);
  const notifying = new Set<string>();
  // Events dead-lettered on purpose were committed but are not applied.
  const deadInOutboxes = Object.entries(dead).reduce(
    (sum, [q, n]) => sum + (q.startsWith('outbox.') ? n : 0),
    0,
  );
  for (const [consumer, { types, notifying: notifyingTypes }] of Object.entries(CONSUMERS)) {
    const handled = new Map<string, number>();
    for (const id of seen.inbox.get(consumer) ?? []) handled.set(id, (handled.get(id) ?? 0) + 1);
    const never: string[] = [];
    const otherwise: string[] = [];
    for (const event of seen.outbox) {
      if (!types.includes(event.type)) continue;
      committed += 1;
      const times = handled.get(event.event_id) ?? 0;
      const notifies = notifyingTypes.includes(event.type);
      if (notifies) notifying.add(event.event_id);
      const effects = notified.get(event.event_id) ?? 0;
      const line = `${event.module}: ${event.type} ${event.event_id} in the inbox ${times}×${notifies ? `, ${effects} notification(s)` : ''}`;
      if (times === 1 && (!notifies || effects === 1)) appliedOnce += 1;
      else if (times === 0 && effects === 0) never.push(line);
      else otherwise.push(line);
    }
    const allowed = (dead[names.deadQueue(consumer)] ?? 0) + deadInOutboxes;
    findings.push([`committed events ${consumer} never applied`, never.length > allowed ? never : []]);
    findings.push([`committed events ${consumer} applied other than once`, otherwise]);
  }
  findings.push([
    'notifications for no committed notifying event',
    seen.notifications
      .filter((n) => !notifying.has(n.event_id))
      .map((n) => `notification ${n.id} for event ${n.event_id}`),
  ]);
  return { findings, committed, appliedOnce };
}
