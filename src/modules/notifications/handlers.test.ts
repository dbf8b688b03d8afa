import type { Kysely } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { notificationsMigrations } from '../../../migrations/notifications/index.ts';
import { type ModuleDatabase, migrateToLatest, openDatabase } from '../../platform/db/database.ts';
import { createSubscription, type Subscription } from '../../platform/events/consumer.ts';
import { createEnvelope, type EventEnvelope } from '../../platform/events/envelope.ts';
import { createOutbox, type Outbox } from '../../platform/events/outbox.ts';
import type { NotificationsEvents } from './contract.ts';
import { type ConsumedEvents, createNotificationHandlers } from './handlers.ts';
import type { NotificationsDatabase } from './repository.ts';

function event<K extends keyof ConsumedEvents & string>(type: K, data: ConsumedEvents[K]): EventEnvelope {
  return createEnvelope(type.split('.')[0]!, type, data);
}

const registered = (user_id: string) =>
  event('users.user_registered', { user_id, username: `u-${user_id}`, email: `${user_id}@example.com` });
const confirmed = (user_id: string, order_id = 'o1') =>
  event('orders.order_confirmed', {
    order_id,
    user_id,
    total_minor: 2598,
    currency: 'USD',
    items: [{ product_id: 'p1', quantity: 2, unit_price_minor: 1299 }],
  });
const cancelled = (user_id: string, reason: string) =>
  event('orders.order_cancelled', { order_id: 'o1', user_id, reason });
const shipped = (user_id: string) => event('orders.order_shipped', { order_id: 'o1', user_id });

describe('notification handlers', () => {
  let database: ModuleDatabase<NotificationsDatabase>;
  let outbox: Outbox<NotificationsDatabase, NotificationsEvents>;
  let subscription: Subscription;

  beforeEach(async () => {
    database = openDatabase<NotificationsDatabase>({ url: 'sqlite::memory:' });
    await migrateToLatest(database.db as Kysely<unknown>, 'notifications', notificationsMigrations);
    outbox = createOutbox(database.db, 'notifications');
    subscription = createSubscription<NotificationsDatabase, ConsumedEvents, NotificationsEvents>(
      'notifications',
      outbox,
      createNotificationHandlers(),
    );
  });

  afterEach(async () => {
    await database.close();
  });

  const rows = () => database.db.selectFrom('notifications').selectAll().orderBy('id').execute();

  it.each([
    ['users.user_registered', registered('u1')],
    ['orders.order_confirmed', confirmed('u1')],
    ['orders.order_cancelled', cancelled('u1', 'CANCELLED_BY_USER')],
    ['orders.order_shipped', shipped('u1')],
  ])('makes exactly one unsent notification from %s', async (_type, envelope) => {
    await subscription.handle(envelope);
    const stored = await rows();
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({
      user_id: 'u1',
      event_id: envelope.id,
      channel: 'email',
      sent_at: null,
    });
    expect(stored[0]!.subject.length).toBeGreaterThan(0);
    expect(stored[0]!.body.length).toBeGreaterThan(0);
  });

  it('makes one notification from an envelope delivered twice', async () => {
    const envelope = confirmed('u1');
    await subscription.handle(envelope);
    await subscription.handle(envelope);
    expect(await rows()).toHaveLength(1);
    const inbox = await database.db.selectFrom('inbox').selectAll().execute();
    expect(inbox).toEqual([expect.objectContaining({ consumer: 'notifications', event_id: envelope.id })]);
  });

  it('makes one notification even when the inbox is bypassed, by the unique event id', async () => {
    const handler = createNotificationHandlers()['orders.order_shipped']!;
    const envelope = shipped('u1') as EventEnvelope<ConsumedEvents['orders.order_shipped']>;
    for (let i = 0; i < 2; i++) {
      await outbox.transaction((trx, emit) => handler(envelope, trx, emit));
    }
    expect(await rows()).toHaveLength(1);
  });

  it('makes one notification per distinct event of the same kind', async () => {
    await subscription.handle(confirmed('u1', 'o1'));
    await subscription.handle(confirmed('u1', 'o2'));
    expect(await rows()).toHaveLength(2);
  });

  it('notifies a user it has no contact for', async () => {
    await subscription.handle(shipped('stranger'));
    const contacts = await database.db.selectFrom('contacts').selectAll().execute();
    expect(contacts).toEqual([]);
    expect(await rows()).toEqual([expect.objectContaining({ user_id: 'stranger' })]);
  });

  it('tells a cancellation the user asked for from an order that failed', async () => {
    await subscription.handle(cancelled('u1', 'CANCELLED_BY_USER'));
    await subscription.handle(cancelled('u1', 'OUT_OF_STOCK'));
    await subscription.handle(cancelled('u1', 'PAYMENT_DECLINED'));
    const [byUser, outOfStock, declined] = await rows();
    expect(byUser!.subject).not.toBe(outOfStock!.subject);
    expect(byUser!.body).toContain('refunded');
    expect(outOfStock!.body).toContain('not been charged');
    expect(outOfStock!.body).not.toBe(declined!.body);
  });

  it('keeps the contact projection from users events, without notifying on an update', async () => {
    await subscription.handle(registered('u1'));
    await subscription.handle(
      event('users.user_updated', { user_id: 'u1', username: 'u-u1', email: 'new@example.com' }),
    );
    const contacts = await database.db.selectFrom('contacts').selectAll().execute();
    expect(contacts).toEqual([{ user_id: 'u1', username: 'u-u1', email: 'new@example.com' }]);
    expect(await rows()).toHaveLength(1);
  });

  it('ignores events it does not consume', async () => {
    await subscription.handle(createEnvelope('catalog', 'catalog.product_updated', { product_id: 'p1' }));
    expect(await rows()).toEqual([]);
  });
});
