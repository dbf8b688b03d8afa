import type { FastifyPluginAsync } from 'fastify';
import type { Migrations } from './db/database.ts';
import type { Subscription } from './events/consumer.ts';
import type { HealthChecks } from './http/health.ts';

/**
 * What every `createXModule(deps)` returns. The composition root runs the migrations, mounts the
 * public routes at the edge, subscribes the subscriptions to the bus, and starts and stops the module.
 */
export interface ModuleInstance<Api> {
  readonly name: string;
  /** The contract, implemented in process. Other modules receive it (or its HTTP client) as ports. */
  readonly api: Api;
  /** The module's public routes (the part of API.md it owns), an encapsulated fastify plugin. */
  readonly routes: FastifyPluginAsync;
  readonly migrations: Migrations;
  readonly subscriptions: readonly Subscription[];
  /** Health checks of what this module needs beyond its database, by name, each saying if it is required. */
  readonly checks: HealthChecks;
  /** Starts background work: the outbox relay, recovery, sweeps. Called after migrations. */
  start(): Promise<void>;
  /** Stops background work, letting work in flight finish. */
  stop(): Promise<void>;
}
