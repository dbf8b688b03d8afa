import { DEFAULT_CURRENCY } from '../../platform/money.ts';
import type { PaymentMethod } from '../payments/index.ts';
import type { Order, OrderEvent, OrderItem, OrderLine, OrderStatus } from './contract.ts';

/** A line as the customer asked for it, before the catalog priced it. */
export interface RequestedItem {
  readonly product_id: string;
  readonly quantity: number;
}

/** Why an order was cancelled, as the participant's error said it (or the order's own reasons below). */
export interface CancelReason {
  readonly code: string;
  readonly status: number;
  readonly title: string;
  readonly detail?: string;
}

export const CANCELLED_BY_USER: CancelReason = {
  code: 'CANCELLED_BY_USER',
  // Not an error: the cancellation the owner or an admin asked for succeeded.
  status: 200,
  title: 'The order was cancelled on request',
};

export const ORDER_TIMEOUT: CancelReason = {
  code: 'ORDER_TIMEOUT',
  status: 503,
  title: 'The order could not be completed in time',
};

/** Each domain event's data, by type. */
export interface OrderEventData {
  OrderPlaced: {
    user_id: string;
    items: RequestedItem[];
    payment_method: PaymentMethod;
    idempotency_key?: string;
  };
  StockReserved: { items: OrderItem[]; total_minor: number; currency: string };
  PaymentCharged: { payment_id: string; amount_minor: number };
  OrderConfirmed: Record<string, never>;
  /** `code` is the payment's refusal; status and title come with it so the cancellation can repeat them. */
  PaymentDeclined: CancelReason;
  StockReleased: Record<string, never>;
  CancellationRequested: { by: string };
  PaymentRefunded: { payment_id: string | null };
  OrderCancelled: { reason: CancelReason };
  OrderShipped: { by: string };
}

export type OrderEventType = keyof OrderEventData;

/** A domain event before it is stored. */
export type DomainEvent = {
  [K in OrderEventType]: { readonly type: K; readonly data: OrderEventData[K] };
}[OrderEventType];

/** A domain event as the event store holds it. */
export type RecordedEvent = DomainEvent & { readonly version: number; readonly occurred_at: string };

/** What the saga does next, as the event stream says. */
export type SagaStep =
  | { readonly kind: 'reserve' }
  | { readonly kind: 'charge' }
  | { readonly kind: 'confirm' }
  | { readonly kind: 'refund' }
  | { readonly kind: 'release' }
  | { readonly kind: 'cancel'; readonly reason: CancelReason }
  | { readonly kind: 'none' };

/** The current state of an order: everything the read model, the rules and the saga need. */
export interface OrderState {
  readonly id: string;
  readonly user_id: string;
  readonly status: OrderStatus;
  readonly requested: readonly RequestedItem[];
  readonly payment_method: PaymentMethod;
  readonly idempotency_key: string | null;
  readonly items: readonly OrderLine[];
  readonly total_minor: number | null;
  readonly currency: string;
  readonly reserved: boolean;
  readonly payment_id: string | null;
  readonly declined: CancelReason | null;
  readonly cancellation: { readonly by: string } | null;
  readonly refunded: boolean;
  readonly released: boolean;
  /** The version of OrderConfirmed: the place saga's answer was this order as it stood then. */
  readonly confirmed_version: number | null;
  readonly cancelled: CancelReason | null;
  readonly cancel_reason: string | null;
  readonly shipped_by: string | null;
  readonly version: number;
  readonly created_at: string;
  readonly updated_at: string;
  readonly next: SagaStep;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** The state after `events`, oldest first; undefined when there are none. Pure. */
export function fold(orderId: string, events: readonly RecordedEvent[]): OrderState | undefined {
  const [first, ...rest] = events;
  if (first === undefined) return undefined;
  if (first.type !== 'OrderPlaced') throw new Error(`Order ${orderId} does not start with OrderPlaced`);
  const state: Mutable<OrderState> = {
    id: orderId,
    user_id: first.data.user_id,
    status: 'pending',
    requested: first.data.items,
    payment_method: first.data.payment_method,
    idempotency_key: first.data.idempotency_key ?? null,
    items: first.data.items.map((i) => ({ ...i, unit_price_minor: null })),
    total_minor: null,
    currency: DEFAULT_CURRENCY,
    reserved: false,
    payment_id: null,
    declined: null,
    cancellation: null,
    refunded: false,
    released: false,
    confirmed_version: null,
    cancelled: null,
    cancel_reason: null,
    shipped_by: null,
    version: first.version,
    created_at: first.occurred_at,
    updated_at: first.occurred_at,
    next: { kind: 'none' },
  };
  for (const event of rest) apply(state, event);
  state.next = nextStep(state);
  return state;
}

function apply(state: Mutable<OrderState>, event: RecordedEvent): void {
  state.version = event.version;
  state.updated_at = event.occurred_at;
  switch (event.type) {
    case 'OrderPlaced':
      throw new Error(`Order ${state.id} was placed twice`);
    case 'StockReserved':
      state.reserved = true;
      state.items = event.data.items;
      state.total_minor = event.data.total_minor;
      state.currency = event.data.currency;
      return;
    case 'PaymentCharged':
      state.payment_id = event.data.payment_id;
      return;
    case 'OrderConfirmed':
      state.status = 'confirmed';
      state.confirmed_version = event.version;
      return;
    case 'PaymentDeclined':
      state.declined = event.data;
      return;
    case 'StockReleased':
      state.released = true;
      return;
    case 'CancellationRequested':
      state.cancellation = { by: event.data.by };
      return;
    case 'PaymentRefunded':
      state.refunded = true;
      return;
    case 'OrderCancelled':
      state.status = 'cancelled';
      state.cancelled = event.data.reason;
      state.cancel_reason = event.data.reason.code;
      return;
    case 'OrderShipped':
      state.status = 'shipped';
      state.shipped_by = event.data.by;
      return;
  }
}

/**
 * The saga's position. Compensation comes first: a cancellation refunds then releases; a declined
 * payment releases; a refund without a cancellation is the place saga giving up at its deadline.
 */
function nextStep(state: OrderState): SagaStep {
  if (state.status === 'cancelled' || state.status === 'shipped') return { kind: 'none' };
  if (state.cancellation) {
    if (!state.refunded) return { kind: 'refund' };
    if (!state.released) return { kind: 'release' };
    return { kind: 'cancel', reason: CANCELLED_BY_USER };
  }
  if (state.declined) {
    if (!state.released) return { kind: 'release' };
    return { kind: 'cancel', reason: state.declined };
  }
  if (state.refunded) {
    if (!state.released) return { kind: 'release' };
    return { kind: 'cancel', reason: ORDER_TIMEOUT };
  }
  if (state.status === 'confirmed') return { kind: 'none' };
  if (!state.reserved) return { kind: 'reserve' };
  if (state.payment_id === null) return { kind: 'charge' };
  return { kind: 'confirm' };
}

/** Whether the saga that placed the order has ended, and how. */
export function placeOutcome(
  state: OrderState,
):
  | { readonly kind: 'running' }
  | { readonly kind: 'confirmed' }
  | { readonly kind: 'failed'; reason: CancelReason } {
  if (state.confirmed_version !== null) return { kind: 'confirmed' };
  if (state.status === 'cancelled' && state.cancelled) return { kind: 'failed', reason: state.cancelled };
  return { kind: 'running' };
}

/** Whether a forward step of the place saga comes next, which its deadline may turn into compensation. */
export function isForwardPlaceStep(step: SagaStep): boolean {
  return step.kind === 'reserve' || step.kind === 'charge';
}

/** The order as the contract shows it. */
export function toOrder(state: OrderState): Order {
  return {
    id: state.id,
    user_id: state.user_id,
    items: state.items,
    total_minor: state.total_minor,
    currency: state.currency,
    status: state.status,
    cancel_reason: state.cancel_reason,
    created_at: state.created_at,
    updated_at: state.updated_at,
  };
}

/** An event as `getOrderEvents` shows it. */
export function toOrderEvent(event: RecordedEvent): OrderEvent {
  const data = event.data as Readonly<Record<string, unknown>>;
  return { type: event.type, version: event.version, occurred_at: event.occurred_at, data };
}
