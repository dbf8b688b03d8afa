import { startMonolith } from '../support/shop.ts';
import { defineShopSuite } from './shop.suite.ts';

defineShopSuite('monolith', () => startMonolith());
