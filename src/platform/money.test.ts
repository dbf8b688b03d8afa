import { describe, expect, it } from 'vitest';
import { hasCode } from './errors.ts';
import { parseMoney, renderMoney } from './money.ts';

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return hasCode(err, 'VALIDATION_FAILED') ? err.code : 'other';
  }
  return undefined;
}

describe('money', () => {
  it('writes v1 as decimal major units and v2 as minor units with a currency', () => {
    expect(renderMoney(1, 129999)).toBe(1299.99);
    expect(renderMoney(2, 129999)).toEqual({ amount_minor: 129999, currency: 'USD' });
  });

  it('reads v1 decimals exactly, including values binary floating point cannot hold', () => {
    expect(parseMoney(1, 1299.99, '/price')).toBe(129999);
    expect(parseMoney(1, 0.1, '/price')).toBe(10);
    expect(parseMoney(1, 19.99, '/price')).toBe(1999);
    expect(parseMoney(1, 12, '/price')).toBe(1200);
  });

  it('refuses more than two decimals, negatives, non-finite and non-numbers in v1', () => {
    for (const bad of [1.999, -1, Number.POSITIVE_INFINITY, Number.NaN, '12.00', null, { amount_minor: 1 }]) {
      expect(code(() => parseMoney(1, bad, '/price'))).toBe('VALIDATION_FAILED');
    }
  });

  it('reads v2 objects and refuses fractions, unsafe integers, other currencies and extra fields', () => {
    expect(parseMoney(2, { amount_minor: 500, currency: 'USD' }, '/price')).toBe(500);
    for (const bad of [
      5,
      { amount_minor: 1.5, currency: 'USD' },
      { amount_minor: 2 ** 53 + 1, currency: 'USD' },
      { amount_minor: 5, currency: 'EUR' },
      { amount_minor: 5, currency: 'USD', extra: true },
      { amount_minor: '5', currency: 'USD' },
    ]) {
      expect(code(() => parseMoney(2, bad, '/price'))).toBe('VALIDATION_FAILED');
    }
  });
});
