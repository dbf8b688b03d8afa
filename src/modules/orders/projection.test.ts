import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { newId } from '../../platform/ids.ts';
import { fold } from './events.ts';
import { rebuildOrderProjections, toProjectionRow } from './projection.ts';
import { loadEvents } from './repository.ts';
import { admin, createHarness, customer, type Harness, otherCustomer } from './test-support.ts';

const visa = 'pm_card_visa' as const;

let h: Harness;
beforeEach(async () => {
  h = await createHarness();
});
afterEach(async () => {
  await h.close();
});

/** Orders in every state, placed, cancelled and shipped through the service. */
async function buildOrders(): Promise<void> {
  const confirmed = await h.api.placeOrder(customer, {
    items: [{ product_id: 'lamp', quantity: 2 }],
    payment_method: visa,
  });
  const shipped = await h.api.placeOrder(otherCustomer, {
    items: [{ product_id: 'book', quantity: 3 }],
    payment_method: visa,
  });
  await h.api.shipOrder(admin, shipped.id);
  const cancelled = await h.api.placeOrder(customer, {
    items: [
      { product_id: 'book', quantity: 1 },
      { product_id: 'lamp', quantity: 1 },
    ],
    payment_method: visa,
  });
  await h.api.cancelOrder(customer, cancelled.id);
  await h.api
    .placeOrder(customer, {
      items: [{ product_id: 'lamp', quantity: 1 }],
      payment_method: 'pm_card_chargeDeclined',
    })
    .catch(() => undefined);
  await h.api
    .placeOrder(customer, { items: [{ product_id: 'chair', quantity: 99 }], payment_method: visa })
    .catch(() => undefined);
  expect(confirmed.status).toBe('confirmed');
}

const snapshot = () => h.db.selectFrom('orders').selectAll().orderBy('id').execute();

describe('the orders projection', () => {
  it('is, after every change, the fold of the order’s events', async () => {
    await buildOrders();
    const rows = await snapshot();
    expect(rows.map((r) => r.status).sort()).toEqual([
      'cancelled',
      'cancelled',
      'cancelled',
      'confirmed',
      'shipped',
    ]);
    for (const row of rows) {
      expect(row).toEqual(toProjectionRow(fold(row.id, await loadEvents(h.db, row.id))!));
    }
  });

  it('rebuilt from the events alone, it is the same table', async () => {
    await buildOrders();
    const before = await snapshot();
    expect(await rebuildOrderProjections(h.db)).toBe(before.length);
    expect(await snapshot()).toEqual(before);
  });

  it('a rebuild repairs a lost or damaged read model', async () => {
    await buildOrders();
    const before = await snapshot();
    await h.db.deleteFrom('orders').where('id', '=', before[0]!.id).execute();
    await h.db
      .updateTable('orders')
      .set({ status: 'shipped', total_minor: 1 })
      .where('id', '=', before[1]!.id)
      .execute();
    await rebuildOrderProjections(h.db);
    expect(await snapshot()).toEqual(before);
  });

  it('rebuilds more orders than one batch, pending ones included', async () => {
    for (let i = 0; i < 450; i++) {
      await h.store.append(newId(), { events: [], state: undefined }, [
        {
          type: 'OrderPlaced',
          data: {
            user_id: `user-${i % 7}`,
            items: [{ product_id: 'lamp', quantity: 1 }],
            payment_method: visa,
          },
        },
      ]);
    }
    const before = await snapshot();
    expect(before).toHaveLength(450);
    await h.db.deleteFrom('orders').execute();
    expect(await rebuildOrderProjections(h.db)).toBe(450);
    expect(await snapshot()).toEqual(before);
  });
});
