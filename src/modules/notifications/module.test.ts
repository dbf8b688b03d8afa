import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type ModuleDatabase, migrateToLatest, openDatabase } from '../../platform/db/database.ts';
import type { EventBus } from '../../platform/events/bus.ts';
import { createEnvelope } from '../../platform/events/envelope.ts';
import { createMemoryBus } from '../../platform/events/memory-bus.ts';
import type { ModuleInstance } from '../../platform/module.ts';
import type { NotificationsApi } from './contract.ts';
import { createNotificationsModule } from './module.ts';
import type { NotificationSender } from './ports.ts';
import type { NotificationsDatabase } from './repository.ts';

describe('notifications module', () => {
  let dir: string;
  let database: ModuleDatabase<NotificationsDatabase>;
  // A second connection to the same file sees only what has been committed.
  let observer: ModuleDatabase<NotificationsDatabase>;
  let bus: EventBus;
  let module: ModuleInstance<NotificationsApi> | undefined;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'notifications-module-'));
    const url = `sqlite:${join(dir, 'notifications.db')}`;
    database = openDatabase<NotificationsDatabase>({ url });
    observer = openDatabase<NotificationsDatabase>({ url });
    bus = createMemoryBus();
  });

  afterEach(async () => {
    await module?.stop();
    module = undefined;
    await bus.close();
    await observer.close();
    await database.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function startModule(sender: NotificationSender): Promise<ModuleInstance<NotificationsApi>> {
    // An hour between ticks: only a handled event can wake the dispatcher within a test.
    module = createNotificationsModule({
      database,
      bus,
      log: pino({ level: 'silent' }),
      sender,
      dispatchIntervalMs: 3_600_000,
    });
    await migrateToLatest(database.db as Kysely<unknown>, module.name, module.migrations);
    await module.start();
    return module;
  }

  const shipped = createEnvelope('orders', 'orders.order_shipped', { order_id: 'o1', user_id: 'u1' });

  it('sends a notification after the handler has committed, woken by the event', async () => {
    const committedWhenSent: boolean[] = [];
    const started = await startModule({
      async send({ notification }) {
        const row = await observer.db
          .selectFrom('notifications')
          .select('id')
          .where('id', '=', notification.id)
          .executeTakeFirst();
        committedWhenSent.push(row !== undefined);
      },
    });
    expect(started.subscriptions).toHaveLength(1);
    await started.subscriptions[0]!.handle(shipped);

    await vi.waitFor(async () => {
      const row = await observer.db.selectFrom('notifications').selectAll().executeTakeFirstOrThrow();
      expect(row.sent_at).not.toBeNull();
    });
    expect(committedWhenSent).toEqual([true]);
  });

  it('keeps the notification and acknowledges the event when the send fails', async () => {
    let calls = 0;
    const started = await startModule({
      async send() {
        calls++;
        throw new Error('smtp down');
      },
    });
    await expect(started.subscriptions[0]!.handle(shipped)).resolves.toBeUndefined();
    await vi.waitFor(() => expect(calls).toBe(1));
    const row = await observer.db.selectFrom('notifications').selectAll().executeTakeFirstOrThrow();
    expect(row).toMatchObject({ user_id: 'u1', sent_at: null, attempts: 1 });
  });

  it('subscribes to the events it turns into notifications and contacts', async () => {
    const started = await startModule({ send: async () => {} });
    expect([...started.subscriptions[0]!.types].sort()).toEqual([
      'orders.order_cancelled',
      'orders.order_confirmed',
      'orders.order_shipped',
      'users.user_registered',
      'users.user_updated',
    ]);
    expect(started.subscriptions[0]!.consumer).toBe('notifications');
  });
});
