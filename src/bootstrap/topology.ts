/** The modules of the shop, in the order they start (a module starts after those it calls). */
export const MODULE_NAMES = ['users', 'catalog', 'payments', 'notifications', 'orders'] as const;
export type ModuleName = (typeof MODULE_NAMES)[number];

/** How durable each module's writes are: `FULL` where money or stock is written. */
export const DURABILITY: Readonly<Record<ModuleName, 'FULL' | 'NORMAL'>> = {
  users: 'NORMAL',
  catalog: 'FULL',
  payments: 'FULL',
  notifications: 'NORMAL',
  orders: 'FULL',
};

/** One process of a topology: the modules it hosts, and whether it serves the public edge. */
export interface ProcessSpec {
  readonly modules: readonly ModuleName[];
  readonly edge: boolean;
}

/** A named deployment: which process hosts which module. */
export interface Topology {
  readonly name: string;
  readonly processes: Readonly<Record<string, ProcessSpec>>;
}

/** Every module in one process, on the in-memory bus: what `npm start` runs. */
export const monolith: Topology = {
  name: 'monolith',
  processes: { shop: { modules: MODULE_NAMES, edge: true } },
};

export const topologies: Readonly<Record<string, Topology>> = { monolith };
