import {
  createNotificationsHttpClient,
  createNotificationsModule,
  createNotificationsRpcRoutes,
  type NotificationsDatabase,
} from '../../src/modules/notifications/index.ts';
import { forEachAdapter, openRig } from '../support/contract-rig.ts';
import { defineNotificationsContract } from './notifications.contract.ts';

// Events reach the module as its bus subscription would hand them over, in the process that hosts it;
// reads go through the adapter.
await forEachAdapter((adapter) =>
  defineNotificationsContract(adapter.name, async () => {
    const rig = openRig(adapter, 'notifications_contract');
    const database = await rig.database<NotificationsDatabase>('notifications');
    const notifications = await rig.start(
      createNotificationsModule({ database, bus: rig.bus, log: rig.log }),
      database,
    );
    const subscription = notifications.subscriptions[0]!;
    return {
      api: await rig.reach(notifications.api, createNotificationsRpcRoutes, createNotificationsHttpClient),
      deliver: (envelope) => subscription.handle(envelope),
      close: () => rig.close(),
    };
  }),
);
