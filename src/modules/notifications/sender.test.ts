import { Writable } from 'node:stream';
import type { Kysely } from 'kysely';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { notificationsMigrations } from '../../../migrations/notifications/index.ts';
import { type ModuleDatabase, migrateToLatest, openDatabase } from '../../platform/db/database.ts';
import { createSubscription, type Subscription } from '../../platform/events/consumer.ts';
import { createEnvelope } from '../../platform/events/envelope.ts';
import { createOutbox } from '../../platform/events/outbox.ts';
import type { NotificationsEvents } from './contract.ts';
import { type ConsumedEvents, createNotificationHandlers } from './handlers.ts';
import type { NotificationSender } from './ports.ts';
import type { NotificationsDatabase } from './repository.ts';
import { createDispatcher, createLogSender, type Dispatcher } from './sender.ts';

const silent = pino({ level: 'silent' });

type Message = Parameters<NotificationSender['send']>[0];

describe('notification dispatcher', () => {
  let database: ModuleDatabase<NotificationsDatabase>;
  let subscription: Subscription;
  let dispatcher: Dispatcher | undefined;

  beforeEach(async () => {
    database = openDatabase<NotificationsDatabase>({ url: 'sqlite::memory:' });
    await migrateToLatest(database.db as Kysely<unknown>, 'notifications', notificationsMigrations);
    subscription = createSubscription<NotificationsDatabase, ConsumedEvents, NotificationsEvents>(
      'notifications',
      createOutbox(database.db, 'notifications'),
      createNotificationHandlers(),
    );
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
  });

  afterEach(async () => {
    await dispatcher?.stop();
    dispatcher = undefined;
    vi.useRealTimers();
    await database.close();
  });

  const shipped = (user_id: string) =>
    createEnvelope('orders', 'orders.order_shipped', { order_id: 'o1', user_id });
  const stored = () => database.db.selectFrom('notifications').selectAll().executeTakeFirstOrThrow();

  it('retries a failed send on its timer after the backoff, then marks it sent', async () => {
    const sent: Message[] = [];
    let failures = 1;
    dispatcher = createDispatcher({
      db: database.db,
      log: silent,
      intervalMs: 2000,
      baseBackoffMs: 5000,
      sender: {
        async send(message) {
          sent.push(message);
          if (failures-- > 0) throw new Error('smtp down');
        },
      },
    });
    await subscription.handle(shipped('u1'));

    dispatcher.start();
    await dispatcher.idle();
    expect(sent).toHaveLength(1);
    expect(await stored()).toMatchObject({ attempts: 1, sent_at: null });

    // The timer ticks, but the backoff has not passed yet.
    await vi.advanceTimersByTimeAsync(2000);
    await dispatcher.idle();
    expect(sent).toHaveLength(1);

    await vi.advanceTimersByTimeAsync(4000);
    await dispatcher.idle();
    expect(sent).toHaveLength(2);
    const row = await stored();
    expect(row.attempts).toBe(2);
    expect(row.sent_at).toBe(new Date().toISOString());
  });

  it('gives a notification up after its last attempt', async () => {
    let calls = 0;
    dispatcher = createDispatcher({
      db: database.db,
      log: silent,
      intervalMs: 500,
      baseBackoffMs: 1000,
      maxAttempts: 3,
      sender: {
        async send() {
          calls++;
          throw new Error('smtp down');
        },
      },
    });
    await subscription.handle(shipped('u1'));
    dispatcher.start();
    for (let i = 0; i < 60; i++) {
      await vi.advanceTimersByTimeAsync(500);
      await dispatcher.idle();
    }
    expect(calls).toBe(3);
    expect(await stored()).toMatchObject({ attempts: 3, sent_at: null });
  });

  it('sends a notification once when it is woken', async () => {
    const sent: Message[] = [];
    dispatcher = createDispatcher({
      db: database.db,
      log: silent,
      intervalMs: 3_600_000,
      sender: { send: async (message) => void sent.push(message) },
    });
    dispatcher.start();
    await dispatcher.idle();
    await subscription.handle(shipped('u1'));
    dispatcher.notify();
    await dispatcher.idle();
    dispatcher.notify();
    await dispatcher.idle();
    expect(sent).toHaveLength(1);
    expect((await stored()).sent_at).not.toBeNull();
  });

  it('addresses the message with the contact known when it sends', async () => {
    const sent: Message[] = [];
    dispatcher = createDispatcher({
      db: database.db,
      log: silent,
      sender: { send: async (message) => void sent.push(message) },
    });
    await subscription.handle(
      createEnvelope('users', 'users.user_registered', {
        user_id: 'u1',
        username: 'ada',
        email: 'ada@example.com',
      }),
    );
    await subscription.handle(shipped('stranger'));
    dispatcher.start();
    await dispatcher.idle();
    expect(sent.map((m) => m.to)).toEqual([
      { user_id: 'u1', email: 'ada@example.com', username: 'ada' },
      { user_id: 'stranger', email: null, username: null },
    ]);
    expect(sent[0]!.notification).toMatchObject({ user_id: 'u1', channel: 'email' });
  });

  it('lets the send in flight finish when it stops', async () => {
    let release!: () => void;
    let entered!: () => void;
    const inSend = new Promise<void>((resolve) => {
      entered = resolve;
    });
    dispatcher = createDispatcher({
      db: database.db,
      log: silent,
      sender: {
        send: () =>
          new Promise<void>((resolve) => {
            release = resolve;
            entered();
          }),
      },
    });
    await subscription.handle(shipped('u1'));
    dispatcher.start();
    await inSend;

    let stopped = false;
    const stopping = dispatcher.stop().then(() => {
      stopped = true;
    });
    await vi.advanceTimersByTimeAsync(10);
    expect(stopped).toBe(false);
    release();
    await stopping;
    expect((await stored()).sent_at).not.toBeNull();
  });
});

describe('log sender', () => {
  it('writes one info line per message, without the body or the address', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const stream = new Writable({
      write(chunk, _encoding, done) {
        lines.push(JSON.parse(String(chunk)));
        done();
      },
    });
    const sender = createLogSender(pino({ level: 'info' }, stream));
    await sender.send({
      notification: {
        id: 'n1',
        user_id: 'u1',
        channel: 'email',
        subject: 'Order o1 shipped',
        body: 'secret body text',
        created_at: '2025-01-01T00:00:00.000Z',
      },
      to: { user_id: 'u1', email: 'ada@example.com', username: 'ada' },
    });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 30, notification_id: 'n1', user_id: 'u1' });
    const text = JSON.stringify(lines[0]);
    expect(text).not.toContain('secret body text');
    expect(text).not.toContain('ada@example.com');
  });
});
