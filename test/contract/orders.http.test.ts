import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import pino from 'pino';
import {
  type CatalogModuleDeps,
  createCatalogHttpClient,
  createCatalogModule,
  createCatalogRpcRoutes,
} from '../../src/modules/catalog/index.ts';
import {
  createOrdersHttpClient,
  createOrdersModule,
  createOrdersRpcRoutes,
  type OrdersModuleDeps,
} from '../../src/modules/orders/index.ts';
import {
  createPaymentsHttpClient,
  createPaymentsModule,
  createPaymentsRpcRoutes,
  type PaymentsModuleDeps,
} from '../../src/modules/payments/index.ts';
import type { CallContext } from '../../src/platform/context.ts';
import { migrateToLatest, openDatabase } from '../../src/platform/db/database.ts';
import { createMemoryBus } from '../../src/platform/events/memory-bus.ts';
import type { ModuleInstance } from '../../src/platform/module.ts';
import { clientOptionsFor, hostRpc, testInternalAuth } from '../support/rpc-host.ts';
import { defineOrdersContract } from './orders.contract.ts';

const admin: CallContext = { requestId: 'contract-seed', actor: { id: 'admin-1', role: 'admin' } };

// Three processes in miniature: catalog and payments each behind their own edge, and orders behind a
// third, calling the other two through their HTTP clients, so the saga itself runs over HTTP.
defineOrdersContract('http', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'orders-contract-http-'));
  const log = pino({ level: 'silent' });
  const bus = createMemoryBus();
  const catalogDb: CatalogModuleDeps['database'] = openDatabase({ url: `sqlite:${join(dir, 'catalog.db')}` });
  const paymentsDb: PaymentsModuleDeps['database'] = openDatabase({
    url: `sqlite:${join(dir, 'payments.db')}`,
  });
  const ordersDb: OrdersModuleDeps['database'] = openDatabase({ url: `sqlite:${join(dir, 'orders.db')}` });

  const catalog = createCatalogModule({ database: catalogDb, bus, log });
  const payments = createPaymentsModule({ database: paymentsDb, bus, log });
  for (const [module, database] of [
    [catalog, catalogDb],
    [payments, paymentsDb],
  ] as const) {
    await migrateToLatest(database.db as Kysely<unknown>, module.name, module.migrations);
    await module.start();
  }
  const catalogHost = await hostRpc(createCatalogRpcRoutes(catalog.api, testInternalAuth));
  const paymentsHost = await hostRpc(createPaymentsRpcRoutes(payments.api, testInternalAuth));
  const catalogClient = createCatalogHttpClient(clientOptionsFor(catalogHost));
  const paymentsClient = createPaymentsHttpClient(clientOptionsFor(paymentsHost));

  const orders = createOrdersModule({
    database: ordersDb,
    bus,
    log,
    catalog: catalogClient.api,
    payments: paymentsClient.api,
  });
  await migrateToLatest(ordersDb.db as Kysely<unknown>, orders.name, orders.migrations);
  await orders.start();
  const ordersHost = await hostRpc(createOrdersRpcRoutes(orders.api, testInternalAuth));
  const ordersClient = createOrdersHttpClient(clientOptionsFor(ordersHost));

  const modules: Array<[ModuleInstance<unknown>, { close(): Promise<void> }]> = [
    [catalog, catalogDb],
    [payments, paymentsDb],
    [orders, ordersDb],
  ];
  return {
    api: ordersClient.api,
    async seedProduct({ price_minor, stock }) {
      const product = await catalogClient.api.createProduct(admin, {
        name: `Product ${Math.random()}`,
        price_minor,
        stock,
      });
      return product.id;
    },
    async stockOf(productId) {
      return (await catalogClient.api.getProduct(admin, productId)).stock;
    },
    async paymentsOf(orderId) {
      return paymentsClient.api.listPayments(admin, orderId);
    },
    async close() {
      await ordersClient.close();
      await ordersHost.close();
      // Orders stops its sagas before the modules it calls go away.
      await orders.stop();
      for (const client of [catalogClient, paymentsClient]) await client.close();
      for (const host of [catalogHost, paymentsHost]) await host.close();
      for (const [module] of modules.slice(0, 2).reverse()) await module.stop();
      await bus.close();
      for (const [, database] of modules) await database.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
