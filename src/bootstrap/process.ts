import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { ProcessRole } from './topology.ts';

/** A built Splitshop process: its HTTP app, what it runs, and how to start its background work. */
export interface Shop {
  readonly app: FastifyInstance;
  readonly role: ProcessRole;
  /** Its metrics, for the metrics listener (`METRICS_PORT`). */
  readonly metrics: Registry;
  /** Starts relays, recovers sagas, creates the first admin where users live. */
  start(): Promise<{ adminCreated: boolean }>;
}
