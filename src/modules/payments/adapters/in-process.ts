import { inProcess } from '../../../platform/in-process.ts';
import { type PaymentsApi, paymentsMethods } from '../contract.ts';

/** The payments contract served in this process, with arguments and results copied as over a wire. */
export const createInProcessPayments = (service: PaymentsApi): PaymentsApi =>
  inProcess(service, paymentsMethods);
