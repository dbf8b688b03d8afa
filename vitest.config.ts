import { defineConfig } from 'vitest/config';

/**
 * Suites that take shared machine resources run one at a time, after the rest: the broker suite stops
 * and starts RabbitMQ for everything on the machine, and the split topology is seven processes.
 */
const SYSTEM = [
  'test/e2e/split.test.ts',
  'test/e2e/grouped.test.ts',
  'test/e2e/start-split.test.ts',
  'src/platform/events/amqp-bus.test.ts',
];
/** Fault, fuzz and security suites: `npm run test:faults`, last, one file at a time; they print figures. */
const FAULTS = ['test/faults/**/*.test.ts'];

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
          exclude: [...SYSTEM, ...FAULTS],
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: { name: 'system', include: SYSTEM, fileParallelism: false, sequence: { groupOrder: 1 } },
      },
      {
        extends: true,
        test: {
          name: 'faults',
          include: FAULTS,
          fileParallelism: false,
          globalSetup: ['test/support/figures-setup.ts'],
          sequence: { groupOrder: 2 },
        },
      },
    ],
  },
});
