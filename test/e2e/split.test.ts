import { describe } from 'vitest';
import { needs } from '../support/services.ts';
import { startSplit } from '../support/split.ts';
import { defineShopSuite } from './shop.suite.ts';

// The very suite the monolith passes, against a gateway and one process per module on Postgres and RabbitMQ.
describe.skipIf(!(await needs('postgres', 'rabbitmq', 'redis')))('split topology', () => {
  defineShopSuite('split', () => startSplit());
});
