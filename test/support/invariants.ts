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
 * IMPLEMENTATION PENDING (issue 4): the signature below is the contract the fault suites code against.
 */
export interface InvariantExpectations {
  /** Ids of the orders the clients saw acknowledged (201). */
  readonly acknowledgedOrderIds: readonly string[];
  /** The stock each product the test created started with. */
  readonly initialStock: Readonly<Record<string, number>>;
  /** Messages the test dead-lettered on purpose (poison), per queue name; default none. */
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

export async function checkInvariants(
  _shop: Pick<ShopHandle, 'databases' | 'amqp'>,
  _expect: InvariantExpectations,
): Promise<InvariantReport> {
  throw new Error('checkInvariants: not implemented yet');
}
