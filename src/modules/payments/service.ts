import type { Kysely } from 'kysely';
import { type Clock, isoNow, systemClock } from '../../platform/clock.ts';
import { isAdmin } from '../../platform/context.ts';
import { lockKey } from '../../platform/db/locks.ts';
import { platformErrors } from '../../platform/errors.ts';
import type { Outbox } from '../../platform/events/outbox.ts';
import { newId } from '../../platform/ids.ts';
import { MAX_AMOUNT_MINOR } from '../../platform/money.ts';
import {
  type ChargeInput,
  type PaymentsApi,
  type PaymentsEvents,
  paymentsErrors,
  type RefundInput,
} from './contract.ts';
import {
  type PaymentRow,
  type PaymentsDatabase,
  paymentsRepository as repo,
  toPayment,
} from './repository.ts';

export interface PaymentsServiceDeps {
  readonly db: Kysely<PaymentsDatabase>;
  readonly outbox: Outbox<PaymentsDatabase, PaymentsEvents>;
  readonly clock?: Clock;
}

/** The fake processor's test cards: one always succeeds, one is always declined. */
const METHODS = new Set(['pm_card_visa', 'pm_card_chargeDeclined']);
const KEY_MAX = 255;
const ORDER_ID_MAX = 100;
/** A charge and the refunds of it run one at a time, by the charge's key. */
const CHARGE_LOCK = 'payments.charge';

/** Charges and refunds, each at most once per idempotency key, against a fake card processor. */
export function createPaymentsService(deps: PaymentsServiceDeps): PaymentsApi {
  const { db, outbox } = deps;
  const clock = deps.clock ?? systemClock;

  return {
    async charge(ctx, input) {
      validateCharge(input);
      const row = await outbox.transaction(async (trx, emit) => {
        await lockKey(trx, CHARGE_LOCK, input.idempotency_key);
        const existing = await repo.findByKey(trx, input.idempotency_key);
        if (existing) return existing;
        if (await repo.isClosed(trx, input.idempotency_key)) {
          throw paymentsErrors.CHARGE_VOIDED(
            `The charge ${input.idempotency_key} was refunded before it was made`,
            {
              order_id: input.order_id,
            },
          );
        }
        const charge: PaymentRow = {
          id: newId(),
          idempotency_key: input.idempotency_key,
          order_id: input.order_id,
          user_id: input.user_id,
          kind: 'charge',
          amount_minor: input.amount_minor,
          currency: input.currency,
          status: input.payment_method === 'pm_card_visa' ? 'succeeded' : 'failed',
          payment_method: input.payment_method,
          charge_key: null,
          created_at: isoNow(clock),
        };
        // A writer on another connection may have won the key since the read above.
        if (!(await repo.insertPayment(trx, charge))) return mustFind(trx, input.idempotency_key);
        if (charge.status === 'succeeded') {
          emit('payments.payment_succeeded', paymentEvent(charge), ctx);
        }
        return charge;
      });
      if (row.kind !== 'charge') throw keyTaken('refund');
      // Thrown only now, after the commit, so the declined charge stays on record.
      if (row.status === 'failed') {
        throw paymentsErrors.PAYMENT_DECLINED('The card was declined', { order_id: row.order_id });
      }
      return toPayment(row);
    },

    async refund(ctx, input) {
      validateRefund(input);
      return outbox.transaction(async (trx, emit) => {
        // Else, under READ COMMITTED, a refund could miss a charge committing meanwhile and close its key
        // after the charge's check: the charge would stand, never refunded.
        await lockKey(trx, CHARGE_LOCK, input.charge_key);
        const existing = await repo.findByKey(trx, input.idempotency_key);
        if (existing) {
          if (existing.kind !== 'refund') throw keyTaken('charge');
          return toPayment(existing);
        }
        const charge = await repo.findByKey(trx, input.charge_key);
        if (!charge) {
          // Closing the key refuses a charge that is still on its way.
          await repo.closeKey(trx, input.charge_key, isoNow(clock));
          return null;
        }
        if (charge.kind !== 'charge' || charge.status !== 'succeeded') return null;
        if (charge.order_id !== input.order_id) {
          throw invalid('/order_id', `is not the order of the charge ${input.charge_key}`);
        }
        const earlier = await repo.findRefundOf(trx, input.charge_key);
        if (earlier) return toPayment(earlier);
        const refund: PaymentRow = {
          id: newId(),
          idempotency_key: input.idempotency_key,
          order_id: charge.order_id,
          user_id: charge.user_id,
          kind: 'refund',
          amount_minor: Number(charge.amount_minor),
          currency: charge.currency,
          status: 'succeeded',
          payment_method: charge.payment_method,
          charge_key: input.charge_key,
          created_at: isoNow(clock),
        };
        // The unique charge_key refuses a second refund of this charge, whatever its key.
        if (!(await repo.insertPayment(trx, refund))) {
          const winner =
            (await repo.findByKey(trx, input.idempotency_key)) ??
            (await repo.findRefundOf(trx, input.charge_key));
          return winner ? toPayment(winner) : null;
        }
        emit('payments.payment_refunded', paymentEvent(refund), ctx);
        return toPayment(refund);
      });
    },

    async listPayments(ctx, orderId) {
      const actor = ctx.actor;
      if (!actor) throw platformErrors.UNAUTHORIZED('Sign in to read payments');
      if (typeof orderId !== 'string' || orderId.length === 0 || orderId.length > ORDER_ID_MAX) {
        throw invalid('/order_id', `must be a string of 1 to ${ORDER_ID_MAX} characters`);
      }
      const rows = await repo.listByOrder(db, orderId);
      // Another user's order looks exactly like one that does not exist.
      if (!isAdmin(ctx) && rows.some((row) => row.user_id !== actor.id)) {
        throw paymentsErrors.ORDER_NOT_FOUND(`No order ${orderId}`, { order_id: orderId });
      }
      return rows.map(toPayment);
    },
  };
}

function paymentEvent(row: PaymentRow) {
  return {
    payment_id: row.id,
    order_id: row.order_id,
    user_id: row.user_id,
    amount_minor: Number(row.amount_minor),
  };
}

async function mustFind(db: Kysely<PaymentsDatabase>, key: string): Promise<PaymentRow> {
  const row = await repo.findByKey(db, key);
  if (!row) throw new Error(`payment ${key} was neither inserted nor found`);
  return row;
}

function invalid(path: string, message: string) {
  return platformErrors.VALIDATION_FAILED(`${path} ${message}`, { errors: [{ path, message }] });
}

function keyTaken(kind: 'charge' | 'refund') {
  return invalid('/idempotency_key', `is already the key of a ${kind}`);
}

function checkText(value: unknown, path: string, max: number): void {
  if (typeof value !== 'string' || value.length === 0 || value.length > max) {
    throw invalid(path, `must be a string of 1 to ${max} characters`);
  }
}

function validateCharge(input: ChargeInput): void {
  checkText(input.idempotency_key, '/idempotency_key', KEY_MAX);
  checkText(input.order_id, '/order_id', ORDER_ID_MAX);
  checkText(input.user_id, '/user_id', KEY_MAX);
  const amount = input.amount_minor;
  if (!Number.isInteger(amount) || amount < 0 || amount > MAX_AMOUNT_MINOR) {
    throw invalid('/amount_minor', `must be an integer from 0 to ${MAX_AMOUNT_MINOR}`);
  }
  if (typeof input.currency !== 'string' || !/^[A-Z]{3}$/.test(input.currency)) {
    throw invalid('/currency', 'must be an ISO 4217 code such as USD');
  }
  if (!METHODS.has(input.payment_method)) {
    throw invalid('/payment_method', `must be one of ${[...METHODS].join(', ')}`);
  }
}

function validateRefund(input: RefundInput): void {
  checkText(input.idempotency_key, '/idempotency_key', KEY_MAX);
  checkText(input.order_id, '/order_id', ORDER_ID_MAX);
  checkText(input.charge_key, '/charge_key', KEY_MAX);
}
