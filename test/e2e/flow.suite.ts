import { describe, expect, it } from 'vitest';
import {
  eventually,
  listOf,
  type NotificationDto,
  type OrderDto,
  type OrderEventDto,
  type PageDto,
  type PaymentDto,
  type ProductDto,
  RFC3339_UTC,
  type ShopAccessor,
  type TokenDto,
  type UserDto,
  uniqueName,
  uniqueUsername,
  validPassword,
} from '../support/http-client.ts';

/** The seed's story, start to end, as one customer lives it. */
export function defineFlowSuite(shop: ShopAccessor): void {
  describe('the seed flow', () => {
    it('a customer registers, buys a product, reads the order, its events and payments, and is notified', async () => {
      const { client, adminToken } = shop();
      const username = uniqueUsername();
      const email = `${username}@example.test`;
      const password = validPassword();

      const registered = await client.request<UserDto>('POST', '/auth/register', {
        body: { username, email, password },
      });
      expect(registered.status).toBe(201);
      expect(registered.body).toMatchObject({ id: expect.any(String), username, email, role: 'customer' });
      expect(registered.body.created_at).toMatch(RFC3339_UTC);
      const userId = registered.body.id;

      const loggedIn = await client.request<TokenDto>('POST', '/auth/login', {
        body: { username, password },
      });
      expect(loggedIn.status).toBe(200);
      expect(loggedIn.body.token_type).toBe('Bearer');
      const token = loggedIn.body.access_token;

      const created = await client.request<ProductDto>('POST', '/products', {
        token: adminToken,
        body: { name: uniqueName('Seed lamp'), price: 12.99, stock: 5 },
      });
      expect(created.status).toBe(201);
      const productId = created.body.id;

      const placed = await client.request<OrderDto>('POST', '/orders', {
        token,
        body: { items: [{ product_id: productId, quantity: 2 }] },
      });
      expect(placed.status).toBe(201);
      expect(placed.body).toMatchObject({
        id: expect.any(String),
        user_id: userId,
        items: [{ product_id: productId, quantity: 2, unit_price: 12.99 }],
        total: 25.98,
        status: 'confirmed',
      });
      expect(placed.body.created_at).toMatch(RFC3339_UTC);
      expect(placed.body.updated_at).toMatch(RFC3339_UTC);
      const orderId = placed.body.id;

      const read = await client.request<OrderDto>('GET', `/orders/${orderId}`, { token });
      expect(read.status).toBe(200);
      expect(read.body).toMatchObject({ id: orderId, user_id: userId, status: 'confirmed', total: 25.98 });

      const list = await client.request<PageDto<OrderDto>>('GET', '/orders', { token });
      expect(list.status).toBe(200);
      expect(list.body.items.map((o) => o.id)).toEqual([orderId]);
      expect(list.body.next_cursor).toBeNull();

      const events = await client.request('GET', `/orders/${orderId}/events`, { token });
      expect(events.status).toBe(200);
      const history = listOf<OrderEventDto>(events.body);
      expect(history[0]?.type).toBe('OrderPlaced');
      expect(history.length).toBeGreaterThan(1);
      for (const [i, event] of history.entries()) {
        expect(event.type).toMatch(/^[A-Z][A-Za-z]+$/);
        expect(event.occurred_at).toMatch(RFC3339_UTC);
        if (i > 0) expect(event.version).toBeGreaterThan(history[i - 1]!.version);
      }

      const payments = await client.request('GET', `/payments?order_id=${orderId}`, { token });
      expect(payments.status).toBe(200);
      expect(listOf<PaymentDto>(payments.body)).toEqual([
        expect.objectContaining({ order_id: orderId, kind: 'charge', amount: 25.98, status: 'succeeded' }),
      ]);

      // Notifications come from events, so they may arrive a moment after the answers.
      const notifications = await eventually(async () => {
        const res = await client.request<PageDto<NotificationDto>>('GET', '/notifications', { token });
        expect(res.status).toBe(200);
        expect(res.body.items).toHaveLength(2);
        return res.body.items;
      });
      for (const n of notifications) {
        expect(n).toMatchObject({
          id: expect.any(String),
          channel: expect.any(String),
          subject: expect.any(String),
        });
        expect(n.created_at).toMatch(RFC3339_UTC);
      }
      expect(notifications[0]!.created_at >= notifications[1]!.created_at).toBe(true);
    });
  });
}
