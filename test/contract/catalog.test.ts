import {
  type CatalogModuleDeps,
  createCatalogHttpClient,
  createCatalogModule,
  createCatalogRpcRoutes,
} from '../../src/modules/catalog/index.ts';
import { forEachAdapter, openRig } from '../support/contract-rig.ts';
import { defineCatalogContract } from './catalog.contract.ts';

await forEachAdapter((adapter) =>
  defineCatalogContract(adapter.name, async () => {
    const rig = openRig(adapter, 'catalog_contract');
    const database: CatalogModuleDeps['database'] = await rig.database('catalog');
    const catalog = await rig.start(createCatalogModule({ database, bus: rig.bus, log: rig.log }), database);
    return {
      api: await rig.reach(catalog.api, createCatalogRpcRoutes, createCatalogHttpClient),
      close: () => rig.close(),
    };
  }),
);
