import { describe, expect, it } from 'vitest';
import type { PageDto, ProductDto } from '../http-client.ts';
import { adminProbes, OPERATIONS, type Probe, VERSIONS } from './routes.ts';
import { createTally, expectWorldIntact, isProblem, type Target } from './world.ts';

/** Function-level authorization: a customer on every admin operation is a 403, by every version. */
export function defineFunctionCases(target: () => Target): void {
  describe('function-level authorization', () => {
    it('the OpenAPI document lists exactly the operations the suite classifies', async () => {
      const t = target();
      const res = await t.send({ path: '/openapi.json' });
      const paths = (res.body as { paths: Record<string, Record<string, unknown>> }).paths;
      const listed = Object.entries(paths).flatMap(([path, ops]) =>
        Object.keys(ops).map((method) => `${method.toUpperCase()} ${path}`),
      );
      expect(listed.sort()).toEqual(Object.keys(OPERATIONS).sort());
    });

    it('a customer gets 403 on every admin operation and changes nothing', async () => {
      const t = target();
      const { customers } = t.world;
      const admin = Object.entries(OPERATIONS).filter(([, access]) => access === 'admin');
      const tally = createTally();
      for (const customer of customers) {
        const probes = adminProbes(t.world, customer);
        expect(new Set(probes.map((p) => p.operation))).toEqual(new Set(admin.map(([op]) => op)));
        const other = customers.find((c) => c !== customer)!;
        // What only an admin may do on routes customers may otherwise call.
        const adminOnlyUses: Probe[] = [
          { operation: 'POST /orders/{id}/ship', method: 'POST', path: `/orders/${other.orders[0].id}/ship` },
          { operation: 'GET /orders', method: 'GET', path: `/orders?user_id=${other.user.id}` },
          {
            operation: 'PATCH /users/{id}',
            method: 'PATCH',
            path: `/users/${customer.user.id}`,
            body: { role: 'admin' },
          },
        ];
        for (const version of VERSIONS) {
          for (const probe of [...probes, ...adminOnlyUses]) {
            const res = await t.send({
              ...probe,
              path: `${version.prefix}${probe.path}`,
              headers: version.headers,
              token: customer.token,
            });
            tally.check(
              `${customer.user.username}, ${version.label}: ${probe.method} ${probe.path}`,
              res,
              isProblem(res, 403, 'FORBIDDEN'),
            );
          }
        }
        // A method override header never turns a refused method into an admin write.
        for (const name of ['x-http-method-override', 'x-http-method', 'x-method-override']) {
          const res = await t.send({
            method: 'POST',
            path: `/products/${t.world.product.id}`,
            headers: { [name]: 'PATCH' },
            token: customer.token,
            body: { price: 0.01 },
          });
          tally.check(
            `${customer.user.username}: POST with ${name}: PATCH`,
            res,
            res.status >= 400 && res.status < 500,
          );
        }
      }
      const products = await t.send({ path: '/products?limit=100', token: t.world.adminToken });
      const names = (products.body as PageDto<ProductDto>).items.map((p) => p.name);
      expect(names.filter((name) => name.startsWith('Sneaky'))).toEqual([]);
      await tally.settle(t, () => expectWorldIntact(t, { login: true }));
    });
  });
}
