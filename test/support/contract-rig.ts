import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyPluginAsync } from 'fastify';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { describe } from 'vitest';
import { type ModuleDatabase, migrateToLatest, openDatabase } from '../../src/platform/db/database.ts';
import type { EventBus } from '../../src/platform/events/bus.ts';
import { createMemoryBus } from '../../src/platform/events/memory-bus.ts';
import { createLogger } from '../../src/platform/log.ts';
import type { ModuleInstance } from '../../src/platform/module.ts';
import type { InternalAuth } from '../../src/platform/rpc/identity.ts';
import { createTestDatabase } from './postgres.ts';
import { clientOptionsFor, hostRpc, testInternalAuth } from './rpc-host.ts';
import { needs } from './services.ts';

/**
 * One way a contract suite reaches a module: through its in-process adapter or its HTTP client (the
 * module's internal routes behind a real edge on a port), with its repository on SQLite or Postgres.
 */
export interface Adapter {
  readonly name: string;
  readonly transport: 'in-process' | 'http';
  readonly storage: 'sqlite' | 'postgres';
}

/** Every adapter a module's contract runs over; the Postgres one only where Postgres is (`needs`). */
export const ADAPTERS: readonly Adapter[] = [
  { name: 'in-process', transport: 'in-process', storage: 'sqlite' },
  { name: 'http', transport: 'http', storage: 'sqlite' },
  { name: 'in-process, Postgres', transport: 'in-process', storage: 'postgres' },
];

/** Defines `suite` once per adapter, the Postgres ones skipped loudly (or failed under CI) without Postgres. */
export async function forEachAdapter(suite: (adapter: Adapter) => void): Promise<void> {
  const postgres = await needs('postgres');
  for (const adapter of ADAPTERS) {
    if (adapter.storage === 'sqlite') suite(adapter);
    else describe.skipIf(!postgres)('on Postgres', () => suite(adapter));
  }
}

/** What a module's HTTP client factory returns: the contract over HTTP, and how to let go of it. */
interface ClientOf<Api> {
  readonly api: Api;
  close(): Promise<void>;
}

/**
 * The modules one contract test needs, wired as a process of the chosen adapter wires them: each on a
 * database of its own, one in-memory bus, and `close` undoing everything in reverse order.
 */
export interface Rig {
  readonly adapter: Adapter;
  readonly bus: EventBus;
  readonly log: Logger;
  /** A fresh database for `module`: a file in the rig's directory, or a Postgres database of its own. */
  database<DB>(module: string): Promise<ModuleDatabase<DB>>;
  /** Migrates and starts `module` on `database`; `close` stops it (before its database closes). */
  start<M extends ModuleInstance<unknown>>(module: M, database: { readonly db: unknown }): Promise<M>;
  /**
   * `api` as a caller reaches it: itself in process, or, over HTTP, the module's client talking to its
   * internal routes served by an edge of their own.
   */
  reach<Api>(
    api: Api,
    routes: (api: Api, auth: InternalAuth) => FastifyPluginAsync,
    client: (options: ReturnType<typeof clientOptionsFor>) => ClientOf<Api>,
  ): Promise<Api>;
  close(): Promise<void>;
}

/** Opens a rig for `adapter`; `label` names its temporary directory or Postgres databases. */
export function openRig(adapter: Adapter, label: string): Rig {
  const undo: Array<() => Promise<void> | void> = [];
  const bus = createMemoryBus();
  let dir: string | undefined;
  return {
    adapter,
    bus,
    log: createLogger({ level: 'silent' }),
    async database<DB>(module: string) {
      let url: string;
      if (adapter.storage === 'postgres') {
        const server = await createTestDatabase(`${label}_${module}`);
        undo.push(() => server.drop());
        url = server.url;
      } else {
        if (dir === undefined) {
          const made = mkdtempSync(join(tmpdir(), `${label}-`));
          dir = made;
          undo.push(() => rmSync(made, { recursive: true, force: true }));
        }
        url = `sqlite:${join(dir, `${module}.db`)}`;
      }
      const database = openDatabase<DB>({ url });
      undo.push(() => database.close());
      return database;
    },
    async start(module, database) {
      await migrateToLatest(database.db as Kysely<unknown>, module.name, module.migrations);
      await module.start();
      undo.push(() => module.stop());
      return module;
    },
    async reach(api, routes, client) {
      if (adapter.transport === 'in-process') return api;
      const host = await hostRpc(routes(api, testInternalAuth));
      undo.push(() => host.close());
      const reached = client(clientOptionsFor(host));
      undo.push(() => reached.close());
      return reached.api;
    },
    async close() {
      // In reverse: clients before the edges they call, modules before their databases, the bus last.
      for (const step of undo.reverse()) await step();
      await bus.close();
    },
  };
}
