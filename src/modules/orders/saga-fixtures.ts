import { expect } from 'vitest';
import type { Loaded } from './event-store.ts';
import type { DomainEvent } from './events.ts';
import { chargeKey, refundKey } from './saga-steps.ts';
import type { Harness } from './test-support.ts';

// Fixtures of the saga tests: one order of two lamps, its events, and the participants' side of it.

export const ID = '0190a000-0000-7000-8000-000000000001';
export const none: Loaded = { events: [], state: undefined };
export const system = { requestId: 'test' };

export const placed = (
  payment_method: 'pm_card_visa' | 'pm_card_chargeDeclined' = 'pm_card_visa',
): DomainEvent => ({
  type: 'OrderPlaced',
  data: { user_id: 'user-1', items: [{ product_id: 'lamp', quantity: 2 }], payment_method },
});
export const reserved: DomainEvent = {
  type: 'StockReserved',
  data: {
    items: [{ product_id: 'lamp', quantity: 2, unit_price_minor: 1299 }],
    total_minor: 2598,
    currency: 'USD',
  },
};
export const charge = { order_id: ID, user_id: 'user-1', amount_minor: 2598, currency: 'USD' };

export async function seed(h: Harness, events: DomainEvent[]): Promise<void> {
  let loaded = none;
  for (const event of events) loaded = await h.store.append(ID, loaded, [event]);
}

export async function statusOf(h: Harness) {
  return (await h.store.load(ID)).state;
}

/** The participants' books agree with the orders: stock held and money kept only for confirmed orders. */
export async function expectConsistentBooks(h: Harness): Promise<void> {
  const state = await statusOf(h);
  const kept = state?.status === 'confirmed' || state?.status === 'shipped';
  expect(h.catalog.held('lamp')).toBe(kept ? 2 : 0);
  expect(h.payments.net()).toBe(kept ? state.total_minor : 0);
  expect([...h.payments.charges.values()].filter((c) => c.status === 'succeeded').length).toBeLessThanOrEqual(
    1,
  );
}

export type Effects = (h: Harness) => Promise<void>;
export const reserve: Effects = async (h) => {
  await h.catalog.reserveStock(system, { reservation_id: ID, items: [{ product_id: 'lamp', quantity: 2 }] });
};
export const chargeVisa = async (h: Harness) =>
  h.payments.charge(system, { ...charge, idempotency_key: chargeKey(ID), payment_method: 'pm_card_visa' });
export const refund: Effects = async (h) => {
  await h.payments.refund(system, {
    idempotency_key: refundKey(ID),
    order_id: ID,
    charge_key: chargeKey(ID),
  });
};
export const release: Effects = async (h) => {
  await h.catalog.releaseStock(system, { reservation_id: ID });
};
export const charged = (paymentId: string): DomainEvent => ({
  type: 'PaymentCharged',
  data: { payment_id: paymentId, amount_minor: 2598 },
});
export const declined: DomainEvent = {
  type: 'PaymentDeclined',
  data: { code: 'PAYMENT_DECLINED', status: 402, title: 'The card was declined' },
};
