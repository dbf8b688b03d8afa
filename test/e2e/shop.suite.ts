import { afterAll, beforeAll, describe } from 'vitest';
import { adminLogin, type Client, createClient, type ShopContext } from '../support/http-client.ts';
import type { ShopHandle } from '../support/shop.ts';
import { defineCatalogSuite } from './catalog.suite.ts';
import { defineConventionsSuite } from './conventions.suite.ts';
import { defineFlowSuite } from './flow.suite.ts';
import { defineIdempotencySuite } from './idempotency.suite.ts';
import { defineIdentitySuite } from './identity.suite.ts';
import { defineOrderLifecycleSuite } from './order-lifecycle.suite.ts';
import { defineOrdersSuite } from './orders.suite.ts';
import { definePaymentsNotificationsSuite } from './payments-notifications.suite.ts';
import { defineRaceSuite } from './race.suite.ts';
import { defineSecuritySuite } from './security.suite.ts';
import { defineVersionsSuite } from './versions.suite.ts';

/**
 * The end-to-end suite: every claim of the public API, against one shop started once, whatever its
 * topology. Tests use their own users and products, so they do not depend on each other.
 */
export function defineShopSuite(topology: string, start: () => Promise<ShopHandle>): void {
  describe(`shop e2e (${topology})`, { timeout: 30_000 }, () => {
    let handle: ShopHandle | undefined;
    let context: ShopContext | undefined;

    beforeAll(async () => {
      handle = await start();
      const client: Client = createClient(handle.baseUrl);
      const adminToken = await adminLogin(client, handle.adminPassword);
      context = { client, adminToken, adminPassword: handle.adminPassword };
    }, 60_000);

    afterAll(async () => {
      await handle?.stop();
    }, 60_000);

    const shop = (): ShopContext => {
      if (!context) throw new Error('the shop did not start');
      return context;
    };

    defineFlowSuite(shop);
    defineIdentitySuite(shop);
    defineCatalogSuite(shop);
    defineVersionsSuite(shop);
    defineOrdersSuite(shop);
    defineOrderLifecycleSuite(shop);
    defineIdempotencySuite(shop);
    definePaymentsNotificationsSuite(shop);
    defineConventionsSuite(shop);
    defineSecuritySuite(shop);
    defineRaceSuite(shop);
  });
}
