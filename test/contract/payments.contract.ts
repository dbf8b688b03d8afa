import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChargeInput, Payment, PaymentsApi } from '../../src/modules/payments/index.ts';
import type { CallContext } from '../../src/platform/context.ts';
import { hasCode } from '../../src/platform/errors.ts';
import { MAX_AMOUNT_MINOR } from '../../src/platform/money.ts';

export interface PaymentsHarness {
  readonly api: PaymentsApi;
  close(): Promise<void>;
}

const admin: CallContext = { requestId: 'contract-admin', actor: { id: 'admin-1', role: 'admin' } };
const anonymous: CallContext = { requestId: 'contract-anonymous' };

async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  const error = await promise.then(
    (value) => expect.fail(`expected ${code}, got ${JSON.stringify(value)}`),
    (e: unknown) => e,
  );
  expect(hasCode(error, code), `expected ${code}, got ${String(error)}`).toBe(true);
}

/** One order of one customer, with the keys a saga would use for it. */
function anOrder() {
  const userId = `user-${randomUUID()}`;
  const orderId = `order-${randomUUID()}`;
  const ctx: CallContext = { requestId: `contract-${orderId}`, actor: { id: userId, role: 'customer' } };
  const chargeKey = `${orderId}:charge`;
  const chargeInput = (overrides: Partial<ChargeInput> = {}): ChargeInput => ({
    idempotency_key: chargeKey,
    order_id: orderId,
    user_id: userId,
    amount_minor: 2598,
    currency: 'USD',
    payment_method: 'pm_card_visa',
    ...overrides,
  });
  const refundInput = (idempotencyKey = `${orderId}:refund`) => ({
    idempotency_key: idempotencyKey,
    order_id: orderId,
    charge_key: chargeKey,
  });
  return { userId, orderId, ctx, chargeKey, chargeInput, refundInput };
}

/** What every adapter of payments must do, over any transport. Every test uses its own order. */
export function definePaymentsContract(adapterName: string, setup: () => Promise<PaymentsHarness>): void {
  describe(`payments contract (${adapterName})`, () => {
    let harness: PaymentsHarness | undefined;
    const api = (): PaymentsApi => {
      if (!harness) throw new Error('payments did not start');
      return harness.api;
    };

    beforeAll(async () => {
      harness = await setup();
    });
    afterAll(async () => {
      await harness?.close();
    });

    describe('charge', () => {
      it('charges a good card and returns the same charge for the same key', async () => {
        const order = anOrder();
        const charge = await api().charge(order.ctx, order.chargeInput());
        expect(charge).toMatchObject({
          order_id: order.orderId,
          user_id: order.userId,
          kind: 'charge',
          amount_minor: 2598,
          currency: 'USD',
          status: 'succeeded',
        });
        expect(Date.parse(charge.created_at)).not.toBeNaN();
        expect(await api().charge(order.ctx, order.chargeInput())).toEqual(charge);
        expect(await api().listPayments(order.ctx, order.orderId)).toEqual([charge]);
      });

      it('raises PAYMENT_DECLINED on every try, and keeps the declined charge on record', async () => {
        const order = anOrder();
        const declined = order.chargeInput({ payment_method: 'pm_card_chargeDeclined' });
        await expectCode(api().charge(order.ctx, declined), 'PAYMENT_DECLINED');
        await expectCode(api().charge(order.ctx, declined), 'PAYMENT_DECLINED');
        const record = await api().listPayments(order.ctx, order.orderId);
        expect(record).toEqual([
          expect.objectContaining({ kind: 'charge', status: 'failed', amount_minor: 2598 }),
        ]);
      });

      it('refuses a bad amount or payment method', async () => {
        const order = anOrder();
        for (const overrides of [
          { amount_minor: -1 },
          { amount_minor: 0.5 },
          { amount_minor: MAX_AMOUNT_MINOR + 1 },
          { payment_method: 'pm_card_mystery' as ChargeInput['payment_method'] },
        ]) {
          await expectCode(api().charge(order.ctx, order.chargeInput(overrides)), 'VALIDATION_FAILED');
        }
        expect(await api().listPayments(order.ctx, order.orderId)).toEqual([]);
      });

      it('makes one charge of concurrent charges with the same key', async () => {
        const order = anOrder();
        const results = await Promise.all(
          Array.from({ length: 20 }, () => api().charge(order.ctx, order.chargeInput())),
        );
        for (const result of results) expect(result).toEqual(results[0]);
        expect(await api().listPayments(order.ctx, order.orderId)).toHaveLength(1);
      });
    });

    describe('refund', () => {
      it('refunds a charge once: the same refund for the same key, and for any other key', async () => {
        const order = anOrder();
        const charge = await api().charge(order.ctx, order.chargeInput());
        const refund = await api().refund(order.ctx, order.refundInput());
        expect(refund).toMatchObject({
          order_id: order.orderId,
          user_id: order.userId,
          kind: 'refund',
          amount_minor: charge.amount_minor,
          currency: 'USD',
          status: 'succeeded',
        });
        expect(await api().refund(order.ctx, order.refundInput())).toEqual(refund);
        expect(await api().refund(order.ctx, order.refundInput(`${order.orderId}:refund-again`))).toEqual(
          refund,
        );
        expect(await api().listPayments(order.ctx, order.orderId)).toEqual([charge, refund]);
      });

      it('refunds nothing without a charge, and voids the charge that arrives later', async () => {
        const order = anOrder();
        expect(await api().refund(order.ctx, order.refundInput())).toBeNull();
        await expectCode(api().charge(order.ctx, order.chargeInput()), 'CHARGE_VOIDED');
        expect(await api().refund(order.ctx, order.refundInput())).toBeNull();
        expect(await api().listPayments(order.ctx, order.orderId)).toEqual([]);
      });

      it('refunds nothing for a declined charge', async () => {
        const order = anOrder();
        await expectCode(
          api().charge(order.ctx, order.chargeInput({ payment_method: 'pm_card_chargeDeclined' })),
          'PAYMENT_DECLINED',
        );
        expect(await api().refund(order.ctx, order.refundInput())).toBeNull();
        expect(await api().listPayments(order.ctx, order.orderId)).toHaveLength(1);
      });

      it('makes one refund of concurrent refunds of one charge, whatever their keys', async () => {
        const order = anOrder();
        await api().charge(order.ctx, order.chargeInput());
        const results = await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            api().refund(order.ctx, order.refundInput(`${order.orderId}:r${i % 3}`)),
          ),
        );
        for (const result of results) expect(result).toEqual(results[0]);
        const record = await api().listPayments(order.ctx, order.orderId);
        expect(record.filter((p) => p.kind === 'refund')).toHaveLength(1);
      });

      it('never leaves money charged when a refund races its charge', async () => {
        const order = anOrder();
        const [charged, refunded] = await Promise.allSettled([
          api().charge(order.ctx, order.chargeInput()),
          api().refund(order.ctx, order.refundInput()),
        ]);
        const record = await api().listPayments(order.ctx, order.orderId);
        if (charged.status === 'fulfilled') {
          // The charge came first: the refund must have refunded it.
          expect(refunded).toMatchObject({
            status: 'fulfilled',
            value: expect.objectContaining({ kind: 'refund' }),
          });
          expect(record.map((p: Payment) => p.kind)).toEqual(['charge', 'refund']);
        } else {
          expect(hasCode(charged.reason, 'CHARGE_VOIDED')).toBe(true);
          expect(refunded).toEqual({ status: 'fulfilled', value: null });
          expect(record).toEqual([]);
        }
      });
    });

    describe('listPayments', () => {
      it('answers the owner and an admin, oldest first', async () => {
        const order = anOrder();
        const charge = await api().charge(order.ctx, order.chargeInput());
        const refund = await api().refund(admin, order.refundInput());
        expect(await api().listPayments(order.ctx, order.orderId)).toEqual([charge, refund]);
        expect(await api().listPayments(admin, order.orderId)).toEqual([charge, refund]);
      });

      it("hides another customer's order as ORDER_NOT_FOUND", async () => {
        const order = anOrder();
        await api().charge(order.ctx, order.chargeInput());
        const stranger: CallContext = {
          requestId: 'contract-stranger',
          actor: { id: 'someone-else', role: 'customer' },
        };
        await expectCode(api().listPayments(stranger, order.orderId), 'ORDER_NOT_FOUND');
      });

      it('needs an actor', async () => {
        const order = anOrder();
        await api().charge(order.ctx, order.chargeInput());
        await expectCode(api().listPayments(anonymous, order.orderId), 'UNAUTHORIZED');
      });

      it('answers an empty list for an order without payments', async () => {
        expect(await api().listPayments(anOrder().ctx, `order-${randomUUID()}`)).toEqual([]);
      });
    });
  });
}
