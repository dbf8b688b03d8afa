import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { type Client, createClient } from '../support/http-client.ts';
import { shopEnv, spawnShop, stopShop, TEST_ADMIN_PASSWORD, tempDataDir } from '../support/shop.ts';

// A saga has ended when the order's last event is one of these (a confirmed order may still be cancelling).
const TERMINAL_EVENTS = new Set(['OrderConfirmed', 'OrderCancelled', 'OrderShipped']);
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function token(client: Client, username: string, password: string): Promise<string> {
  const res = await client.request('POST', '/auth/login', { body: { username, password } });
  expect(res.status).toBe(200);
  return (res.body as { access_token: string }).access_token;
}

interface Scenario {
  point: string;
  method: 'pm_card_visa' | 'pm_card_chargeDeclined';
  /** Cancel each confirmed order, to reach the cancel saga's compensation. */
  cancel?: boolean;
}

const scenarios: Scenario[] = [
  { point: 'saga.after_reserve', method: 'pm_card_visa' },
  { point: 'saga.after_charge', method: 'pm_card_visa' },
  { point: 'saga.during_compensation', method: 'pm_card_chargeDeclined' },
  { point: 'saga.during_compensation', method: 'pm_card_visa', cancel: true },
];

describe('a shop killed in the middle of a saga', () => {
  for (const scenario of scenarios) {
    it(`ends every saga in a terminal state after a SIGKILL at ${scenario.point} (${scenario.method}${scenario.cancel ? ', cancelling' : ''})`, async () => {
      const dataDir = tempDataDir('splitshop-crash-');
      dirs.push(dataDir);
      const initialStock = 100;
      // The crash point fires on its third pass, so some sagas finished before and some are cut.
      const crashing = await spawnShop(shopEnv(dataDir, { SPLITSHOP_CRASH_POINTS: `${scenario.point}:3` }));
      let client = createClient(crashing.baseUrl);
      const admin = await token(client, 'admin', TEST_ADMIN_PASSWORD);
      const created = await client.request('POST', '/v2/products', {
        token: admin,
        body: { name: 'Crash kettle', price: { amount_minor: 2500, currency: 'USD' }, stock: initialStock },
      });
      expect(created.status).toBe(201);
      const productId = (created.body as { id: string }).id;
      const username = `crash${Date.now().toString(36)}`;
      expect(
        (
          await client.request('POST', '/auth/register', {
            body: { username, email: `${username}@example.com`, password: 'crash-password-1' },
          })
        ).status,
      ).toBe(201);
      const customer = await token(client, username, 'crash-password-1');

      const answered: string[] = [];
      for (let i = 0; i < 10; i++) {
        const placed = await client
          .request('POST', '/orders', {
            token: customer,
            body: { product_id: productId, quantity: 2, payment_method: scenario.method },
          })
          .catch(() => undefined);
        if (!placed) break;
        const orderId =
          (placed.body as { id?: string; order_id?: string }).id ??
          (placed.body as { order_id?: string }).order_id;
        if (orderId) answered.push(orderId);
        if (scenario.cancel && placed.status === 201) {
          const cancelled = await client
            .request('POST', `/orders/${orderId}/cancel`, { token: customer })
            .catch(() => undefined);
          if (!cancelled) break;
        }
      }
      expect(await crashing.exited).toBe('SIGKILL');

      const restarted = await spawnShop(shopEnv(dataDir));
      try {
        client = createClient(restarted.baseUrl);
        const adminAgain = await token(client, 'admin', TEST_ADMIN_PASSWORD);
        const userToken = await token(client, username, 'crash-password-1');
        let unfinished: string[] = [];
        let orders: Array<{ id: string; status: string; total: number; items: Array<{ quantity: number }> }> =
          [];
        for (let attempt = 0; attempt < 100; attempt++) {
          const list = await client.request('GET', '/orders?limit=100', { token: userToken });
          orders = (list.body as { items: typeof orders }).items;
          unfinished = [];
          for (const order of orders) {
            const events = await client.request('GET', `/orders/${order.id}/events`, { token: userToken });
            const last = (events.body as Array<{ type: string }>).at(-1)?.type ?? '';
            if (!TERMINAL_EVENTS.has(last)) unfinished.push(`${order.id}: ${last}`);
          }
          if (unfinished.length === 0) break;
          await new Promise((r) => setTimeout(r, 200));
        }
        expect(orders.length).toBeGreaterThan(answered.length - 1);
        for (const id of answered) expect(orders.map((o) => o.id)).toContain(id);
        expect(unfinished).toEqual([]);
        // Read the list again: an order may have finished between the list and its events above.
        orders = (
          (await client.request('GET', '/orders?limit=100', { token: userToken })).body as {
            items: typeof orders;
          }
        ).items;

        const held = orders
          .filter((o) => o.status === 'confirmed' || o.status === 'shipped')
          .reduce((sum, o) => sum + o.items.reduce((s, item) => s + item.quantity, 0), 0);
        const product = await client.request('GET', `/products/${productId}`);
        expect((product.body as { stock: number }).stock).toBe(initialStock - held);

        for (const order of orders) {
          const payments = await client.request('GET', `/payments?order_id=${order.id}`, {
            token: adminAgain,
          });
          const rows =
            payments.status === 200
              ? (payments.body as Array<{ kind: string; amount: number; status: string }>)
              : [];
          const charged = rows
            .filter((p) => p.kind === 'charge' && p.status === 'succeeded')
            .reduce((s, p) => s + p.amount, 0);
          const refunded = rows
            .filter((p) => p.kind === 'refund' && p.status === 'succeeded')
            .reduce((s, p) => s + p.amount, 0);
          expect(
            rows.filter((p) => p.kind === 'charge' && p.status === 'succeeded').length,
          ).toBeLessThanOrEqual(1);
          expect(charged - refunded).toBe(
            order.status === 'confirmed' || order.status === 'shipped' ? order.total : 0,
          );
        }
      } finally {
        await stopShop(restarted);
      }
    }, 120_000);
  }
});
