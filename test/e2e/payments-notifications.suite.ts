import { describe, expect, it } from 'vitest';
import {
  type Account,
  type Client,
  createProduct,
  eventually,
  expectProblem,
  expectValidationProblem,
  listOf,
  type NotificationDto,
  type PageDto,
  type PaymentDto,
  placeOrder,
  RFC3339_UTC,
  register,
  type ShopAccessor,
} from '../support/http-client.ts';

/** Waits until the account has exactly `count` notifications, and returns them. */
function expectNotifications(client: Client, account: Account, count: number): Promise<NotificationDto[]> {
  return eventually(async () => {
    const res = await client.request<PageDto<NotificationDto>>('GET', '/notifications?limit=100', {
      token: account.token,
    });
    expect(res.status).toBe(200);
    expect(res.body.items).toHaveLength(count);
    return res.body.items;
  });
}

export function definePaymentsNotificationsSuite(shop: ShopAccessor): void {
  describe('payments', () => {
    it("the owner and an admin read an order's charge", async () => {
      const { client, adminToken } = shop();
      const product = await createProduct(shop(), { price: 3.2 });
      const { token } = await register(client);
      const order = await placeOrder(client, token, product.id, 2);
      const own = await client.request('GET', `/payments?order_id=${order.id}`, { token });
      expect(own.status).toBe(200);
      const payments = listOf<PaymentDto>(own.body);
      expect(payments).toEqual([
        expect.objectContaining({ id: expect.any(String), order_id: order.id, kind: 'charge', amount: 6.4 }),
      ]);
      expect(payments[0]!.created_at).toMatch(RFC3339_UTC);
      const asAdmin = await client.request('GET', `/payments?order_id=${order.id}`, { token: adminToken });
      expect(asAdmin.status).toBe(200);
      expect(listOf<PaymentDto>(asAdmin.body)).toEqual(payments);
    });

    it("another user never sees an order's payments: 404 or an empty list", async () => {
      const { client } = shop();
      const product = await createProduct(shop());
      const owner = await register(client);
      const stranger = await register(client);
      const order = await placeOrder(client, owner.token, product.id);
      const ownRes = await client.request('GET', `/payments?order_id=${order.id}`, { token: owner.token });
      const own = listOf<PaymentDto>(ownRes.body);
      expect(own).toHaveLength(1);
      const res = await client.request('GET', `/payments?order_id=${order.id}`, { token: stranger.token });
      if (res.status === 404) expectProblem(res, 404, 'ORDER_NOT_FOUND');
      else {
        expect(res.status).toBe(200);
        expect(listOf(res.body)).toEqual([]);
      }
      for (const payment of own) expect(res.text).not.toContain(payment.id);
    });

    it('refuses an anonymous caller with 401 and a missing order_id with 400', async () => {
      const { client } = shop();
      const product = await createProduct(shop());
      const { token } = await register(client);
      const order = await placeOrder(client, token, product.id);
      expectProblem(await client.request('GET', `/payments?order_id=${order.id}`), 401, 'UNAUTHORIZED');
      expectValidationProblem(await client.request('GET', '/payments', { token }));
    });
  });

  describe('notifications', () => {
    it('refuses an anonymous caller with 401', async () => {
      expectProblem(await shop().client.request('GET', '/notifications'), 401, 'UNAUTHORIZED');
    });

    it('registration sends a notification', async () => {
      const { client } = shop();
      const account = await register(client);
      const [welcome] = await expectNotifications(client, account, 1);
      expect(welcome).toMatchObject({
        id: expect.any(String),
        channel: expect.any(String),
        body: expect.any(String),
      });
      expect(welcome!.created_at).toMatch(RFC3339_UTC);
    });

    it('confirmation, cancellation and shipping each send one', async () => {
      const { client, adminToken } = shop();
      const product = await createProduct(shop());
      const account = await register(client);
      const kept = await placeOrder(client, account.token, product.id);
      const dropped = await placeOrder(client, account.token, product.id);
      await expectNotifications(client, account, 3);
      const cancel = await client.request('POST', `/orders/${dropped.id}/cancel`, { token: account.token });
      expect(cancel.status).toBe(200);
      await expectNotifications(client, account, 4);
      const ship = await client.request('POST', `/orders/${kept.id}/ship`, { token: adminToken });
      expect(ship.status).toBe(200);
      const all = await expectNotifications(client, account, 5);
      const times = all.map((n) => n.created_at);
      expect(times).toEqual([...times].sort().reverse());
    });

    it("lists only the caller's own", async () => {
      const { client } = shop();
      const product = await createProduct(shop());
      const buyer = await register(client);
      const bystander = await register(client);
      await placeOrder(client, buyer.token, product.id);
      const buyers = await expectNotifications(client, buyer, 2);
      const own = await expectNotifications(client, bystander, 1);
      const buyerIds = buyers.map((n) => n.id);
      expect(own.some((n) => buyerIds.includes(n.id))).toBe(false);
    });

    it('paginates as { items, next_cursor }', async () => {
      const { client } = shop();
      const product = await createProduct(shop());
      const account = await register(client);
      await placeOrder(client, account.token, product.id);
      const all = await expectNotifications(client, account, 2);
      const first = await client.request<PageDto<NotificationDto>>('GET', '/notifications?limit=1', {
        token: account.token,
      });
      expect(first.body).toEqual({ items: [all[0]], next_cursor: expect.any(String) });
      const cursor = encodeURIComponent(first.body.next_cursor!);
      const second = await client.request<PageDto<NotificationDto>>(
        'GET',
        `/notifications?limit=1&cursor=${cursor}`,
        {
          token: account.token,
        },
      );
      expect(second.body).toEqual({ items: [all[1]], next_cursor: null });
      const bad = await client.request('GET', '/notifications?limit=101', { token: account.token });
      expectProblem(bad, 400, 'VALIDATION_FAILED');
    });
  });
}
