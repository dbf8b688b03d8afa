import { describe, expect, it } from 'vitest';
import { createClient, eventually, login, register, validPassword } from '../http-client.ts';
import { send } from './raw-http.ts';
import { createTally, isProblem, type Target } from './world.ts';

/**
 * Tokens outlive nothing they should not: a role or password change ends every session of the user,
 * in every instance. An admin's token is confirmed with the users module on every request, so a
 * demotion holds at once; a customer's is checked against a cache the users module's events keep
 * current, so a password change holds on every route as soon as its event has arrived, and at once
 * on the users routes.
 */
export function defineSessionCases(target: () => Target): void {
  describe('sessions', () => {
    it('a demoted admin is refused at once through every gateway, and cannot make itself admin again', async () => {
      const t = target();
      const { adminToken, adminId, customers } = t.world;
      const client = createClient(t.gateways[0]!);
      const { user, password } = await register(client);
      const promote = await t.send({
        method: 'PATCH',
        path: `/users/${user.id}`,
        token: adminToken,
        body: { role: 'admin' },
      });
      expect(promote.status).toBe(200);
      const promoted = await login(client, { username: user.username, password });
      const othersOrders = `/orders?user_id=${customers[0]!.user.id}`;
      // The control: before the demotion this token does what only an admin may, through every gateway.
      for (const gateway of t.gateways)
        expect((await send(gateway, { path: othersOrders, token: promoted })).status).toBe(200);

      const demote = await t.send({
        method: 'PATCH',
        path: `/users/${user.id}`,
        token: adminToken,
        body: { role: 'customer' },
      });
      expect(demote.status).toBe(200);
      const tally = createTally();
      const attempts = [
        { method: 'GET', path: othersOrders },
        { method: 'POST', path: '/products', body: { name: 'Sneaky demoted', price: 1, stock: 1 } },
        { method: 'PATCH', path: `/users/${user.id}`, body: { role: 'admin' } },
        { method: 'PATCH', path: `/users/${adminId}`, body: { password: validPassword() } },
        { method: 'PATCH', path: `/users/${adminId}`, body: { role: 'customer' } },
      ];
      for (const gateway of t.gateways) {
        for (const attempt of attempts) {
          const res = await send(gateway, { ...attempt, token: promoted });
          tally.check(
            `demoted admin: ${attempt.method} ${attempt.path}`,
            res,
            isProblem(res, 401, 'UNAUTHORIZED'),
          );
        }
      }
      // It is a customer, and the admin is untouched; signed in again it gets a customer's answers.
      const me = await t.send({ path: `/users/${user.id}`, token: adminToken });
      expect(me.body).toMatchObject({ role: 'customer' });
      expect((await t.send({ path: `/users/${adminId}`, token: adminToken })).body).toMatchObject({
        role: 'admin',
      });
      const again = await login(client, { username: user.username, password });
      const refused = await t.send({ path: othersOrders, token: again });
      tally.check(
        'demoted admin signed in again: GET another user’s orders',
        refused,
        isProblem(refused, 403, 'FORBIDDEN'),
      );
      await tally.settle(t);
    });

    it('a password change ends every session of the user through every gateway; a new login works', async () => {
      const t = target();
      const client = createClient(t.gateways[0]!);
      const { user, token, password } = await register(client);
      const second = await login(client, { username: user.username, password });
      for (const gateway of t.gateways)
        expect((await send(gateway, { path: '/orders', token: second })).status).toBe(200);
      const changed = validPassword();
      const res = await t.send({
        method: 'PATCH',
        path: `/users/${user.id}`,
        token,
        body: { password: changed },
      });
      expect(res.status).toBe(200);
      const tally = createTally();
      for (const gateway of t.gateways) {
        for (const old of [token, second]) {
          // The users module judges its own routes by the table: refused at once.
          const me = await send(gateway, { path: '/users/me', token: old });
          tally.check('old session: GET /users/me', me, isProblem(me, 401, 'UNAUTHORIZED'));
          // Elsewhere by the cache, once the event has reached this gateway.
          const orders = await eventually(async () => {
            const answer = await send(gateway, { path: '/orders', token: old });
            expect(answer.status).toBe(401);
            return answer;
          }, 10_000);
          tally.check('old session: GET /orders', orders, isProblem(orders, 401, 'UNAUTHORIZED'));
        }
      }
      const fresh = await login(client, { username: user.username, password: changed });
      for (const gateway of t.gateways)
        expect((await send(gateway, { path: '/users/me', token: fresh })).status).toBe(200);
      await tally.settle(t);
    });
  });
}
