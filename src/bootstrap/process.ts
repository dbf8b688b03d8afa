import type { FastifyInstance } from 'fastify';
import type { ProcessRole } from './topology.ts';

/** A built Splitshop process: its HTTP app, what it runs, and how to start its background work. */
export interface Shop {
  readonly app: FastifyInstance;
  readonly role: ProcessRole;
  /** Starts relays, recovers sagas, creates the first admin where users live. */
  start(): Promise<{ adminCreated: boolean }>;
}
