import { afterEach, describe, expect, it, vi } from 'vitest';
import { ORDER_TIMEOUT } from './events.ts';
import { findSaga, loadEvents, takeLease } from './repository.ts';
import {
  charge,
  expectConsistentBooks,
  ID,
  none,
  placed,
  reserved,
  seed,
  statusOf,
  system,
} from './saga-fixtures.ts';
import { chargeKey, refundKey } from './saga-steps.ts';
import { createGate, createHarness, FAKE_TIMERS, type Harness, PRODUCTS } from './test-support.ts';

const harnesses: Harness[] = [];
async function harness(options: Parameters<typeof createHarness>[0] = {}): Promise<Harness> {
  const h = await createHarness(options);
  harnesses.push(h);
  return h;
}
afterEach(async () => {
  vi.useRealTimers();
  for (const h of harnesses.splice(0).reverse()) await h.close();
});

describe('the saga runner', () => {
  it('places an order: reserve, charge, confirm, each outcome appended before the next step', async () => {
    const h = await harness();
    await seed(h, [placed()]);
    expect(await h.runner.advance(ID, system)).toMatchObject({
      outcome: 'done',
      state: { status: 'confirmed' },
    });
    expect((await loadEvents(h.db, ID)).map((e) => e.type)).toEqual([
      'OrderPlaced',
      'StockReserved',
      'PaymentCharged',
      'OrderConfirmed',
    ]);
    expect(h.journal).toEqual(['reserveStock', 'charge']);
    expect(h.payments.charges.get(chargeKey(ID))).toMatchObject({ amount_minor: 2598, order_id: ID });
    expect(await findSaga(h.db, ID)).toMatchObject({ status: 'done', lease_until: null });
    await expectConsistentBooks(h);
  });

  it('records a step with the steps after it that call no participant, in one transaction', async () => {
    // The clock moves a millisecond at every reading, and an append reads it once: one time, one transaction.
    let now = Date.parse('2030-01-01T00:00:00Z');
    const clock = {
      now: () => {
        now += 1;
        return new Date(now);
      },
    };
    const h = await harness({ clock });
    await seed(h, [placed()]);
    await h.runner.advance(ID, system);
    const times = (await loadEvents(h.db, ID)).map((e) => [e.type, e.occurred_at]);
    expect(times[2]![1]).toBe(times[3]![1]);
    expect(new Set(times.map(([, at]) => at)).size).toBe(3);
    expect(times.map(([type]) => type)).toEqual([
      'OrderPlaced',
      'StockReserved',
      'PaymentCharged',
      'OrderConfirmed',
    ]);

    const declined = await harness({ clock });
    await seed(declined, [placed('pm_card_chargeDeclined')]);
    await declined.runner.advance(ID, system);
    const events = await loadEvents(declined.db, ID);
    expect(events.map((e) => e.type)).toEqual([
      'OrderPlaced',
      'StockReserved',
      'PaymentDeclined',
      'StockReleased',
      'OrderCancelled',
    ]);
    // The decline is recorded before the release, the release with the cancellation.
    expect(events[2]!.occurred_at).not.toBe(events[3]!.occurred_at);
    expect(events[3]!.occurred_at).toBe(events[4]!.occurred_at);
  });

  it('runs the saga on the lease its creator took with OrderPlaced, which keeps other runners away', async () => {
    const h = await harness();
    await h.store.append(ID, none, [placed()], { keepLease: true });
    const other = await harness({ database: h.database, catalog: h.catalog, payments: h.payments });
    expect(await other.runner.advance(ID, system)).toEqual({ outcome: 'busy' });
    expect(await h.runner.advance(ID, system, { leased: true })).toMatchObject({
      outcome: 'done',
      state: { status: 'confirmed' },
    });
    expect(h.journal).toEqual(['reserveStock', 'charge']);
    expect(await findSaga(h.db, ID)).toMatchObject({ status: 'done', lease_until: null });
  });

  it('out of stock: cancelled at once, and no charge is attempted', async () => {
    const h = await harness({ products: { lamp: { price_minor: 1299, stock: 1 } } });
    await seed(h, [placed()]);
    await h.runner.advance(ID, system);
    expect(await statusOf(h)).toMatchObject({ status: 'cancelled', cancel_reason: 'OUT_OF_STOCK' });
    expect(h.payments.behaviour.charge.calls).toBe(0);
    expect(h.catalog.behaviour.releaseStock.calls).toBe(0);
  });

  it('declined: the stock is released and the order cancelled with PAYMENT_DECLINED', async () => {
    const h = await harness();
    await seed(h, [placed('pm_card_chargeDeclined')]);
    await h.runner.advance(ID, system);
    expect(await statusOf(h)).toMatchObject({ status: 'cancelled', cancel_reason: 'PAYMENT_DECLINED' });
    expect(h.journal).toEqual(['reserveStock', 'charge', 'releaseStock']);
    await expectConsistentBooks(h);
  });

  it('a transient charge failure is retried by the sweep, with backoff, until it succeeds: one charge', async () => {
    vi.useFakeTimers(FAKE_TIMERS);
    const h = await harness({ sweepIntervalMs: 1_000 });
    await seed(h, [placed()]);
    h.payments.behaviour.charge.fail = 3;
    await h.runner.start();
    const failed = await findSaga(h.db, ID);
    expect(failed).toMatchObject({ status: 'running', attempts: 1, lease_until: null });
    expect(failed?.last_error).toMatch(/unavailable/);
    expect(failed!.next_attempt_at).toBeGreaterThan(Date.now());
    await vi.advanceTimersByTimeAsync(5_000);
    expect(await statusOf(h)).toMatchObject({ status: 'confirmed' });
    expect(h.payments.behaviour.charge.calls).toBe(4);
    expect(h.payments.charges.size).toBe(1);
    expect(await findSaga(h.db, ID)).toMatchObject({ status: 'done', attempts: 3, last_error: null });
  });

  it('a charge whose answer was lost is asked again by its key: still one charge', async () => {
    const h = await harness();
    await seed(h, [placed()]);
    h.payments.behaviour.charge.lose = 1;
    expect((await h.runner.advance(ID, system)).outcome).toBe('waiting');
    expect((await h.runner.advance(ID, system)).outcome).toBe('done');
    expect(h.payments.behaviour.charge.calls).toBe(2);
    expect(h.payments.charges.size).toBe(1);
    await expectConsistentBooks(h);
  });

  it('compensation is retried until it succeeds', async () => {
    vi.useFakeTimers(FAKE_TIMERS);
    const h = await harness({ sweepIntervalMs: 500 });
    await seed(h, [placed('pm_card_chargeDeclined')]);
    h.catalog.behaviour.releaseStock.fail = 4;
    await h.runner.start();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(await statusOf(h)).toMatchObject({ status: 'cancelled', cancel_reason: 'PAYMENT_DECLINED' });
    expect(h.catalog.behaviour.releaseStock.calls).toBe(5);
    await expectConsistentBooks(h);
  });
});

describe('the saga deadline', () => {
  it('past the deadline without a charge it refunds (refunding a charge whose answer was lost), releases, cancels', async () => {
    vi.useFakeTimers(FAKE_TIMERS);
    const h = await harness({ deadlineMs: 2_000, sweepIntervalMs: 500 });
    await seed(h, [placed()]);
    // The first charge goes through but its answer is lost; then payments is down.
    h.payments.behaviour.charge.lose = 1;
    h.payments.behaviour.charge.fail = 1_000;
    await h.runner.start();
    await vi.advanceTimersByTimeAsync(5_000);
    const state = await statusOf(h);
    expect(state).toMatchObject({ status: 'cancelled', cancel_reason: 'ORDER_TIMEOUT' });
    expect(state?.cancelled).toEqual(ORDER_TIMEOUT);
    expect(h.payments.refunds.get(refundKey(ID))).toMatchObject({ amount_minor: 2598 });
    expect((await loadEvents(h.db, ID)).slice(-3).map((e) => e.type)).toEqual([
      'PaymentRefunded',
      'StockReleased',
      'OrderCancelled',
    ]);
    await expectConsistentBooks(h);
  });

  it('a saga that has charged goes forward even past its deadline', async () => {
    let now = Date.parse('2030-01-01T00:00:00Z');
    const h = await harness({ deadlineMs: 1_000, clock: { now: () => new Date(now) } });
    await h.catalog.reserveStock(system, {
      reservation_id: ID,
      items: [{ product_id: 'lamp', quantity: 2 }],
    });
    const payment = await h.payments.charge(system, {
      ...charge,
      idempotency_key: chargeKey(ID),
      payment_method: 'pm_card_visa',
    });
    await seed(h, [
      placed(),
      reserved,
      { type: 'PaymentCharged', data: { payment_id: payment.id, amount_minor: 2598 } },
    ]);
    now += 60_000;
    await h.runner.recover();
    expect(await statusOf(h)).toMatchObject({ status: 'confirmed' });
    expect(h.payments.behaviour.refund.calls).toBe(0);
    await expectConsistentBooks(h);
  });
});

describe('one runner per saga', () => {
  it('in one process, a second advance joins the first', async () => {
    const h = await harness();
    await seed(h, [placed()]);
    const gate = createGate();
    h.catalog.behaviour.reserveStock.gate = gate.promise;
    const first = h.runner.advance(ID, system);
    const second = h.runner.advance(ID, system);
    expect(second).toBe(first);
    gate.open();
    await first;
    expect(h.catalog.behaviour.reserveStock.calls).toBe(1);
  });

  it('across processes, the lease holder runs it and the other stays away', async () => {
    const a = await harness();
    await seed(a, [placed()]);
    const b = await harness({ database: a.database, catalog: a.catalog, payments: a.payments });
    const gate = createGate();
    a.catalog.behaviour.reserveStock.gate = gate.promise;
    const running = a.runner.advance(ID, system);
    await expect.poll(() => a.catalog.behaviour.reserveStock.calls).toBe(1);
    expect(await b.runner.advance(ID, system)).toEqual({ outcome: 'busy' });
    gate.open();
    expect((await running).outcome).toBe('done');
    expect(a.catalog.behaviour.reserveStock.calls).toBe(1);
    expect(a.payments.behaviour.charge.calls).toBe(1);
  });

  it('the lease of a process that died expires, and the sweep takes the saga over', async () => {
    let now = Date.parse('2030-01-01T00:00:00Z');
    const h = await harness({ clock: { now: () => new Date(now) }, leaseMs: 5_000 });
    await seed(h, [placed()]);
    expect(await takeLease(h.db, ID, now, 20_000)).toBe(true);
    // Due (its first attempt was owed 5 s after it was placed), but the lease is still someone else's.
    now += 10_000;
    await h.runner.sweep();
    expect(h.journal).toEqual([]);
    now += 11_000;
    await h.runner.sweep();
    expect(await statusOf(h)).toMatchObject({ status: 'confirmed' });
  });

  it('after an outage, one sweep compensates every saga that fell due meanwhile, however many', async () => {
    let now = Date.parse('2030-01-01T00:00:00Z');
    const h = await harness({
      clock: { now: () => new Date(now) },
      products: { lamp: { price_minor: 1299, stock: 1_000 } },
    });
    // Every order placed while payments was down is past its deadline when it is back, and waits for
    // the sweep to compensate it: far more of them than one batch.
    const ids = Array.from(
      { length: 150 },
      (_, i) => `0190a000-0000-7000-8000-${String(i).padStart(12, '0')}`,
    );
    h.payments.behaviour.charge.fail = ids.length;
    for (const id of ids) {
      await h.store.append(id, none, [placed()]);
      expect((await h.runner.advance(id, system)).outcome).toBe('waiting');
    }
    now += 60_000;
    await h.runner.sweep();
    const states = await Promise.all(ids.map(async (id) => (await h.store.load(id)).state?.status));
    expect(states.filter((s) => s !== 'cancelled')).toEqual([]);
    expect(h.catalog.held('lamp')).toBe(0);
    expect(h.payments.net()).toBe(0);
  });

  it('stop waits for the step in flight, leaves the saga for the next start, which finishes it', async () => {
    const h = await harness();
    await seed(h, [placed()]);
    const gate = createGate();
    // The reservation, not the charge: the charge's outcome and the confirmation commit together.
    h.catalog.behaviour.reserveStock.gate = gate.promise;
    const running = h.runner.advance(ID, system);
    await expect.poll(() => h.catalog.behaviour.reserveStock.calls).toBe(1);
    let stopped = false;
    const stopping = h.runner.stop().then(() => {
      stopped = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(stopped).toBe(false);
    gate.open();
    await stopping;
    expect(await running).toEqual({ outcome: 'stopped' });
    expect((await loadEvents(h.db, ID)).at(-1)?.type).toBe('StockReserved');
    expect(h.payments.behaviour.charge.calls).toBe(0);
    expect(await findSaga(h.db, ID)).toMatchObject({ status: 'running', lease_until: null });

    const next = await harness({ database: h.database, catalog: h.catalog, payments: h.payments });
    await next.runner.start();
    expect(await statusOf(next)).toMatchObject({ status: 'confirmed' });
    expect(h.payments.charges.size).toBe(1);
    expect(PRODUCTS.lamp.stock - h.catalog.held('lamp')).toBe(8);
  });
});
