import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConcurrencyConflict, type Loaded } from './event-store.ts';
import type { DomainEvent } from './events.ts';
import { findSaga, loadEvents } from './repository.ts';
import { createHarness, type Harness } from './test-support.ts';

const ID = 'order-1';
const placed: DomainEvent = {
  type: 'OrderPlaced',
  data: { user_id: 'user-1', items: [{ product_id: 'lamp', quantity: 1 }], payment_method: 'pm_card_visa' },
};
const none: Loaded = { events: [], state: undefined };

let h: Harness;
beforeEach(async () => {
  h = await createHarness();
  await h.store.append(ID, none, [placed]);
});
afterEach(async () => {
  await h.close();
});

describe('the order event store', () => {
  it('refuses a second append at a version already taken, and keeps the first', async () => {
    const loaded = await h.store.load(ID);
    await h.store.append(ID, loaded, [{ type: 'CancellationRequested', data: { by: 'a' } }]);
    await expect(
      h.store.append(ID, loaded, [{ type: 'OrderShipped', data: { by: 'b' } }]),
    ).rejects.toBeInstanceOf(ConcurrencyConflict);
    expect((await loadEvents(h.db, ID)).map((e) => [e.version, e.type])).toEqual([
      [1, 'OrderPlaced'],
      [2, 'CancellationRequested'],
    ]);
    // The failed append changed nothing else either: the read model is the fold of the two events.
    const row = await h.db.selectFrom('orders').selectAll().where('id', '=', ID).executeTakeFirstOrThrow();
    expect(row.version).toBe(2);
  });

  it('two appenders at the same version: one wins, the other decides again and lands next', async () => {
    const decided: number[] = [];
    let interleaved = false;
    const slow = h.store.execute(ID, async ({ state }) => {
      decided.push(state!.version);
      if (!interleaved) {
        interleaved = true;
        // Another writer appends between this appender's read and its write.
        await h.store.execute(ID, () => [{ type: 'StockReleased', data: {} }]);
      }
      return [{ type: 'PaymentRefunded', data: { payment_id: null } }];
    });
    const after = await slow;
    expect(decided).toEqual([1, 2]);
    expect(after.state?.version).toBe(3);
    expect((await loadEvents(h.db, ID)).map((e) => [e.version, e.type])).toEqual([
      [1, 'OrderPlaced'],
      [2, 'StockReleased'],
      [3, 'PaymentRefunded'],
    ]);
  });

  it('many concurrent appenders lose no event', async () => {
    await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        h.store.execute(ID, () => [{ type: 'CancellationRequested', data: { by: `user-${i}` } }]),
      ),
    );
    const events = await loadEvents(h.db, ID);
    expect(events.map((e) => e.version)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(new Set(events.slice(1).map((e) => (e.data as { by: string }).by)).size).toBe(5);
  });

  it('gives up after a bounded number of conflicts instead of looping', async () => {
    let decisions = 0;
    const appending = h.store.execute(ID, async () => {
      decisions += 1;
      await h.store.execute(ID, () => [{ type: 'StockReleased', data: {} }]);
      return [{ type: 'PaymentRefunded', data: { payment_id: null } }];
    });
    await expect(appending).rejects.toBeInstanceOf(ConcurrencyConflict);
    expect(decisions).toBe(6);
  });

  it('writes the saga row with OrderPlaced and closes it with the terminal event, in the same transaction', async () => {
    expect(await findSaga(h.db, ID)).toMatchObject({ kind: 'place', status: 'running', attempts: 0 });
    await h.store.execute(ID, () => [
      {
        type: 'OrderCancelled',
        data: { reason: { code: 'OUT_OF_STOCK', status: 409, title: 'Not enough stock' } },
      },
    ]);
    expect(await findSaga(h.db, ID)).toMatchObject({ status: 'done', lease_until: null });
  });
});
