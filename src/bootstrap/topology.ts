/**
 * Named topologies: which process hosts which module, and which process is the public entry point.
 * This file and the composition root are the only places that know how the shop is deployed.
 */

/** The modules of the shop, in the order they start (a module starts after those it calls). */
export const MODULE_NAMES = ['users', 'catalog', 'payments', 'notifications', 'orders'] as const;
export type ModuleName = (typeof MODULE_NAMES)[number];

/** The modules that consume events, each with its own queue (and dead-letter queue) over AMQP. */
export const EVENT_CONSUMERS: readonly ModuleName[] = ['notifications'];

/** How durable each module's writes are on SQLite: `FULL` where money or stock is written. */
export const DURABILITY: Readonly<Record<ModuleName, 'FULL' | 'NORMAL'>> = {
  users: 'NORMAL',
  catalog: 'FULL',
  payments: 'FULL',
  notifications: 'NORMAL',
  orders: 'FULL',
};

/** The public path prefixes each module owns; the gateway routes by them (longest prefix wins). */
export const PUBLIC_ROUTES: ReadonlyArray<{ prefix: string; service: ModuleName }> = [
  { prefix: '/auth', service: 'users' },
  { prefix: '/users', service: 'users' },
  { prefix: '/products', service: 'catalog' },
  { prefix: '/orders', service: 'orders' },
  { prefix: '/payments', service: 'payments' },
  { prefix: '/notifications', service: 'notifications' },
];

/** The public writes made idempotent by an `Idempotency-Key` (API.md): the gateway may send only these again. */
export const KEYED_WRITES: ReadonlyArray<{ method: string; path: string }> = [
  { method: 'POST', path: '/orders' },
];

/** One process of a topology: the modules it hosts, and whether it is the public gateway. */
export interface ProcessSpec {
  readonly modules: readonly ModuleName[];
  readonly gateway: boolean;
  /** How many instances `npm run start:split` runs, each on its own port. */
  readonly instances?: number;
  /** The first instance's port; further instances take the next ports up by 10. */
  readonly port: number;
  /**
   * Start order: lower waves are up before higher ones start. Consumers come first, so their queues
   * exist before anything is published (a broker drops a message no queue is bound for yet).
   */
  readonly wave: number;
}

export interface Topology {
  readonly name: string;
  readonly processes: Readonly<Record<string, ProcessSpec>>;
}

/** Every module in one process, on the in-memory bus: what `npm start` runs. */
export const monolith: Topology = {
  name: 'monolith',
  processes: { shop: { modules: MODULE_NAMES, gateway: true, port: 8000, wave: 0 } },
};

/** A gateway and one process per module (two of catalog), on Postgres and RabbitMQ. */
export const split: Topology = {
  name: 'split',
  processes: {
    gateway: { modules: [], gateway: true, port: 8000, wave: 2 },
    users: { modules: ['users'], gateway: false, port: 8101, wave: 1 },
    catalog: { modules: ['catalog'], gateway: false, port: 8102, instances: 2, wave: 1 },
    payments: { modules: ['payments'], gateway: false, port: 8103, wave: 1 },
    notifications: { modules: ['notifications'], gateway: false, port: 8104, wave: 0 },
    orders: { modules: ['orders'], gateway: false, port: 8105, wave: 1 },
  },
};

/**
 * Any other grouping works the same way; this one is run by the end-to-end suite to show it. Modules in
 * one process call each other in process (orders calls payments directly, catalog over HTTP), and
 * events still travel over RabbitMQ, since not every module is here.
 */
export const grouped: Topology = {
  name: 'grouped',
  processes: {
    gateway: { modules: [], gateway: true, port: 8000, wave: 2 },
    storefront: { modules: ['users', 'catalog'], gateway: false, port: 8201, wave: 1 },
    checkout: { modules: ['orders', 'payments'], gateway: false, port: 8202, wave: 1 },
    notifications: { modules: ['notifications'], gateway: false, port: 8203, wave: 0 },
  },
};

export const topologies: Readonly<Record<string, Topology>> = { monolith, split, grouped };

/** The port of one instance of a process: its spec's port, moved by `offset` (so topologies can share a host). */
export function instancePort(spec: ProcessSpec, instance: number, offset = 0): number {
  return spec.port + instance * 10 + offset;
}

/** The base URLs of every instance of the process hosting `module` in `topology`, on `host`. */
export function instanceUrls(
  topology: Topology,
  module: ModuleName,
  host = '127.0.0.1',
  portOffset = 0,
): string[] {
  const spec = Object.values(topology.processes).find((p) => p.modules.includes(module));
  if (!spec) return [];
  return Array.from(
    { length: spec.instances ?? 1 },
    (_, i) => `http://${host}:${instancePort(spec, i, portOffset)}`,
  );
}

/** What one process runs, resolved from a topology and a process name, or from an explicit module list. */
export interface ProcessRole {
  readonly name: string;
  readonly modules: readonly ModuleName[];
  readonly gateway: boolean;
}

export function resolveRole(options: {
  topology: string;
  process?: string | undefined;
  modules?: string | undefined;
  gateway?: boolean | undefined;
}): ProcessRole {
  if (options.modules !== undefined) {
    const modules = options.modules
      .split(',')
      .map((m) => m.trim())
      .filter(Boolean);
    for (const m of modules) {
      if (!(MODULE_NAMES as readonly string[]).includes(m))
        throw new Error(`SPLITSHOP_MODULES: unknown module ${m}`);
    }
    const hosted = MODULE_NAMES.filter((m) => modules.includes(m));
    return {
      name: hosted.join('+') || 'gateway',
      modules: hosted,
      gateway: options.gateway ?? hosted.length === 0,
    };
  }
  const topology = topologies[options.topology];
  if (!topology) throw new Error(`SPLITSHOP_TOPOLOGY: unknown topology ${options.topology}`);
  const names = Object.keys(topology.processes);
  const name = options.process ?? (names.length === 1 ? names[0]! : undefined);
  if (!name || !topology.processes[name]) {
    throw new Error(`SPLITSHOP_PROCESS must name one of ${names.join(', ')} for topology ${topology.name}`);
  }
  const spec = topology.processes[name]!;
  return { name, modules: spec.modules, gateway: options.gateway ?? spec.gateway };
}
