import type { CallContext } from '../../platform/context.ts';
import { isAppError } from '../../platform/errors.ts';
import type { Loaded } from './event-store.ts';
import {
  type CancelReason,
  type DomainEvent,
  fold,
  isForwardPlaceStep,
  type OrderState,
  type RecordedEvent,
  type SagaStep,
} from './events.ts';
import type { OrdersPorts } from './ports.ts';
import type { SagaRow } from './repository.ts';

/** The step to run now: the fold's, unless a place saga is past its deadline without a charge. */
export function chooseStep(state: OrderState, saga: SagaRow, now: number): SagaStep {
  const step = state.next;
  if (saga.kind === 'place' && isForwardPlaceStep(step) && now >= saga.deadline_at) return { kind: 'refund' };
  return step;
}

/** The events of a step that calls no participant (confirm, cancel); undefined for any other step. */
function localStepEvents(step: SagaStep): DomainEvent[] | undefined {
  if (step.kind === 'confirm') return [{ type: 'OrderConfirmed', data: {} }];
  if (step.kind === 'cancel') return [{ type: 'OrderCancelled', data: { reason: step.reason } }];
  return undefined;
}

/**
 * `events` (a step's outcome) followed by the events of the steps after it that call no participant:
 * nothing outside happens between them, so they commit in one transaction and the saga's state is
 * still recorded before every participant call.
 */
export function withLocalSteps(
  loaded: Loaded,
  events: DomainEvent[],
  saga: SagaRow,
  now: number,
): DomainEvent[] {
  if (!loaded.state || events.length === 0) return events;
  const { version, updated_at } = loaded.state;
  const all = [...events];
  for (;;) {
    const pending = all.map(
      (e, i) => ({ ...e, version: version + i + 1, occurred_at: updated_at }) as RecordedEvent,
    );
    const next = localStepEvents(chooseStep(fold(saga.order_id, [...loaded.events, ...pending])!, saga, now));
    if (!next) return all;
    all.push(...next);
  }
}

/** An AppError under 500 from a participant is its answer; anything else may go away if tried again. */
export function isDomainAnswer(error: unknown): error is { code: string; status: number; title: string } {
  return isAppError(error) && error.status < 500;
}

function reasonOf(error: { code: string; status: number; title: string; detail?: string | undefined }) {
  const reason: CancelReason = { code: error.code, status: error.status, title: error.title };
  return error.detail && error.detail !== error.title ? { ...reason, detail: error.detail } : reason;
}

/** Keys that make every participant call safe to repeat after a crash. */
export const chargeKey = (orderId: string) => `${orderId}:charge`;
export const refundKey = (orderId: string) => `${orderId}:refund`;

/**
 * Runs one step against the participants and returns the events recording its outcome. A domain
 * answer to a forward step becomes a failure event; a compensation step raises until it succeeds.
 */
export async function performStep(
  step: SagaStep,
  state: OrderState,
  ports: OrdersPorts,
  ctx: CallContext,
): Promise<DomainEvent[]> {
  const orderId = state.id;
  switch (step.kind) {
    case 'reserve':
      try {
        const reservation = await ports.catalog.reserveStock(ctx, {
          reservation_id: orderId,
          items: state.requested,
        });
        return [
          {
            type: 'StockReserved',
            data: {
              items: reservation.items.map((i) => ({
                product_id: i.product_id,
                quantity: i.quantity,
                unit_price_minor: i.unit_price_minor,
              })),
              total_minor: reservation.total_minor,
              currency: reservation.currency,
            },
          },
        ];
      } catch (err) {
        // Nothing was reserved, so there is nothing to compensate.
        if (isDomainAnswer(err)) return [{ type: 'OrderCancelled', data: { reason: reasonOf(err) } }];
        throw err;
      }
    case 'charge':
      try {
        const payment = await ports.payments.charge(ctx, {
          idempotency_key: chargeKey(orderId),
          order_id: orderId,
          user_id: state.user_id,
          amount_minor: state.total_minor ?? 0,
          currency: state.currency,
          payment_method: state.payment_method,
        });
        if (payment.status !== 'succeeded') {
          return [
            {
              type: 'PaymentDeclined',
              data: { code: 'PAYMENT_DECLINED', status: 402, title: 'The card was declined' },
            },
          ];
        }
        return [
          { type: 'PaymentCharged', data: { payment_id: payment.id, amount_minor: payment.amount_minor } },
        ];
      } catch (err) {
        if (isDomainAnswer(err)) return [{ type: 'PaymentDeclined', data: reasonOf(err) }];
        throw err;
      }
    case 'confirm':
    case 'cancel':
      return localStepEvents(step) ?? [];
    case 'refund': {
      const refund = await ports.payments.refund(ctx, {
        idempotency_key: refundKey(orderId),
        order_id: orderId,
        charge_key: chargeKey(orderId),
      });
      return [{ type: 'PaymentRefunded', data: { payment_id: refund?.id ?? null } }];
    }
    case 'release':
      await ports.catalog.releaseStock(ctx, { reservation_id: orderId });
      return [{ type: 'StockReleased', data: {} }];
    case 'none':
      return [];
  }
}
