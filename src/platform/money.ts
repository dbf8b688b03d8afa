import { platformErrors } from './errors.ts';

/** Money as the API's v2 writes it. Internally every amount is integer minor units. */
export interface Money {
  readonly amount_minor: number;
  readonly currency: string;
}

export const DEFAULT_CURRENCY = 'USD';
/** The largest amount accepted anywhere: far below 2^53, so sums of many lines stay exact. */
export const MAX_AMOUNT_MINOR = 100_000_000_000;
const MINOR_PER_MAJOR = 100;

export type ApiVersion = 1 | 2;

/** v1 writes a decimal number of major units; v2 writes `{ amount_minor, currency }`. */
export function renderMoney(
  version: ApiVersion,
  amountMinor: number,
  currency = DEFAULT_CURRENCY,
): number | Money {
  if (version === 1) return amountMinor / MINOR_PER_MAJOR;
  return { amount_minor: amountMinor, currency };
}

/**
 * Reads money as the given version writes it and returns integer minor units.
 * v1: a number with at most two decimals; v2: `{ amount_minor, currency }` in the shop's currency.
 */
export function parseMoney(version: ApiVersion, value: unknown, path: string): number {
  if (version === 1) {
    if (typeof value !== 'number' || !Number.isFinite(value)) throw invalid(path, 'must be a number');
    const minor = Math.round(value * MINOR_PER_MAJOR);
    if (Math.abs(minor - value * MINOR_PER_MAJOR) > 1e-6)
      throw invalid(path, 'must have at most two decimals');
    return checkRange(minor, path);
  }
  if (typeof value !== 'object' || value === null) throw invalid(path, 'must be { amount_minor, currency }');
  const { amount_minor, currency, ...rest } = value as Record<string, unknown>;
  if (Object.keys(rest).length > 0) throw invalid(path, 'has unknown fields');
  if (typeof amount_minor !== 'number' || !Number.isSafeInteger(amount_minor)) {
    throw invalid(`${path}/amount_minor`, 'must be an integer');
  }
  if (currency !== DEFAULT_CURRENCY) throw invalid(`${path}/currency`, `must be ${DEFAULT_CURRENCY}`);
  return checkRange(amount_minor, path);
}

function checkRange(minor: number, path: string): number {
  if (minor < 0 || minor > MAX_AMOUNT_MINOR)
    throw invalid(path, `must be between 0 and ${MAX_AMOUNT_MINOR} minor units`);
  return minor;
}

function invalid(path: string, message: string) {
  return platformErrors.VALIDATION_FAILED(`${path} ${message}`, { errors: [{ path, message }] });
}
