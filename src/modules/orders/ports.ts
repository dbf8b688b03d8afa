import type { CatalogApi } from '../catalog/index.ts';
import type { PaymentsApi } from '../payments/index.ts';

/** What the order saga needs from the catalog: stock taken and given back, by reservation id. */
export type CatalogPort = Pick<CatalogApi, 'reserveStock' | 'releaseStock'>;

/** What the order saga needs from payments: a charge and its refund, by idempotency key. */
export type PaymentsPort = Pick<PaymentsApi, 'charge' | 'refund'>;

export interface OrdersPorts {
  readonly catalog: CatalogPort;
  readonly payments: PaymentsPort;
}
