import { createHash } from 'node:crypto';
import { platformErrors } from '../../platform/errors.ts';
import type { PaymentMethod } from '../payments/index.ts';
import type { PlaceOrderInput } from './contract.ts';
import type { RequestedItem } from './events.ts';

export const MAX_LINES = 50;
export const MAX_QUANTITY = 1000;
export const MAX_PRODUCT_ID_LENGTH = 100;
export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;
export const PAYMENT_METHODS: readonly PaymentMethod[] = ['pm_card_visa', 'pm_card_chargeDeclined'];
export const DEFAULT_PAYMENT_METHOD: PaymentMethod = 'pm_card_visa';
/** Visible ASCII, as the `Idempotency-Key` header allows. */
export const IDEMPOTENCY_KEY_PATTERN = /^[\x21-\x7E]{1,255}$/;

/** A place-order request as the saga and the idempotency check see it. */
export interface NormalizedPlaceInput {
  /** One line per product, sorted by product id. */
  readonly items: RequestedItem[];
  readonly payment_method: PaymentMethod;
  readonly idempotency_key: string | undefined;
}

/**
 * Validates the input in the service, whichever transport brought it, merges lines of the same product
 * and sorts them, so that two ways of writing one request are the same request.
 */
export function normalizePlaceInput(input: PlaceOrderInput): NormalizedPlaceInput {
  const errors: Array<{ path: string; message: string }> = [];
  const items = Array.isArray(input.items) ? input.items : [];
  if (!Array.isArray(input.items) || items.length < 1 || items.length > MAX_LINES) {
    errors.push({ path: '/items', message: `must have 1 to ${MAX_LINES} lines` });
  }
  for (const [i, item] of items.entries()) {
    const id = item?.product_id;
    if (typeof id !== 'string' || id.length < 1 || id.length > MAX_PRODUCT_ID_LENGTH) {
      errors.push({
        path: `/items/${i}/product_id`,
        message: `must be 1 to ${MAX_PRODUCT_ID_LENGTH} characters`,
      });
    }
    const q = item?.quantity;
    if (!Number.isInteger(q) || q < 1 || q > MAX_QUANTITY) {
      errors.push({
        path: `/items/${i}/quantity`,
        message: `must be a whole number from 1 to ${MAX_QUANTITY}`,
      });
    }
  }
  const method = input.payment_method ?? DEFAULT_PAYMENT_METHOD;
  if (!PAYMENT_METHODS.includes(method)) {
    errors.push({ path: '/payment_method', message: `must be one of ${PAYMENT_METHODS.join(', ')}` });
  }
  const key = input.idempotency_key;
  if (key !== undefined && (typeof key !== 'string' || !IDEMPOTENCY_KEY_PATTERN.test(key))) {
    errors.push({ path: '/idempotency_key', message: 'must be 1 to 255 visible ASCII characters' });
  }
  if (errors.length > 0) {
    throw platformErrors.VALIDATION_FAILED(errors.map((e) => `${e.path} ${e.message}`).join('; '), {
      errors,
    });
  }
  const merged = new Map<string, number>();
  for (const { product_id, quantity } of items)
    merged.set(product_id, (merged.get(product_id) ?? 0) + quantity);
  const normalized = [...merged.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([product_id, quantity]) => ({ product_id, quantity }));
  return { items: normalized, payment_method: method, idempotency_key: key };
}

/** sha256 of a canonical JSON of what the request asks for: its normalized lines and payment method. */
export function requestHash(input: NormalizedPlaceInput): string {
  const canonical = JSON.stringify({
    items: input.items.map((i) => [i.product_id, i.quantity]),
    payment_method: input.payment_method,
  });
  return createHash('sha256').update(canonical).digest('hex');
}
