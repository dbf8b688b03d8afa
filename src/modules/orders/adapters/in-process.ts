import { inProcess } from '../../../platform/in-process.ts';
import { type OrdersApi, ordersMethods } from '../contract.ts';

/** The orders contract served in process, with arguments and results copied as over the wire. */
export function createInProcessOrders(service: OrdersApi): OrdersApi {
  return inProcess(service, ordersMethods);
}
