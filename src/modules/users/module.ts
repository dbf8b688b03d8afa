import { usersMigrations } from '../../../migrations/users/index.ts';
import type { LoginThrottle } from '../../platform/auth/login-throttle.ts';
import type { ModuleDatabase } from '../../platform/db/database.ts';
import type { EventBus } from '../../platform/events/bus.ts';
import { createEventPipeline } from '../../platform/events/pipeline.ts';
import type { Logger } from '../../platform/log.ts';
import type { ModuleInstance } from '../../platform/module.ts';
import { createUsersInProcessAdapter } from './adapters/in-process.ts';
import type { UsersApi, UsersEvents } from './contract.ts';
import { createPasswordHasher } from './password.ts';
import { createUsersRepository, type UsersDatabase } from './repository.ts';
import { createUsersRoutes } from './routes.ts';
import { accountNamedBy, createUsersService } from './service.ts';

export interface UsersModuleDeps {
  readonly database: ModuleDatabase<UsersDatabase>;
  readonly bus: EventBus;
  readonly log: Logger;
  /** argon2 computations at once; each holds about 19 MiB. */
  readonly passwordHashConcurrency: number;
  /** Failed-login counting for `POST /auth/login`. */
  readonly loginThrottle: LoginThrottle;
}

/** The users module: identity, credentials, roles and the first admin. */
export function createUsersModule(deps: UsersModuleDeps): ModuleInstance<UsersApi> {
  const { database, bus, log } = deps;
  const { outbox, relay } = createEventPipeline<UsersDatabase, UsersEvents>({
    db: database.db,
    bus,
    log,
    source: 'users',
  });
  const repository = createUsersRepository(database.db);
  const service = createUsersService({
    repository,
    outbox,
    passwords: createPasswordHasher({ concurrency: deps.passwordHashConcurrency }),
    log,
  });
  const api = createUsersInProcessAdapter(service);
  return {
    name: 'users',
    api,
    routes: createUsersRoutes(api, {
      loginThrottle: deps.loginThrottle,
      accountOf: async (login) => {
        const row = await accountNamedBy(repository, login);
        return row && { id: row.id, sessionVersion: row.session_version };
      },
    }),
    migrations: usersMigrations,
    subscriptions: [],
    // The composition root checks the database itself; nothing else is needed here.
    checks: {},
    async start() {
      relay.start();
    },
    async stop() {
      await relay.stop();
    },
  };
}
