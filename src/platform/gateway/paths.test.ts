import { describe, expect, it } from 'vitest';
import { normalizePath } from './paths.ts';
import { compileRoutes, isInternalPath } from './routes.ts';

const normal: Array<[raw: string, path: string]> = [
  ['/', '/'],
  ['/products', '/products'],
  ['/products/', '/products/'],
  ['/products/p1', '/products/p1'],
  ['/orders/o1/events', '/orders/o1/events'],
  ["/a-b_c.d~e!$&'()*+,=:@", "/a-b_c.d~e!$&'()*+,=:@"],
  // Unreserved characters, encoded, are the same path: decoded.
  ['/%70roducts', '/products'],
  ['/%50%52%4f%44', '/PROD'],
  ['/products/%61%62%63%2D%5F%7E', '/products/abc-_~'],
  // Other escapes are kept, with upper-case hex.
  ['/products/a%20b', '/products/a%20b'],
  ['/products/%3f', '/products/%3F'],
  ['/products/%c3%a9', '/products/%C3%A9'],
  ['/products/%23x', '/products/%23x'],
  // Dots that are not a whole segment are names.
  ['/products/p.1', '/products/p.1'],
  ['/products/...', '/products/...'],
  ['/products/.hidden', '/products/.hidden'],
  ['/products/%2e%2e%2e', '/products/...'],
];

const refused: Array<[raw: string, why: string]> = [
  ['', 'empty'],
  ['products', 'relative'],
  ['http://evil.test/products', 'absolute form'],
  ['*', 'asterisk form'],
  ['//products', 'empty first segment'],
  ['/products//p1', 'empty segment'],
  ['/products/p1//', 'double trailing slash'],
  ['/./products', 'dot segment'],
  ['/products/.', 'trailing dot segment'],
  ['/products/..', 'trailing dot-dot segment'],
  ['/products/../internal/x', 'dot-dot segment'],
  ['/products/%2e%2e/internal', 'encoded dot-dot'],
  ['/products/%2E%2E/internal', 'encoded dot-dot, upper case'],
  ['/products/.%2e/internal', 'half-encoded dot-dot'],
  ['/products/%2e/x', 'encoded dot'],
  ['/products%2finternal', 'encoded slash'],
  ['/products%2Finternal', 'encoded slash, upper case'],
  ['/products%5cinternal', 'encoded backslash'],
  ['/products\\..\\internal', 'backslash'],
  ['/products%00', 'encoded NUL'],
  ['/products%0a', 'encoded line feed'],
  ['/products%7f', 'encoded DEL'],
  ['/products;jsessionid=1', 'path parameter'],
  ['/products/p1;/../internal', 'path parameter before dot-dot'],
  ['/products%3bx', 'encoded semicolon'],
  ['/products/%252e%252e/internal', 'double encoding'],
  ['/products/%25', 'encoded percent'],
  ['/products/%', 'truncated escape'],
  ['/products/%2', 'truncated escape'],
  ['/products/%zz', 'escape that is not hex'],
  ['/products/a b', 'raw space'],
  ['/products/<script>', 'raw angle brackets'],
  ['/products/"x"', 'raw quote'],
  ['/products/é', 'raw non-ASCII'],
  ['/products/`x`', 'raw backtick'],
  ['/products/{id}', 'raw braces'],
  ['/products/a|b', 'raw pipe'],
  ['/products/\u0000', 'raw NUL'],
];

describe('normalizePath', () => {
  it.each(normal)('%s is routed as %s', (raw, path) => {
    expect(normalizePath(raw)).toEqual({ ok: true, path });
  });

  it.each(refused)('refuses %j (%s)', (raw) => {
    const result = normalizePath(raw);
    expect(result.ok).toBe(false);
    expect(result.ok ? '' : result.reason).toMatch(/^A path /);
  });

  it('returns a normal path as it came, so the common case costs no copy', () => {
    const raw = `/products/${'p'.repeat(10)}`;
    const result = normalizePath(raw);
    expect(result.ok && result.path).toBe(raw);
  });

  it('is idempotent: a normal path normalizes to itself', () => {
    for (const [, path] of normal) expect(normalizePath(path)).toEqual({ ok: true, path });
  });
});

describe('the route table', () => {
  const table = compileRoutes([
    { prefix: '/products', service: 'catalog' },
    { prefix: '/auth', service: 'users' },
    { prefix: '/users', service: 'users' },
    { prefix: '/users/me/orders', service: 'orders' },
    { prefix: '/orders', service: 'orders' },
  ]);

  it.each([
    ['/products', 'catalog'],
    ['/products/', 'catalog'],
    ['/products/p1', 'catalog'],
    ['/auth/login', 'users'],
    ['/users/me', 'users'],
    ['/users/me/orders', 'orders'],
    ['/users/me/orders/o1', 'orders'],
    ['/users/me/ordersx', 'users'],
    ['/orders/o1/events', 'orders'],
  ])('sends %s to %s by the longest prefix', (path, service) => {
    expect(table.lookup(path)).toBe(service);
  });

  it.each([
    '/',
    '/productsx',
    '/product',
    '/PRODUCTS',
    '/internal',
    '/internal/',
    '/internal/catalog/reserveStock',
    '/INTERNAL/x',
    '/Internal/x',
    '/health-x',
  ])('routes %s nowhere', (path) => {
    expect(table.lookup(path)).toBeUndefined();
  });

  it('never routes an internal path, even with a catch-all prefix', () => {
    const everything = compileRoutes([{ prefix: '/', service: 'shop' }]);
    expect(everything.lookup('/anything/at/all')).toBe('shop');
    expect(everything.lookup('/internal/x')).toBeUndefined();
    expect(isInternalPath('/internals')).toBe(false);
  });

  it.each([
    ['products', 'relative'],
    ['/products/', 'trailing slash'],
    ['/%70roducts', 'not normal'],
    ['/a/../b', 'not a path it would route'],
    ['/internal/x', 'internal'],
  ])('refuses the prefix %s (%s)', (prefix) => {
    expect(() => compileRoutes([{ prefix, service: 'x' }])).toThrow();
  });

  it('refuses a prefix listed twice', () => {
    expect(() =>
      compileRoutes([
        { prefix: '/a', service: 'x' },
        { prefix: '/a', service: 'y' },
      ]),
    ).toThrow(/twice/);
  });
});
