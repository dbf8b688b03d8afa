import { describe, expect, it } from 'vitest';
import {
  CANCELLED_BY_USER,
  type DomainEvent,
  fold,
  ORDER_TIMEOUT,
  type OrderState,
  placeOutcome,
  type RecordedEvent,
  toOrder,
} from './events.ts';

const ID = 'order-1';
const DECLINED = { code: 'PAYMENT_DECLINED', status: 402, title: 'The card was declined' };
const OUT_OF_STOCK = { code: 'OUT_OF_STOCK', status: 409, title: 'Not enough stock', detail: 'lamp' };

/** Numbers the events and gives each its own minute, as the store would. */
function recorded(...events: DomainEvent[]): RecordedEvent[] {
  return events.map(
    (e, i) =>
      ({
        ...e,
        version: i + 1,
        occurred_at: `2030-01-01T00:${String(i).padStart(2, '0')}:00.000Z`,
      }) as RecordedEvent,
  );
}

const placed: DomainEvent = {
  type: 'OrderPlaced',
  data: {
    user_id: 'user-1',
    items: [
      { product_id: 'book', quantity: 1 },
      { product_id: 'lamp', quantity: 2 },
    ],
    payment_method: 'pm_card_visa',
    idempotency_key: 'key-1',
  },
};
const reserved: DomainEvent = {
  type: 'StockReserved',
  data: {
    items: [
      { product_id: 'book', quantity: 1, unit_price_minor: 800 },
      { product_id: 'lamp', quantity: 2, unit_price_minor: 1299 },
    ],
    total_minor: 3398,
    currency: 'USD',
  },
};
const charged: DomainEvent = { type: 'PaymentCharged', data: { payment_id: 'pay-1', amount_minor: 3398 } };
const confirmed: DomainEvent = { type: 'OrderConfirmed', data: {} };
const released: DomainEvent = { type: 'StockReleased', data: {} };
const refunded: DomainEvent = { type: 'PaymentRefunded', data: { payment_id: 'ref-1' } };
const cancelRequested: DomainEvent = { type: 'CancellationRequested', data: { by: 'user-1' } };
const cancelled = (reason = CANCELLED_BY_USER): DomainEvent => ({ type: 'OrderCancelled', data: { reason } });

const state = (...events: DomainEvent[]): OrderState => fold(ID, recorded(...events))!;

describe('fold', () => {
  it('has no state without events, and refuses a stream that does not start with OrderPlaced', () => {
    expect(fold(ID, [])).toBeUndefined();
    expect(() => fold(ID, recorded(reserved))).toThrow(/OrderPlaced/);
    expect(() => fold(ID, recorded(placed, placed))).toThrow(/twice/);
  });

  it('a placed order is pending, unpriced, and waits for its reservation', () => {
    const s = state(placed);
    expect(s).toMatchObject({
      id: ID,
      user_id: 'user-1',
      status: 'pending',
      total_minor: null,
      currency: 'USD',
      idempotency_key: 'key-1',
      payment_method: 'pm_card_visa',
      version: 1,
      created_at: '2030-01-01T00:00:00.000Z',
      updated_at: '2030-01-01T00:00:00.000Z',
      cancel_reason: null,
      next: { kind: 'reserve' },
    });
    expect(s.items).toEqual([
      { product_id: 'book', quantity: 1, unit_price_minor: null },
      { product_id: 'lamp', quantity: 2, unit_price_minor: null },
    ]);
    expect(placeOutcome(s)).toEqual({ kind: 'running' });
  });

  it('takes prices and the total from the reservation, then asks for the charge, then the confirmation', () => {
    const afterReserve = state(placed, reserved);
    expect(afterReserve.items).toEqual([
      { product_id: 'book', quantity: 1, unit_price_minor: 800 },
      { product_id: 'lamp', quantity: 2, unit_price_minor: 1299 },
    ]);
    expect(afterReserve).toMatchObject({ total_minor: 3398, status: 'pending', next: { kind: 'charge' } });
    expect(state(placed, reserved, charged)).toMatchObject({
      payment_id: 'pay-1',
      status: 'pending',
      next: { kind: 'confirm' },
    });
  });

  it('a confirmed order has ended its saga, at the version of OrderConfirmed', () => {
    const s = state(placed, reserved, charged, confirmed);
    expect(s).toMatchObject({
      status: 'confirmed',
      version: 4,
      confirmed_version: 4,
      created_at: '2030-01-01T00:00:00.000Z',
      updated_at: '2030-01-01T00:03:00.000Z',
      next: { kind: 'none' },
    });
    expect(placeOutcome(s)).toEqual({ kind: 'confirmed' });
  });

  it('a failed reservation cancels at once with the participant reason', () => {
    const s = state(placed, cancelled(OUT_OF_STOCK));
    expect(s).toMatchObject({ status: 'cancelled', cancel_reason: 'OUT_OF_STOCK', next: { kind: 'none' } });
    expect(placeOutcome(s)).toEqual({ kind: 'failed', reason: OUT_OF_STOCK });
  });

  it('a declined payment releases the stock, then cancels with the decline', () => {
    expect(state(placed, reserved, { type: 'PaymentDeclined', data: DECLINED }).next).toEqual({
      kind: 'release',
    });
    expect(state(placed, reserved, { type: 'PaymentDeclined', data: DECLINED }, released).next).toEqual({
      kind: 'cancel',
      reason: DECLINED,
    });
    const s = state(
      placed,
      reserved,
      { type: 'PaymentDeclined', data: DECLINED },
      released,
      cancelled(DECLINED),
    );
    expect(s).toMatchObject({
      status: 'cancelled',
      cancel_reason: 'PAYMENT_DECLINED',
      next: { kind: 'none' },
    });
    expect(placeOutcome(s)).toEqual({ kind: 'failed', reason: DECLINED });
  });

  it('a refund without a cancellation is the deadline compensation: release, then ORDER_TIMEOUT', () => {
    expect(state(placed, reserved, refunded).next).toEqual({ kind: 'release' });
    expect(state(placed, reserved, refunded, released).next).toEqual({
      kind: 'cancel',
      reason: ORDER_TIMEOUT,
    });
    expect(state(placed, refunded, released, cancelled(ORDER_TIMEOUT)).cancel_reason).toBe('ORDER_TIMEOUT');
  });

  it('a cancellation keeps the order confirmed while it refunds, then releases, then cancels', () => {
    const requested = state(placed, reserved, charged, confirmed, cancelRequested);
    expect(requested).toMatchObject({
      status: 'confirmed',
      cancellation: { by: 'user-1' },
      next: { kind: 'refund' },
    });
    expect(state(placed, reserved, charged, confirmed, cancelRequested, refunded).next).toEqual({
      kind: 'release',
    });
    expect(state(placed, reserved, charged, confirmed, cancelRequested, refunded, released).next).toEqual({
      kind: 'cancel',
      reason: CANCELLED_BY_USER,
    });
    const done = state(
      placed,
      reserved,
      charged,
      confirmed,
      cancelRequested,
      refunded,
      released,
      cancelled(),
    );
    expect(done).toMatchObject({
      status: 'cancelled',
      cancel_reason: 'CANCELLED_BY_USER',
      next: { kind: 'none' },
    });
    // The place saga's answer stays what it was: the order was confirmed.
    expect(placeOutcome(done)).toEqual({ kind: 'confirmed' });
  });

  it('a shipped order is done and remembers who shipped it', () => {
    const s = state(placed, reserved, charged, confirmed, { type: 'OrderShipped', data: { by: 'admin-1' } });
    expect(s).toMatchObject({ status: 'shipped', shipped_by: 'admin-1', next: { kind: 'none' }, version: 5 });
  });

  it('is pure: it leaves its input alone and gives the same state for the same events', () => {
    const events = recorded(placed, reserved, charged, confirmed);
    const frozen = structuredClone(events);
    deepFreeze(events);
    expect(fold(ID, events)).toEqual(fold(ID, frozen));
    expect(events).toEqual(frozen);
  });

  it('shows the contract order', () => {
    expect(toOrder(state(placed, reserved, charged, confirmed))).toEqual({
      id: ID,
      user_id: 'user-1',
      items: [
        { product_id: 'book', quantity: 1, unit_price_minor: 800 },
        { product_id: 'lamp', quantity: 2, unit_price_minor: 1299 },
      ],
      total_minor: 3398,
      currency: 'USD',
      status: 'confirmed',
      cancel_reason: null,
      created_at: '2030-01-01T00:00:00.000Z',
      updated_at: '2030-01-01T00:03:00.000Z',
    });
  });
});

function deepFreeze(value: unknown): void {
  if (typeof value !== 'object' || value === null) return;
  for (const v of Object.values(value)) deepFreeze(v);
  Object.freeze(value);
}
