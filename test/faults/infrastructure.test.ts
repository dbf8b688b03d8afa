import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { recordFigures } from '../support/figures.ts';
import { createInfrastructureKit } from '../support/infrastructure-kit.ts';
import { summarize } from '../support/load.ts';
import { needs } from '../support/services.ts';
import { defineBrokerFaults } from './infrastructure-broker.suite.ts';
import { defineProcessFaults } from './infrastructure-processes.suite.ts';
import { defineProxyFaults } from './infrastructure-proxy.suite.ts';

/** Every kind of fault the scenarios put the shop through, once each. */
const FAULT_POINTS = [
  ...['users', 'catalog#1', 'catalog#2', 'payments', 'notifications', 'orders'].map((p) => `SIGKILL ${p}`),
  'one catalog instance of two down',
  "a catalog instance's answers lost",
  'SIGTERM orders',
  'SIGTERM notifications',
  'RabbitMQ stopped 30 s',
  'poison message',
  ...['latency', 'timeout', 'reset', 'down'].map((toxic) => `payments behind a ${toxic} toxic`),
];

/**
 * Infrastructure faults while a steady stream of orders and reads runs through the split topology:
 * processes killed and stopped, an instance's answers lost, the broker stopped, a faulty network in
 * front of a service, a poison message. Each scenario ends with the invariant check of every database
 * and the broker. One shop serves them all, in order; this file alone stops the broker.
 */
describe.skipIf(!(await needs('postgres', 'rabbitmq', 'redis')))(
  'infrastructure faults under load (split)',
  () => {
    const kit = createInfrastructureKit();
    beforeAll(() => kit.start(), 180_000);
    beforeEach(() => kit.restartExited(), 120_000);
    afterAll(() => kit.stop(), 120_000);

    defineProcessFaults(kit);
    defineBrokerFaults(kit);
    defineProxyFaults(kit);

    it('publishes its figures', async () => {
      expect([...kit.passed].sort()).toEqual(
        ['broker outage', 'catalog instance', 'lost answer', 'poison', 'proxy', 'sigkill', 'sigterm'].sort(),
      );
      await kit.load.pause();
      const { rps, seconds, p99Ms, errors5xx, unanswered } = summarize(
        kit.load.outcomes,
        kit.load.activeSeconds,
      );
      // Whatever failed behind it, the gateway answered every request of the whole run.
      expect(unanswered).toBe(0);
      const { acknowledged, present, eventsCommitted, appliedOnce } = kit.reports.at(-1)!;
      recordFigures('infrastructure faults (split)', {
        load: { rps, seconds, p99Ms, errors5xx },
        faults: { points: FAULT_POINTS.length, runs: 1 },
        nothingLost: { acknowledged, present, eventsCommitted, appliedOnce },
      });
    });
  },
);
