import type { Transaction } from 'kysely';
import { isoNow } from '../../platform/clock.ts';
import type { ConsumerHandlers } from '../../platform/events/consumer.ts';
import type { EventEnvelope } from '../../platform/events/envelope.ts';
import { newId } from '../../platform/ids.ts';
import { renderMoney } from '../../platform/money.ts';
import type { OrdersEvents } from '../orders/index.ts';
import type { UsersEvents } from '../users/index.ts';
import type { NotificationsEvents } from './contract.ts';
import { insertNotification, type NotificationsDatabase, upsertContact } from './repository.ts';

/** The events this module consumes, as their publishers' contracts declare them. */
export type ConsumedEvents = Pick<UsersEvents, 'users.user_registered' | 'users.user_updated'> &
  Pick<OrdersEvents, 'orders.order_confirmed' | 'orders.order_cancelled' | 'orders.order_shipped'>;

export type NotificationHandlers = ConsumerHandlers<
  NotificationsDatabase,
  ConsumedEvents,
  NotificationsEvents
>;

/** What a notification says. */
export interface Message {
  readonly subject: string;
  readonly body: string;
}

/** The reason orders gives when the customer asked for the cancellation. */
const CANCELLED_BY_USER = 'CANCELLED_BY_USER';

/** Why placing an order failed, in the customer's words; the order was never charged. */
const FAILURE_EXPLANATIONS: Readonly<Record<string, string>> = {
  OUT_OF_STOCK: 'Some of the items are out of stock.',
  PRODUCT_NOT_FOUND: 'One of the products is no longer sold.',
  PAYMENT_DECLINED: 'Your card was declined.',
};

export function welcomeMessage(data: ConsumedEvents['users.user_registered']): Message {
  return {
    subject: 'Welcome to Splitshop',
    body: `Hi ${data.username}, your account is ready. Happy shopping!`,
  };
}

export function orderConfirmedMessage(data: ConsumedEvents['orders.order_confirmed']): Message {
  const count = data.items.reduce((sum, item) => sum + item.quantity, 0);
  const total = Number(renderMoney(1, data.total_minor, data.currency)).toFixed(2);
  return {
    subject: `Order ${data.order_id} confirmed`,
    body:
      `Your order ${data.order_id} is confirmed: ${count} ${count === 1 ? 'item' : 'items'}, ` +
      `${total} ${data.currency} charged. We will tell you when it ships.`,
  };
}

/** A cancellation the customer asked for and an order that could not be placed read differently. */
export function orderCancelledMessage(data: ConsumedEvents['orders.order_cancelled']): Message {
  if (data.reason === CANCELLED_BY_USER) {
    return {
      subject: `Order ${data.order_id} cancelled`,
      body: `Your order ${data.order_id} was cancelled as you asked. Your payment has been refunded.`,
    };
  }
  const explanation = FAILURE_EXPLANATIONS[data.reason];
  if (explanation) {
    return {
      subject: `Order ${data.order_id} could not be placed`,
      body: `We could not place your order ${data.order_id}. ${explanation} You have not been charged.`,
    };
  }
  return {
    subject: `Order ${data.order_id} cancelled`,
    body: `Your order ${data.order_id} was cancelled (${data.reason}).`,
  };
}

export function orderShippedMessage(data: ConsumedEvents['orders.order_shipped']): Message {
  return {
    subject: `Order ${data.order_id} shipped`,
    body: `Your order ${data.order_id} is on its way.`,
  };
}

async function notify(
  trx: Transaction<NotificationsDatabase>,
  event: EventEnvelope<{ user_id: string }>,
  message: Message,
): Promise<void> {
  await insertNotification(trx, {
    id: newId(),
    user_id: event.data.user_id,
    event_id: event.id,
    subject: message.subject,
    body: message.body,
    created_at: isoNow(),
  });
}

/**
 * One notification per notifying event, written in the consumer's transaction; sending happens later,
 * after commit, in the dispatcher. Users events also keep the local contact projection.
 */
export function createNotificationHandlers(): NotificationHandlers {
  return {
    async 'users.user_registered'(event, trx) {
      await upsertContact(trx, event.data);
      await notify(trx, event, welcomeMessage(event.data));
    },
    async 'users.user_updated'(event, trx) {
      await upsertContact(trx, event.data);
    },
    async 'orders.order_confirmed'(event, trx) {
      await notify(trx, event, orderConfirmedMessage(event.data));
    },
    async 'orders.order_cancelled'(event, trx) {
      await notify(trx, event, orderCancelledMessage(event.data));
    },
    async 'orders.order_shipped'(event, trx) {
      await notify(trx, event, orderShippedMessage(event.data));
    },
  };
}
