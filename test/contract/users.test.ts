import {
  createUsersHttpClient,
  createUsersModule,
  createUsersRpcRoutes,
  type UsersDatabase,
} from '../../src/modules/users/index.ts';
import { createLoginThrottle } from '../../src/platform/auth/login-throttle.ts';
import { forEachAdapter, openRig } from '../support/contract-rig.ts';
import { defineUsersContract } from './users.contract.ts';

await forEachAdapter((adapter) =>
  defineUsersContract(adapter.name, async () => {
    const rig = openRig(adapter, 'users_contract');
    const database = await rig.database<UsersDatabase>('users');
    const users = await rig.start(
      createUsersModule({
        database,
        bus: rig.bus,
        log: rig.log,
        passwordHashConcurrency: 4,
        loginThrottle: createLoginThrottle({ maxFailures: 10, windowSeconds: 900 }),
      }),
      database,
    );
    return {
      api: await rig.reach(users.api, createUsersRpcRoutes, createUsersHttpClient),
      close: () => rig.close(),
    };
  }),
);
