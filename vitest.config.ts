import { defineConfig } from 'vitest/config';

/**
 * Suites that take shared machine resources run one at a time, after the rest: the split topology binds
 * fixed ports, and the broker suite stops and starts RabbitMQ for everything on the machine.
 */
const SYSTEM = ['test/e2e/split.test.ts', 'src/platform/events/amqp-bus.test.ts'];

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 120_000,
    pool: 'forks',
    projects: [
      {
        extends: true,
        test: {
          name: 'unit-and-process',
          include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
          exclude: SYSTEM,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: { name: 'system', include: SYSTEM, fileParallelism: false, sequence: { groupOrder: 1 } },
      },
    ],
  },
});
