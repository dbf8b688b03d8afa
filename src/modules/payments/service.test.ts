import type { Kysely } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { paymentsMigrations } from '../../../migrations/payments/index.ts';
import type { CallContext } from '../../platform/context.ts';
import { type ModuleDatabase, migrateToLatest, openDatabase } from '../../platform/db/database.ts';
import { hasCode } from '../../platform/errors.ts';
import { createOutbox } from '../../platform/events/outbox.ts';
import { MAX_AMOUNT_MINOR } from '../../platform/money.ts';
import type { ChargeInput, PaymentsApi, PaymentsEvents } from './contract.ts';
import type { PaymentsDatabase } from './repository.ts';
import { createPaymentsService } from './service.ts';

const saga: CallContext = { requestId: 'r-saga', actor: { id: 'u-1', role: 'customer' } };

describe('payments service', () => {
  let database: ModuleDatabase<PaymentsDatabase>;
  let service: PaymentsApi;
  let now: Date;

  beforeEach(async () => {
    database = openDatabase<PaymentsDatabase>({ url: 'sqlite::memory:' });
    await migrateToLatest(database.db as Kysely<unknown>, 'payments', paymentsMigrations);
    now = new Date('2030-01-01T00:00:00.000Z');
    const outbox = createOutbox<PaymentsDatabase, PaymentsEvents>(database.db, 'payments');
    service = createPaymentsService({ db: database.db, outbox, clock: { now: () => now } });
  });
  afterEach(async () => {
    await database.close();
  });

  const charge = (overrides: Partial<ChargeInput> = {}) =>
    service.charge(saga, {
      idempotency_key: 'o-1:charge',
      order_id: 'o-1',
      user_id: 'u-1',
      amount_minor: 2598,
      currency: 'USD',
      payment_method: 'pm_card_visa',
      ...overrides,
    });
  const refund = (idempotency_key = 'o-1:refund', charge_key = 'o-1:charge') =>
    service.refund(saga, { idempotency_key, order_id: 'o-1', charge_key });
  const rows = () => database.db.selectFrom('payments').selectAll().orderBy('created_at').execute();
  const events = async () => {
    const outbox = await database.db.selectFrom('outbox').select('envelope').orderBy('seq').execute();
    return outbox.map((row) => JSON.parse(row.envelope) as { type: string; data: unknown });
  };
  const rejection = (promise: Promise<unknown>) =>
    promise.then(
      () => expect.fail('expected a rejection'),
      (error: unknown) => error,
    );

  it('charges once per key and emits payment_succeeded with the charge', async () => {
    const first = await charge();
    expect(first).toEqual({
      id: expect.any(String),
      order_id: 'o-1',
      user_id: 'u-1',
      kind: 'charge',
      amount_minor: 2598,
      currency: 'USD',
      status: 'succeeded',
      created_at: '2030-01-01T00:00:00.000Z',
    });
    expect(await charge({ amount_minor: 1 })).toEqual(first);
    expect(await rows()).toHaveLength(1);
    expect(await events()).toEqual([
      expect.objectContaining({
        type: 'payments.payment_succeeded',
        data: { payment_id: first.id, order_id: 'o-1', user_id: 'u-1', amount_minor: 2598 },
      }),
    ]);
  });

  it('commits a declined charge before raising PAYMENT_DECLINED, and declines every retry', async () => {
    const error = await rejection(charge({ payment_method: 'pm_card_chargeDeclined' }));
    expect(hasCode(error, 'PAYMENT_DECLINED')).toBe(true);
    expect(await rows()).toEqual([
      expect.objectContaining({ kind: 'charge', status: 'failed', payment_method: 'pm_card_chargeDeclined' }),
    ]);
    // A retry with a good card under the same key is the same declined charge.
    expect(hasCode(await rejection(charge()), 'PAYMENT_DECLINED')).toBe(true);
    expect(await rows()).toHaveLength(1);
    expect(await events()).toEqual([]);
  });

  it.each([
    ['a negative amount', { amount_minor: -1 }, '/amount_minor'],
    ['a fractional amount', { amount_minor: 10.5 }, '/amount_minor'],
    ['an amount over the maximum', { amount_minor: MAX_AMOUNT_MINOR + 1 }, '/amount_minor'],
    ['an unknown payment method', { payment_method: 'pm_card_bogus' as never }, '/payment_method'],
    ['a bad currency', { currency: 'usd' }, '/currency'],
    ['an empty key', { idempotency_key: '' }, '/idempotency_key'],
  ])('refuses %s before writing anything', async (_label, overrides, path) => {
    const error = await rejection(charge(overrides));
    expect(hasCode(error, 'VALIDATION_FAILED')).toBe(true);
    expect((error as { extra: unknown }).extra).toEqual({ errors: [expect.objectContaining({ path })] });
    expect(await rows()).toEqual([]);
  });

  it('accepts a zero amount and the maximum', async () => {
    expect(await charge({ amount_minor: 0 })).toMatchObject({ amount_minor: 0 });
    expect(await charge({ idempotency_key: 'k2', amount_minor: MAX_AMOUNT_MINOR })).toMatchObject({
      amount_minor: MAX_AMOUNT_MINOR,
    });
  });

  it('refunds a charge once, with its amount, and emits payment_refunded', async () => {
    await charge();
    now = new Date('2030-01-01T00:01:00.000Z');
    const refunded = await refund();
    expect(refunded).toEqual({
      id: expect.any(String),
      order_id: 'o-1',
      user_id: 'u-1',
      kind: 'refund',
      amount_minor: 2598,
      currency: 'USD',
      status: 'succeeded',
      created_at: '2030-01-01T00:01:00.000Z',
    });
    expect(await refund()).toEqual(refunded);
    expect(await refund('another-refund-key')).toEqual(refunded);
    expect((await rows()).map((r) => [r.kind, r.charge_key])).toEqual([
      ['charge', null],
      ['refund', 'o-1:charge'],
    ]);
    expect((await events()).map((e) => e.type)).toEqual([
      'payments.payment_succeeded',
      'payments.payment_refunded',
    ]);
    expect((await events())[1]!.data).toEqual({
      payment_id: refunded!.id,
      order_id: 'o-1',
      user_id: 'u-1',
      amount_minor: 2598,
    });
  });

  it('closes a charge key that has no charge yet, so the late charge is voided', async () => {
    expect(await refund()).toBeNull();
    expect(await database.db.selectFrom('closed_keys').select('key').execute()).toEqual([
      { key: 'o-1:charge' },
    ]);
    expect(hasCode(await rejection(charge()), 'CHARGE_VOIDED')).toBe(true);
    expect(await rows()).toEqual([]);
    expect(await events()).toEqual([]);
  });

  it('refunds nothing for a declined charge', async () => {
    await rejection(charge({ payment_method: 'pm_card_chargeDeclined' }));
    expect(await refund()).toBeNull();
    expect(await rows()).toHaveLength(1);
  });

  it('refuses a refund under another order than the charge’s', async () => {
    await charge();
    const error = await rejection(
      service.refund(saga, { idempotency_key: 'r', order_id: 'o-2', charge_key: 'o-1:charge' }),
    );
    expect(hasCode(error, 'VALIDATION_FAILED')).toBe(true);
    expect(await rows()).toHaveLength(1);
  });

  it('never stores two refunds of one charge, even past the service', async () => {
    await charge();
    await refund();
    const row = {
      id: 'x',
      idempotency_key: 'sneaky',
      order_id: 'o-1',
      user_id: 'u-1',
      kind: 'refund' as const,
      amount_minor: 2598,
      currency: 'USD',
      status: 'succeeded' as const,
      payment_method: null,
      charge_key: 'o-1:charge',
      created_at: 'x',
    };
    const error = await rejection(database.db.insertInto('payments').values(row).execute());
    expect((error as { code?: string }).code).toBe('SQLITE_CONSTRAINT_UNIQUE');
  });
});
