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
import { forEachAdapter, openRig } from '../support/contract-rig.ts';
import { defineOrdersContract } from './orders.contract.ts';

const admin: CallContext = { requestId: 'contract-seed', actor: { id: 'admin-1', role: 'admin' } };

// The real catalog and payments modules, each on a database of its own. Over HTTP each is behind an
// edge of its own and orders calls them through their clients, so the saga itself runs over HTTP, and
// the suite calls orders through its client too: three processes in miniature.
await forEachAdapter((adapter) =>
  defineOrdersContract(adapter.name, async () => {
    const rig = openRig(adapter, 'orders_contract');
    const { bus, log } = rig;
    const catalogDb: CatalogModuleDeps['database'] = await rig.database('catalog');
    const paymentsDb: PaymentsModuleDeps['database'] = await rig.database('payments');
    const ordersDb: OrdersModuleDeps['database'] = await rig.database('orders');
    const catalogModule = await rig.start(createCatalogModule({ database: catalogDb, bus, log }), catalogDb);
    const paymentsModule = await rig.start(
      createPaymentsModule({ database: paymentsDb, bus, log }),
      paymentsDb,
    );
    const catalog = await rig.reach(catalogModule.api, createCatalogRpcRoutes, createCatalogHttpClient);
    const payments = await rig.reach(paymentsModule.api, createPaymentsRpcRoutes, createPaymentsHttpClient);
    // Started after the modules it calls, so it is stopped (its sagas let go) before they are.
    const orders = await rig.start(
      createOrdersModule({ database: ordersDb, bus, log, catalog, payments }),
      ordersDb,
    );
    return {
      api: await rig.reach(orders.api, createOrdersRpcRoutes, createOrdersHttpClient),
      async seedProduct({ price_minor, stock }) {
        const product = await catalog.createProduct(admin, {
          name: `Product ${Math.random()}`,
          price_minor,
          stock,
        });
        return product.id;
      },
      async stockOf(productId) {
        return (await catalog.getProduct(admin, productId)).stock;
      },
      paymentsOf: (orderId) => payments.listPayments(admin, orderId),
      close: () => rig.close(),
    };
  }),
);
