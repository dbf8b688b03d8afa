import {
  createPaymentsHttpClient,
  createPaymentsModule,
  createPaymentsRpcRoutes,
  type PaymentsModuleDeps,
} from '../../src/modules/payments/index.ts';
import { forEachAdapter, openRig } from '../support/contract-rig.ts';
import { definePaymentsContract } from './payments.contract.ts';

await forEachAdapter((adapter) =>
  definePaymentsContract(adapter.name, async () => {
    const rig = openRig(adapter, 'payments_contract');
    const database: PaymentsModuleDeps['database'] = await rig.database('payments');
    const payments = await rig.start(
      createPaymentsModule({ database, bus: rig.bus, log: rig.log }),
      database,
    );
    return {
      api: await rig.reach(payments.api, createPaymentsRpcRoutes, createPaymentsHttpClient),
      close: () => rig.close(),
    };
  }),
);
