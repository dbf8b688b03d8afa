import type { CallContext } from '../../platform/context.ts';
import { defineErrors } from '../../platform/errors.ts';
import type { MethodNames } from '../../platform/in-process.ts';

export type PaymentMethod = 'pm_card_visa' | 'pm_card_chargeDeclined';

/** A charge or a refund. `failed` is a declined charge, kept for the record. */
export interface Payment {
  readonly id: string;
  readonly order_id: string;
  readonly user_id: string;
  readonly kind: 'charge' | 'refund';
  readonly amount_minor: number;
  readonly currency: string;
  readonly status: 'succeeded' | 'failed';
  readonly created_at: string;
}

/**
 * Charges an order. `idempotency_key` (saga id and step) makes a retry return the first result:
 * never a second charge.
 */
export interface ChargeInput {
  readonly idempotency_key: string;
  readonly order_id: string;
  readonly user_id: string;
  readonly amount_minor: number;
  readonly currency: string;
  readonly payment_method: PaymentMethod;
}

/**
 * Refunds the charge made with `charge_key`, once. When there is no successful charge under that key,
 * nothing is refunded and the key is closed, so a charge arriving late is refused.
 */
export interface RefundInput {
  readonly idempotency_key: string;
  readonly order_id: string;
  readonly charge_key: string;
}

/** The payments module: charges and refunds against a fake card processor. */
export interface PaymentsApi {
  /** Raises `PAYMENT_DECLINED` (again on every retry) or `CHARGE_VOIDED` after a refund closed the key. */
  charge(ctx: CallContext, input: ChargeInput): Promise<Payment>;
  /** The refund, or `null` when there was nothing to refund. */
  refund(ctx: CallContext, input: RefundInput): Promise<Payment | null>;
  /**
   * The order's charges and refunds, oldest first, for its owner or an admin. Raises `ORDER_NOT_FOUND`
   * when the order has payments of another user.
   */
  listPayments(ctx: CallContext, orderId: string): Promise<Payment[]>;
}

/** Events the payments module publishes. */
export interface PaymentsEvents {
  'payments.payment_succeeded': {
    payment_id: string;
    order_id: string;
    user_id: string;
    amount_minor: number;
  };
  'payments.payment_refunded': {
    payment_id: string;
    order_id: string;
    user_id: string;
    amount_minor: number;
  };
}

export const paymentsErrors = defineErrors({
  PAYMENT_DECLINED: { status: 402, title: 'The card was declined' },
  CHARGE_VOIDED: { status: 409, title: 'This charge was voided before it was made' },
  ORDER_NOT_FOUND: { status: 404, title: 'No such order' },
});

/** Every method of PaymentsApi, in one list that every adapter serves. */
export const paymentsMethods = [
  'charge',
  'refund',
  'listPayments',
] as const satisfies MethodNames<PaymentsApi>;

/** Methods safe to retry after a transport failure: reads, and writes made idempotent by a key in their input. */
export const paymentsIdempotentMethods = [
  'charge',
  'refund',
  'listPayments',
] as const satisfies MethodNames<PaymentsApi>;
