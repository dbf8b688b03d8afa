import { expect, it } from 'vitest';
import { newUser, type World } from '../support/bad-input.ts';
import { type Attempt, by, createCaseKit } from '../support/bad-input-kit.ts';
import {
  expectProblem,
  expectValidationProblem,
  register,
  type UserDto,
  uniqueUsername,
} from '../support/http-client.ts';
import {
  type JsonSchema,
  type OpenApiDocument,
  type Operation,
  operationsOf,
} from '../support/openapi-fuzz.ts';

/**
 * Hand-written bad bodies, each its own test: exact values and shapes that generated input is unlikely
 * to hit. Every test also checks that nothing changed (products, a watched product, a buyer's orders).
 */
export function defineBadBodyCases(suite: string, world: () => World): void {
  const { attempt, expectRefused, record, snapshot } = createCaseKit(suite, world);

  it('type confusion: "1", true, null, 1e309 and 2^53+1 where numbers are expected are refused, never coerced', async () => {
    const { adminToken, product } = world();
    const buyer = await register(world().client);
    const before = await snapshot(buyer);
    const admin = by(adminToken);
    const customer = by(buyer.token);
    const attempts: Attempt[] = [];
    for (const v of ['"1"', 'true', 'null', '1e309', '9007199254740993', '"12.5"', '[1]', '{}']) {
      attempts.push(
        admin('POST', '/products', `{"name":"Confused","price":${v},"stock":5}`),
        admin('POST', '/products', `{"name":"Confused","price":1,"stock":${v}}`),
        admin(
          'POST',
          '/v2/products',
          `{"name":"C","price":{"amount_minor":${v},"currency":"USD"},"stock":5}`,
        ),
        admin('PATCH', `/products/${product.id}`, `{"stock":${v}}`),
        admin('PATCH', `/products/${product.id}`, `{"price":${v}}`),
        customer('POST', '/orders', `{"product_id":"${product.id}","quantity":${v}}`),
        customer('POST', '/orders', `{"items":[{"product_id":"${product.id}","quantity":${v}}]}`),
      );
    }
    // Strings where strings are expected get no coercion either.
    for (const v of ['1', 'true', 'null', '["a"]'])
      attempts.push(by()('POST', '/auth/login', `{"username":${v},"password":"pw-12345678"}`));
    await expectRefused(attempts, 400, 'VALIDATION_FAILED');
    // Query strings are text, so "5" is 5; anything that is not a whole number in range is still refused.
    const limits = ['true', 'null', '1e309', '9007199254740993', '1.5', '', 'Infinity', '101'];
    await expectRefused(
      limits.map((v) => by()('GET', `/products?limit=${v}`)),
      400,
      'VALIDATION_FAILED',
    );
    expect(await snapshot(buyer)).toEqual(before);
    record();
  });

  it('unknown and read-only fields are refused with 400 naming the field; the body without it is accepted', async () => {
    const { client, adminToken, product } = world();
    const document = await client.request<OpenApiDocument>('GET', '/openapi.json');
    const withBodies = operationsOf(document.body).filter((o) => o.body !== undefined);
    const buyer = await register(client);
    /** A valid body and caller for every route that takes one: a new route must be added here. */
    const valid: Record<string, () => { path: string; token?: string; body: Record<string, unknown> }> = {
      'POST /auth/register': () => ({ path: '/auth/register', body: newUser() }),
      'POST /users': () => ({ path: '/users', body: newUser() }),
      'POST /auth/login': () => ({
        path: '/auth/login',
        body: { username: buyer.user.username, password: buyer.password },
      }),
      'PATCH /users/{id}': () => ({
        path: `/users/${buyer.user.id}`,
        token: buyer.token,
        body: { email: `${uniqueUsername('e')}@example.test` },
      }),
      'POST /products': () => ({
        path: '/products',
        token: adminToken,
        body: { name: 'P', price: 1, stock: 1 },
      }),
      'PATCH /products/{id}': () => ({
        path: `/products/${product.id}`,
        token: adminToken,
        body: { stock: 9 },
      }),
      'POST /orders': () => ({
        path: '/orders',
        token: buyer.token,
        body: { items: [{ product_id: product.id, quantity: 1 }] },
      }),
    };
    expect(Object.keys(valid)).toEqual(
      expect.arrayContaining(withBodies.map((o) => `${o.method} ${o.path}`)),
    );
    for (const op of withBodies) {
      for (const { field, inItems } of intrudersOf(op)) {
        const { path, token, body } = valid[`${op.method} ${op.path}`]!();
        const value = field === 'role' ? 'admin' : field === 'status' ? 'shipped' : 'x';
        const sent = inItems
          ? { ...body, items: (body.items as object[]).map((line) => ({ ...line, [field]: value })) }
          : { ...body, [field]: value };
        const problem = expectValidationProblem(
          await attempt({ method: op.method, path, token, body: JSON.stringify(sent) }),
        );
        expect(JSON.stringify(problem.errors)).toContain(field);
        // The very same body without the field goes through: it was the field that was refused.
        const res = await client.request(op.method, path, { ...(token ? { token } : {}), body });
        expect(res.status, `${op.method} ${op.path} without ${field}: ${res.text}`).toBeLessThan(300);
        expect(res.body).not.toMatchObject({ [field]: value });
      }
    }
    record();
  });

  it('__proto__ and constructor.prototype keys are refused anywhere in a body, and nothing is polluted', async () => {
    const { client, adminToken, product } = world();
    const buyer = await register(client);
    const [admin, customer, anyone] = [by(adminToken), by(buyer.token), by()];
    const { username } = buyer.user;
    const attempts = [
      '"__proto__":{"role":"admin","polluted":"yes"}',
      '"constructor":{"prototype":{"role":"admin","polluted":"yes"}}',
    ].flatMap((p) => [
      anyone(
        'POST',
        '/auth/register',
        `{"username":"${uniqueUsername('p')}","email":"p@x.test","password":"pw-1234567",${p}}`,
      ),
      anyone('POST', '/auth/login', `{${p},"username":"${username}","password":"${buyer.password}"}`),
      customer('PATCH', `/users/${buyer.user.id}`, `{"email":"q@example.test",${p}}`),
      admin('POST', '/products', `{"name":"P","price":1,"stock":1,${p}}`),
      admin(
        'POST',
        '/v2/products',
        `{"name":"P","price":{"amount_minor":1,"currency":"USD",${p}},"stock":1}`,
      ),
      admin('PATCH', `/products/${product.id}`, `{"stock":1,"description":{${p}}}`),
      customer('POST', '/orders', `{"items":[{"product_id":"${product.id}","quantity":1,${p}}]}`),
      customer('POST', '/orders', `[{${p}}]`),
    ]);
    await expectRefused(attempts, 400, 'VALIDATION_FAILED');
    // Query strings are flat: bracketed keys are only odd names.
    for (const query of ['__proto__[role]=admin', 'constructor[prototype][role]=admin', '__proto__=x']) {
      const res = await attempt(customer('GET', `/orders?${query}`));
      expect(res.status).toBe(200);
    }
    // A polluted prototype would show: a role or a flag where none was sent, a check that lets through.
    const fresh = await register(client);
    expect(Object.keys(fresh.user).sort()).toEqual(['created_at', 'email', 'id', 'role', 'username']);
    expect(fresh.user.role).toBe('customer');
    const patched = await client.request<UserDto>('PATCH', `/users/${buyer.user.id}`, {
      token: buyer.token,
      body: { email: `${uniqueUsername('clean')}@example.test` },
    });
    expect([patched.status, patched.body.role]).toEqual([200, 'customer']);
    const body = { name: 'X', price: 1, stock: 1 };
    expectProblem(await client.request('POST', '/products', { token: fresh.token, body }), 403, 'FORBIDDEN');
    record();
  });

  it('deeply nested JSON is refused with a 400, and the shop goes on answering', async () => {
    const { adminToken } = world();
    const buyer = await register(world().client);
    const before = await snapshot(buyer);
    const arrays = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;
    const objects = (n: number) => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`;
    const attempts = [arrays(10_000), arrays(100_000), objects(50_000)].flatMap((deep) => [
      by(buyer.token)('POST', '/orders', `{"items":${deep}}`),
      by(buyer.token)('POST', '/orders', deep),
      by(adminToken)('POST', '/products', `{"name":${deep},"price":1,"stock":1}`),
      by()('POST', '/auth/register', `{"username":"x","extra":${deep}}`),
    ]);
    await expectRefused(attempts, 400, 'VALIDATION_FAILED');
    expect((await world().client.request('GET', '/health/live')).status).toBe(200);
    expect(await snapshot(buyer)).toEqual(before);
    record();
  });

  it('10,000 items are refused whole: order lines, fields, array values', async () => {
    const { adminToken, product } = world();
    const buyer = await register(world().client);
    const before = await snapshot(buyer);
    const [admin, customer] = [by(adminToken), by(buyer.token)];
    const lines = Array.from({ length: 10_000 }, () => ({ product_id: product.id, quantity: 1 }));
    const keys = Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`k${i}`, i]));
    const many = (s: string) => Array(10_000).fill(s);
    await expectRefused(
      [
        customer('POST', '/orders', JSON.stringify({ items: lines })),
        customer('POST', '/v2/orders', JSON.stringify({ items: lines })),
        customer('POST', '/orders', JSON.stringify(lines)),
        admin('PATCH', `/products/${product.id}`, JSON.stringify({ stock: 3, ...keys })),
        admin('POST', '/products', JSON.stringify({ name: many('n'), price: 1, stock: 1 })),
        by()('POST', '/auth/register', JSON.stringify({ ...newUser(), username: many('u') })),
      ],
      400,
      'VALIDATION_FAILED',
    );
    expect(await snapshot(buyer)).toEqual(before);
    record();
  });

  it('truncated JSON: every proper prefix of a valid body is a 400 and creates nothing', async () => {
    const { adminToken, product } = world();
    const buyer = await register(world().client);
    const before = await snapshot(buyer);
    const user = newUser();
    const [admin, customer] = [by(adminToken), by(buyer.token)];
    const whole = [
      customer('POST', '/orders', JSON.stringify({ items: [{ product_id: product.id, quantity: 2 }] })),
      admin('POST', '/products', JSON.stringify({ name: 'Cut', description: 'short', price: 2.5, stock: 3 })),
      admin('PATCH', `/products/${product.id}`, JSON.stringify({ stock: 12, price: 3.25 })),
      by()('POST', '/auth/register', JSON.stringify(user)),
      customer('PATCH', `/users/${buyer.user.id}`, JSON.stringify({ email: 'cut@example.test' })),
    ];
    const cut = whole.flatMap((a) => {
      const text = a.body as string;
      return Array.from({ length: text.length }, (_, n) => ({ ...a, body: text.slice(0, n) }));
    });
    await expectRefused(cut, 400, 'VALIDATION_FAILED');
    expect(await snapshot(buyer)).toEqual(before);
    // None of the cut registrations created the user.
    expect((await world().client.request('POST', '/auth/register', { body: user })).status).toBe(201);
    record();
  });
}

/**
 * What a body must not carry, from the document itself: every field the route's answer has that its
 * body does not (read-only), the same for the lines of an `items` array, and one unknown name.
 */
function intrudersOf(op: Operation): Array<{ field: string; inItems: boolean }> {
  const variants: JsonSchema[] = op.body?.anyOf ?? (op.body ? [op.body] : []);
  const accepted = new Set(variants.flatMap((v) => Object.keys(v.properties ?? {})));
  const answered = Object.keys(op.response?.properties ?? {});
  const found = [...answered.filter((f) => !accepted.has(f)), 'unknown_field'].map((field) => ({
    field,
    inItems: false,
  }));
  const linesIn = variants.find((v) => v.properties?.items?.items?.properties)?.properties?.items?.items;
  const linesOut = op.response?.properties?.items?.items;
  if (linesIn && linesOut) {
    const lineFields = new Set(Object.keys(linesIn.properties ?? {}));
    for (const f of Object.keys(linesOut.properties ?? {}))
      if (!lineFields.has(f)) found.push({ field: f, inItems: true });
  }
  return found;
}
