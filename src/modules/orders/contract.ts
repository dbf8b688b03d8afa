import type { CallContext } from '../../platform/context.ts';
import { defineErrors } from '../../platform/errors.ts';
import type { MethodNames } from '../../platform/in-process.ts';
import type { Page, PageRequest } from '../../platform/pagination.ts';
import type { PaymentMethod } from '../payments/index.ts';

export type OrderStatus = 'pending' | 'confirmed' | 'cancelled' | 'shipped';

export interface OrderItem {
  readonly product_id: string;
  readonly quantity: number;
  /** The price when the order was placed, in minor units. */
  readonly unit_price_minor: number;
}

/** A line of an order as read: its price is null while the order is pending and no stock is reserved yet. */
export type OrderLine = Omit<OrderItem, 'unit_price_minor'> & { readonly unit_price_minor: number | null };

/** An order, as the fold of its events. */
export interface Order {
  readonly id: string;
  readonly user_id: string;
  readonly items: readonly OrderLine[];
  /** Null while the order is pending and no stock is reserved yet (prices are known from the reservation). */
  readonly total_minor: number | null;
  readonly currency: string;
  readonly status: OrderStatus;
  /** Why a cancelled order was cancelled: an error code such as `OUT_OF_STOCK`, or `CANCELLED_BY_USER`. */
  readonly cancel_reason: string | null;
  readonly created_at: string;
  readonly updated_at: string;
}

/**
 * @example { items: [{ product_id: 'p1', quantity: 2 }], payment_method: 'pm_card_visa' }
 */
export interface PlaceOrderInput {
  /** When given, must be the actor's own id (`FORBIDDEN`). */
  readonly user_id?: string;
  /** 1–50 lines, each quantity 1–1000. */
  readonly items: ReadonlyArray<{ readonly product_id: string; readonly quantity: number }>;
  readonly payment_method: PaymentMethod;
  /** Scoped to the actor: the same key and input returns the first answer and places nothing new. */
  readonly idempotency_key?: string;
}

/** One entry of an order's history. */
export interface OrderEvent {
  readonly type: string;
  readonly version: number;
  readonly occurred_at: string;
  readonly data: Readonly<Record<string, unknown>>;
}

export interface ListOrdersInput extends PageRequest {
  /** Admins only: another user's orders. */
  readonly user_id?: string;
}

/** The orders module: orders as event streams, and the saga that places and cancels them. */
export interface OrdersApi {
  /**
   * Runs the place-order saga to its end and returns the confirmed order. On failure the order is
   * recorded as cancelled and the error carries `order_id`: `OUT_OF_STOCK`, `PRODUCT_NOT_FOUND`,
   * `PAYMENT_DECLINED`, `ORDER_TIMEOUT`. Also `FORBIDDEN`, `IDEMPOTENCY_KEY_REUSED`, `IDEMPOTENCY_KEY_IN_USE`,
   * and `ORDER_STILL_PROCESSING` (with `order_id`) when the saga has not ended by its deadline.
   */
  placeOrder(ctx: CallContext, input: PlaceOrderInput): Promise<Order>;
  /** The owner's or an admin's; `ORDER_NOT_FOUND` for anyone else. */
  getOrder(ctx: CallContext, id: string): Promise<Order>;
  /** The actor's orders, newest first. */
  listOrders(ctx: CallContext, input: ListOrdersInput): Promise<Page<Order>>;
  /** The order's events, oldest first. */
  getOrderEvents(ctx: CallContext, id: string): Promise<OrderEvent[]>;
  /** Cancels a confirmed order: refund, then release stock. `ORDER_NOT_CANCELLABLE` otherwise. */
  cancelOrder(ctx: CallContext, id: string): Promise<Order>;
  /** Admin only. A confirmed order becomes shipped; `ORDER_NOT_SHIPPABLE` otherwise. */
  shipOrder(ctx: CallContext, id: string): Promise<Order>;
}

/** Events the orders module publishes to other modules. */
export interface OrdersEvents {
  'orders.order_confirmed': {
    order_id: string;
    user_id: string;
    total_minor: number;
    currency: string;
    items: OrderItem[];
  };
  'orders.order_cancelled': { order_id: string; user_id: string; reason: string };
  'orders.order_shipped': { order_id: string; user_id: string };
}

export const ordersErrors = defineErrors({
  ORDER_NOT_FOUND: { status: 404, title: 'No such order' },
  ORDER_NOT_CANCELLABLE: { status: 409, title: 'This order cannot be cancelled' },
  ORDER_NOT_SHIPPABLE: { status: 409, title: 'This order cannot be shipped' },
  IDEMPOTENCY_KEY_REUSED: { status: 422, title: 'This idempotency key was used with another request' },
  IDEMPOTENCY_KEY_IN_USE: { status: 409, title: 'A request with this idempotency key is still running' },
  ORDER_STILL_PROCESSING: { status: 409, title: 'The order is still being processed; try again shortly' },
  /** A place saga that could not charge by its deadline: compensated, and the order cancelled. */
  ORDER_TIMEOUT: { status: 503, title: 'The order could not be completed in time' },
});

/** Every method of OrdersApi, in one list that every adapter serves. */
export const ordersMethods = [
  'placeOrder',
  'getOrder',
  'listOrders',
  'getOrderEvents',
  'cancelOrder',
  'shipOrder',
] as const satisfies MethodNames<OrdersApi>;

/** Methods safe to retry after a transport failure: reads, and writes made idempotent by a key in their input. */
export const ordersIdempotentMethods = [
  'getOrder',
  'listOrders',
  'getOrderEvents',
] as const satisfies MethodNames<OrdersApi>;
