import { notificationsMigrations } from '../../../migrations/notifications/index.ts';
import type { ModuleDatabase } from '../../platform/db/database.ts';
import type { EventBus } from '../../platform/events/bus.ts';
import { createSubscription, type Subscription } from '../../platform/events/consumer.ts';
import { createEventPipeline } from '../../platform/events/pipeline.ts';
import type { Logger } from '../../platform/log.ts';
import type { ModuleInstance } from '../../platform/module.ts';
import { createNotificationsInProcess } from './adapters/in-process.ts';
import type { NotificationsApi, NotificationsEvents } from './contract.ts';
import { type ConsumedEvents, createNotificationHandlers } from './handlers.ts';
import type { NotificationSender } from './ports.ts';
import type { NotificationsDatabase } from './repository.ts';
import { createNotificationsRoutes } from './routes.ts';
import { createDispatcher, createLogSender } from './sender.ts';
import { createNotificationsService } from './service.ts';

export interface NotificationsModuleDeps {
  readonly database: ModuleDatabase<NotificationsDatabase>;
  readonly bus: EventBus;
  readonly log: Logger;
  /** Where messages go; by default, one log line each. */
  readonly sender?: NotificationSender;
  /** How often the dispatcher retries unsent notifications when no event wakes it; 2 s by default. */
  readonly dispatchIntervalMs?: number;
}

export function createNotificationsModule(deps: NotificationsModuleDeps): ModuleInstance<NotificationsApi> {
  const { database, bus, log } = deps;
  // The module publishes nothing, but its subscription's transactions (with the inbox) run through the
  // outbox like every other module's, and the relay is started for the same uniformity.
  const { outbox, relay } = createEventPipeline<NotificationsDatabase, NotificationsEvents>({
    db: database.db,
    bus,
    log,
    source: 'notifications',
  });
  const dispatcher = createDispatcher({
    db: database.db,
    sender: deps.sender ?? createLogSender(log.child({ component: 'notification-sender' })),
    log: log.child({ component: 'notification-dispatcher' }),
    ...(deps.dispatchIntervalMs !== undefined ? { intervalMs: deps.dispatchIntervalMs } : {}),
  });
  const inbox = createSubscription<NotificationsDatabase, ConsumedEvents, NotificationsEvents>(
    'notifications',
    outbox,
    createNotificationHandlers(),
  );
  const subscription: Subscription = {
    consumer: inbox.consumer,
    types: inbox.types,
    async handle(event) {
      await inbox.handle(event);
      // Sending waits for the commit: the handler's transaction has ended by now.
      dispatcher.notify();
    },
  };
  const api = createNotificationsInProcess(createNotificationsService({ db: database.db }));
  return {
    name: 'notifications',
    api,
    routes: createNotificationsRoutes(api),
    migrations: notificationsMigrations,
    subscriptions: [subscription],
    // The composition root checks every module's database and the bus itself.
    checks: {},
    async start() {
      relay.start();
      dispatcher.start();
    },
    async stop() {
      await dispatcher.stop();
      await relay.stop();
    },
  };
}
