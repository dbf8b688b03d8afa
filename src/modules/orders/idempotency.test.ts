import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createGate,
  createHarness,
  customer,
  type Harness,
  otherCustomer,
  rejection,
} from './test-support.ts';

const visa = 'pm_card_visa' as const;

let h: Harness;
beforeEach(async () => {
  h = await createHarness();
});
afterEach(async () => {
  await h.close();
});

async function placedCount(): Promise<number> {
  const row = await h.db
    .selectFrom('order_events')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('type', '=', 'OrderPlaced')
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

describe('idempotency keys', () => {
  const input = {
    items: [
      { product_id: 'lamp', quantity: 1 },
      { product_id: 'book', quantity: 2 },
    ],
    payment_method: visa,
    idempotency_key: 'key-1',
  };

  it('a replay gets the first answer and places nothing new, even written differently', async () => {
    const first = await h.api.placeOrder(customer, input);
    const again = await h.api.placeOrder(customer, input);
    // The same request: lines in another order and split, the default payment method.
    const rewritten = await h.api.placeOrder(customer, {
      items: [
        { product_id: 'book', quantity: 1 },
        { product_id: 'lamp', quantity: 1 },
        { product_id: 'book', quantity: 1 },
      ],
      payment_method: visa,
      idempotency_key: 'key-1',
    });
    expect(again).toEqual(first);
    expect(rewritten).toEqual(first);
    expect(await placedCount()).toBe(1);
    expect(h.journal).toEqual(['reserveStock', 'charge']);
  });

  it('the first answer stays the answer after the order changed: a confirmed order, as it was', async () => {
    const first = await h.api.placeOrder(customer, input);
    await h.api.cancelOrder(customer, first.id);
    expect(await h.api.placeOrder(customer, input)).toEqual(first);
  });

  it('a failed order replays the same error with the same order id', async () => {
    const failing = { ...input, payment_method: 'pm_card_chargeDeclined' as const };
    const first = await rejection(h.api.placeOrder(customer, failing));
    const again = await rejection(h.api.placeOrder(customer, failing));
    expect(first.code).toBe('PAYMENT_DECLINED');
    expect(again).toMatchObject({
      code: first.code,
      status: first.status,
      title: first.title,
      extra: first.extra,
    });
    expect(await placedCount()).toBe(1);
  });

  it('the same key with another body is IDEMPOTENCY_KEY_REUSED', async () => {
    await h.api.placeOrder(customer, input);
    const other = await rejection(
      h.api.placeOrder(customer, { ...input, items: [{ product_id: 'lamp', quantity: 2 }] }),
    );
    expect(other.code).toBe('IDEMPOTENCY_KEY_REUSED');
    const otherMethod = await rejection(
      h.api.placeOrder(customer, { ...input, payment_method: 'pm_card_chargeDeclined' }),
    );
    expect(otherMethod.code).toBe('IDEMPOTENCY_KEY_REUSED');
    expect(await placedCount()).toBe(1);
  });

  it('while the first is still running, a retry is IDEMPOTENCY_KEY_IN_USE', async () => {
    const gate = createGate();
    h.payments.behaviour.charge.gate = gate.promise;
    const first = h.api.placeOrder(customer, input);
    await expect.poll(() => h.journal.at(-1)).toBe('charge');
    const retry = await rejection(h.api.placeOrder(customer, input));
    expect(retry.code).toBe('IDEMPOTENCY_KEY_IN_USE');
    gate.open();
    const order = await first;
    expect(await h.api.placeOrder(customer, input)).toEqual(order);
  });

  it('two requests racing with one key place one order', async () => {
    const gate = createGate();
    h.catalog.behaviour.reserveStock.gate = gate.promise;
    const results = Promise.allSettled([
      h.api.placeOrder(customer, input),
      h.api.placeOrder(customer, input),
    ]);
    await expect.poll(() => h.journal.length).toBe(1);
    gate.open();
    const [a, b] = await results;
    expect(await placedCount()).toBe(1);
    const answers = [a, b].map((r) => (r.status === 'fulfilled' ? r.value.id : r.reason.code));
    expect(answers).toContain('IDEMPOTENCY_KEY_IN_USE');
    expect(answers.filter((x) => x !== 'IDEMPOTENCY_KEY_IN_USE')).toHaveLength(1);
    expect(h.catalog.behaviour.reserveStock.calls).toBe(1);
  });

  it('keys are per user: another customer with the same key places their own order', async () => {
    const mine = await h.api.placeOrder(customer, input);
    const theirs = await h.api.placeOrder(otherCustomer, input);
    expect(theirs.id).not.toBe(mine.id);
    expect(theirs.user_id).toBe('user-2');
    expect(await placedCount()).toBe(2);
  });
});
