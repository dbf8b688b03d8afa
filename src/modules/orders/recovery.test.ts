import { afterEach, describe, expect, it } from 'vitest';
import type { DomainEvent } from './events.ts';
import { findSaga } from './repository.ts';
import {
  charged,
  chargeVisa,
  declined,
  expectConsistentBooks,
  ID,
  placed,
  refund,
  release,
  reserve,
  reserved,
  seed,
  statusOf,
} from './saga-fixtures.ts';
import { createHarness, type Harness } from './test-support.ts';

const harnesses: Harness[] = [];
async function harness(options: Parameters<typeof createHarness>[0] = {}): Promise<Harness> {
  const h = await createHarness(options);
  harnesses.push(h);
  return h;
}
afterEach(async () => {
  for (const h of harnesses.splice(0).reverse()) await h.close();
});

/**
 * A crash at each point of each saga: the events recorded so far (the saga row left running) and what
 * the participants had already done, including a last call whose outcome was never recorded.
 */
const interruptions: Array<{
  name: string;
  setup(h: Harness): Promise<DomainEvent[]>;
  ends: { status: string; cancel_reason?: string };
}> = [
  { name: 'before the reservation', setup: async () => [placed()], ends: { status: 'confirmed' } },
  {
    name: 'after reserving, before recording it',
    setup: async (h) => {
      await reserve(h);
      return [placed()];
    },
    ends: { status: 'confirmed' },
  },
  {
    name: 'after StockReserved (saga.after_reserve)',
    setup: async (h) => {
      await reserve(h);
      return [placed(), reserved];
    },
    ends: { status: 'confirmed' },
  },
  {
    name: 'after charging, before recording it',
    setup: async (h) => {
      await reserve(h);
      await chargeVisa(h);
      return [placed(), reserved];
    },
    ends: { status: 'confirmed' },
  },
  {
    name: 'after PaymentCharged (saga.after_charge)',
    setup: async (h) => {
      await reserve(h);
      return [placed(), reserved, charged((await chargeVisa(h)).id)];
    },
    ends: { status: 'confirmed' },
  },
  {
    name: 'after PaymentDeclined (saga.during_compensation)',
    setup: async (h) => {
      await reserve(h);
      return [placed('pm_card_chargeDeclined'), reserved, declined];
    },
    ends: { status: 'cancelled', cancel_reason: 'PAYMENT_DECLINED' },
  },
  {
    name: 'after releasing a declined order, before recording it',
    setup: async (h) => {
      await reserve(h);
      await release(h);
      return [placed('pm_card_chargeDeclined'), reserved, declined];
    },
    ends: { status: 'cancelled', cancel_reason: 'PAYMENT_DECLINED' },
  },
  {
    name: 'after CancellationRequested',
    setup: async (h) => {
      await reserve(h);
      const id = (await chargeVisa(h)).id;
      return [
        placed(),
        reserved,
        charged(id),
        { type: 'OrderConfirmed', data: {} },
        { type: 'CancellationRequested', data: { by: 'user-1' } },
      ];
    },
    ends: { status: 'cancelled', cancel_reason: 'CANCELLED_BY_USER' },
  },
  {
    name: 'after refunding a cancelled order, before recording it',
    setup: async (h) => {
      await reserve(h);
      const id = (await chargeVisa(h)).id;
      await refund(h);
      return [
        placed(),
        reserved,
        charged(id),
        { type: 'OrderConfirmed', data: {} },
        { type: 'CancellationRequested', data: { by: 'user-1' } },
      ];
    },
    ends: { status: 'cancelled', cancel_reason: 'CANCELLED_BY_USER' },
  },
  {
    name: 'after PaymentRefunded of a cancellation (saga.during_compensation)',
    setup: async (h) => {
      await reserve(h);
      const id = (await chargeVisa(h)).id;
      await refund(h);
      return [
        placed(),
        reserved,
        charged(id),
        { type: 'OrderConfirmed', data: {} },
        { type: 'CancellationRequested', data: { by: 'user-1' } },
        { type: 'PaymentRefunded', data: { payment_id: 'r' } },
      ];
    },
    ends: { status: 'cancelled', cancel_reason: 'CANCELLED_BY_USER' },
  },
  {
    name: 'after StockReleased of a cancellation',
    setup: async (h) => {
      await reserve(h);
      const id = (await chargeVisa(h)).id;
      await refund(h);
      await release(h);
      return [
        placed(),
        reserved,
        charged(id),
        { type: 'OrderConfirmed', data: {} },
        { type: 'CancellationRequested', data: { by: 'user-1' } },
        { type: 'PaymentRefunded', data: { payment_id: 'r' } },
        { type: 'StockReleased', data: {} },
      ];
    },
    ends: { status: 'cancelled', cancel_reason: 'CANCELLED_BY_USER' },
  },
  {
    name: 'after PaymentRefunded of a deadline compensation',
    setup: async (h) => {
      await reserve(h);
      await refund(h);
      return [placed(), reserved, { type: 'PaymentRefunded', data: { payment_id: null } }];
    },
    ends: { status: 'cancelled', cancel_reason: 'ORDER_TIMEOUT' },
  },
];

describe('recovery after a crash', () => {
  for (const interruption of interruptions) {
    it(`ends the saga interrupted ${interruption.name}, with the books consistent`, async () => {
      const h = await harness();
      await seed(h, await interruption.setup(h));
      expect((await findSaga(h.db, ID))?.status).toBe('running');
      await h.runner.recover();
      expect(await statusOf(h)).toMatchObject(interruption.ends);
      expect(await findSaga(h.db, ID)).toMatchObject({ status: 'done' });
      await expectConsistentBooks(h);
      expect(h.catalog.reservations.get(ID)?.state).toBe(
        interruption.ends.status === 'confirmed' ? 'reserved' : 'released',
      );
    });
  }
});
