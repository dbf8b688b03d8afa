import { execFile } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { generatedSecrets, launchTopology } from '../../src/bootstrap/launcher.ts';
import { split } from '../../src/bootstrap/topology.ts';
import { createFaultProxy } from '../support/fault-proxy.ts';
import { adminLogin, createClient, login, register } from '../support/http-client.ts';
import { createTestDatabase } from '../support/postgres.ts';
import { needs } from '../support/services.ts';
import {
  freePort,
  ROOT,
  ShopExitedError,
  shopEnv,
  spawnShop,
  stopShop,
  TEST_ADMIN_PASSWORD,
  tempDataDir,
} from '../support/shop.ts';
import { freePortBlock } from '../support/split.ts';

const run = promisify(execFile);
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});
function dataDir(): string {
  const dir = tempDataDir('splitshop-proc-');
  dirs.push(dir);
  return dir;
}

describe('the monolith as a process', () => {
  it('prints a generated admin password once, on the first start only, and it works', async () => {
    const dir = dataDir();
    const env = shopEnv(dir);
    delete env.ADMIN_PASSWORD;
    const first = await spawnShop(env);
    const line = first.logs.find((l) => typeof l.generated_admin_password === 'string');
    expect(line).toBeDefined();
    const password = String(line!.generated_admin_password);
    await stopShop(first);
    const second = await spawnShop(env);
    try {
      expect(second.logs.some((l) => 'generated_admin_password' in l)).toBe(false);
      const token = await adminLogin(createClient(second.baseUrl), password);
      expect(token.split('.')).toHaveLength(3);
    } finally {
      await stopShop(second);
    }
  });

  it('never writes a password, a token or a password hash to its log', async () => {
    const shop = await spawnShop(shopEnv(dataDir(), { LOG_LEVEL: 'trace' }));
    const client = createClient(shop.baseUrl);
    const account = await register(client);
    await client.request('POST', '/auth/login', {
      body: { username: account.user.username, password: 'wrong-password' },
    });
    await client.request('PATCH', `/users/${account.user.id}`, {
      token: account.token,
      body: { password: 'a-new-password-123' },
    });
    await client.request('GET', '/users/me', { token: account.token });
    await stopShop(shop);
    const text = shop.logs.map((l) => JSON.stringify(l)).join('\n');
    expect(shop.logs.length).toBeGreaterThan(5);
    for (const secret of [
      account.password,
      'wrong-password',
      'a-new-password-123',
      TEST_ADMIN_PASSWORD,
      account.token,
    ]) {
      expect(text).not.toContain(secret);
    }
    expect(text).not.toContain('$argon2');
    expect(text).toContain(account.user.id);
  });

  it('finishes requests in flight on SIGTERM, exits cleanly, and loses no acknowledged order', async () => {
    const dir = dataDir();
    const shop = await spawnShop(shopEnv(dir));
    let client = createClient(shop.baseUrl);
    const admin = await adminLogin(client, TEST_ADMIN_PASSWORD);
    const product = await client.request<{ id: string }>('POST', '/products', {
      token: admin,
      body: { name: 'Shutdown lamp', price: 10, stock: 1000 },
    });
    const account = await register(client);
    const inFlight = Array.from({ length: 40 }, () =>
      client
        .request<{ id: string; status: string }>('POST', '/orders', {
          token: account.token,
          body: { product_id: product.body.id, quantity: 1 },
        })
        .catch(() => undefined),
    );
    await new Promise((r) => setTimeout(r, 20));
    const code = await stopShop(shop, 'SIGTERM');
    const answers = await Promise.all(inFlight);
    expect(code).toBe(0);
    const acknowledged = answers.filter((a) => a?.status === 201).map((a) => a!.body.id);
    expect(answers.every((a) => a === undefined || a.status === 201 || a.status === 503)).toBe(true);

    const again = await spawnShop(shopEnv(dir));
    try {
      client = createClient(again.baseUrl);
      const token = await login(client, { username: account.user.username, password: account.password });
      const list = await client.request<{ items: Array<{ id: string; status: string }> }>(
        'GET',
        '/orders?limit=100',
        {
          token,
        },
      );
      const byId = new Map(list.body.items.map((o) => [o.id, o.status]));
      for (const id of acknowledged) expect(byId.get(id)).toBe('confirmed');
      const stock = await client.request<{ stock: number }>('GET', `/products/${product.body.id}`);
      const confirmed = list.body.items.filter((o) => o.status === 'confirmed').length;
      expect(stock.body.stock).toBe(1000 - confirmed);
    } finally {
      await stopShop(again);
    }
  });

  it('rebuilds the order projection from the events with the same result', async () => {
    const dir = dataDir();
    const shop = await spawnShop(shopEnv(dir));
    let client = createClient(shop.baseUrl);
    const admin = await adminLogin(client, TEST_ADMIN_PASSWORD);
    const product = await client.request<{ id: string }>('POST', '/products', {
      token: admin,
      body: { name: 'Projection mug', price: 3.5, stock: 3 },
    });
    const account = await register(client);
    const order = (body: object) =>
      client.request<{ id: string }>('POST', '/orders', { token: account.token, body });
    const confirmed = await order({ product_id: product.body.id, quantity: 1 });
    await order({ product_id: product.body.id, quantity: 1, payment_method: 'pm_card_chargeDeclined' });
    await order({ product_id: product.body.id, quantity: 99 });
    await client.request('POST', `/orders/${confirmed.body.id}/ship`, { token: admin });
    const second = await order({ product_id: product.body.id, quantity: 2 });
    await client.request('POST', `/orders/${second.body.id}/cancel`, { token: account.token });
    const before = await client.request('GET', '/orders?limit=100', { token: account.token });
    await stopShop(shop);

    const { stdout } = await run(
      process.execPath,
      ['--disable-warning=ExperimentalWarning', join(ROOT, 'src/bootstrap/rebuild-projections.ts')],
      { cwd: ROOT, env: shopEnv(dir) },
    );
    expect(stdout).toMatch(/4 orders/);

    const again = await spawnShop(shopEnv(dir));
    try {
      client = createClient(again.baseUrl);
      const token = await login(client, { username: account.user.username, password: account.password });
      const after = await client.request('GET', '/orders?limit=100', { token });
      expect(after.body).toEqual(before.body);
    } finally {
      await stopShop(again);
    }
  });
});

describe('a process that cannot reach what it needs', () => {
  /** Starts a process expected to fail, and returns what it wrote on stderr. */
  async function failedStart(extra: Record<string, string>): Promise<string> {
    const started = spawnShop(shopEnv(dataDir(), extra));
    const error = await started.then(
      () => {
        throw new Error('the process started');
      },
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(ShopExitedError);
    expect((error as ShopExitedError).exit).toBe(1);
    return (error as Error).message;
  }

  it('stops at once on a port already taken, before it creates the admin and prints a password it would not show again', async () => {
    // Something else on the port, which hangs up on whoever connects.
    const taken = createServer((socket) => socket.destroy());
    await new Promise<void>((done) => taken.listen(0, '127.0.0.1', done));
    const { port } = taken.address() as AddressInfo;
    const dir = dataDir();
    const env = shopEnv(dir, { PORT: String(port) });
    delete env.ADMIN_PASSWORD;
    try {
      const error = await spawnShop(env).then(
        () => {
          throw new Error('the process started');
        },
        (err: unknown) => err,
      );
      expect((error as Error).message).toContain(
        `splitshop failed to start: port ${port} on 127.0.0.1 is already in use (another Splitshop?): stop it, or set PORT`,
      );
      // Nothing migrated, no admin created: the next start, on a free port, creates it and shows its password.
      expect(existsSync(dir) ? readdirSync(dir) : []).toEqual([]);
    } finally {
      await new Promise((done) => taken.close(done));
    }
  });

  it('names the broker, the setting and the reason, without the password', async () => {
    const port = await freePort();
    const said = await failedStart({
      SPLITSHOP_MODULES: 'catalog',
      SPLITSHOP_INTERNAL_SECRET: 'internal-secret-that-is-long-enough-0123456789',
      AMQP_URL: `amqp://guest:hush-hush@127.0.0.1:${port}`,
    });
    expect(said).toContain(
      `splitshop failed to start: cannot connect to RabbitMQ at amqp://guest:***@127.0.0.1:${port} (AMQP_URL): connect ECONNREFUSED`,
    );
    expect(said).not.toContain('hush-hush');
  });

  it('names the database, the setting and the reason, without the password', async () => {
    const port = await freePort();
    const said = await failedStart({
      CATALOG_DATABASE_URL: `postgres://postgres:hush-hush@127.0.0.1:${port}/shop_catalog`,
    });
    expect(said).toMatch(
      /splitshop failed to start: cannot open the catalog database \(CATALOG_DATABASE_URL\): .*postgres:\*\*\*@.*: connect ECONNREFUSED/,
    );
    expect(said).not.toContain('hush-hush');
  });
});

describe('a topology whose process fails to start', () => {
  it('says which process, how it exited and what it said last', async () => {
    const failed = await launchTopology({
      topology: split,
      // The first process to start needs a broker; this address has none.
      env: { ...generatedSecrets(), AMQP_URL: `amqp://127.0.0.1:${await freePort()}` },
      postgresUrl: `postgres://postgres@127.0.0.1:${await freePort()}`,
      databasePrefix: 'never_created',
      portOffset: await freePortBlock(),
    }).then(
      () => undefined,
      (err: Error) => err.message,
    );
    expect(failed).toMatch(
      /^notifications at http:\/\/127\.0\.0\.1:\d+ exited \(1\) before it was ready; its last lines:\n.*splitshop failed to start: cannot/s,
    );
  });
});

describe.skipIf(!(await needs('postgres')))('a module whose database goes away', () => {
  it('answers 503 with Retry-After and is unready while it is away, logs the outage once, and serves again when it is back', async () => {
    const catalog = await createTestDatabase('outage_catalog');
    const orders = await createTestDatabase('outage_orders');
    const proxy = await createFaultProxy();
    proxy.setTarget({ host: '127.0.0.1', port: 5432 });
    const shop = await spawnShop(
      shopEnv(dataDir(), {
        PORT: String(await freePort()),
        CATALOG_DATABASE_URL: `postgres://postgres@127.0.0.1:${proxy.port}/${catalog.name}`,
        ORDERS_DATABASE_URL: `postgres://postgres@127.0.0.1:${proxy.port}/${orders.name}`,
        SAGA_SWEEP_INTERVAL_MS: '200',
      }),
    );
    try {
      const products = () => fetch(`${shop.baseUrl}/v1/products`);
      expect((await products()).status).toBe(200);

      await proxy.setToxic({ kind: 'down' });
      const relayFailures = () =>
        shop.logs.filter(
          (l) => l.module === 'catalog' && l.component === 'outbox-relay' && l.level === 'error',
        );
      for (let i = 0; i < 5; i++) {
        const res = await products();
        expect(res.status).toBe(503);
        expect(res.headers.get('content-type')).toContain('application/problem+json');
        expect(res.headers.get('retry-after')).toBe('1');
        expect(await res.json()).toMatchObject({ status: 503, code: 'SERVICE_UNAVAILABLE' });
      }
      // Its own database is what a process cannot serve without: unready, naming it, until it is back.
      const ready = await fetch(`${shop.baseUrl}/health/ready`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toMatchObject({
        status: 'unready',
        checks: { catalog_db: { status: 'down' }, users_db: { status: 'up' } },
      });
      // The catalog's outbox relay polls every 500 ms and the orders' saga sweep runs every 200 ms here:
      // 2.5 s of outage is five and twelve failed runs, one line each.
      await new Promise((resolve) => setTimeout(resolve, 2500));
      expect(relayFailures()).toHaveLength(1);
      expect(shop.logs.filter((l) => l.msg === 'saga sweep failed')).toHaveLength(1);

      await proxy.setToxic(undefined);
      const deadline = Date.now() + 15_000;
      while ((await products()).status !== 200) {
        if (Date.now() > deadline) throw new Error('the catalog did not serve again');
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect((await fetch(`${shop.baseUrl}/health/ready`)).status).toBe(200);
      while (
        !shop.logs.some((l) => l.component === 'outbox-relay' && l.msg === 'working again after failed runs')
      ) {
        if (Date.now() > deadline) throw new Error('the relay did not say it works again');
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    } finally {
      await stopShop(shop);
      await proxy.close();
      await catalog.drop();
      await orders.drop();
    }
  }, 60_000);
});

describe('the maintenance commands', () => {
  /** Runs `src/bootstrap/<script>.ts` as npm would, and returns how it ended and what it wrote. */
  async function command(script: string, args: string[], env: Record<string, string>) {
    return run(
      process.execPath,
      ['--disable-warning=ExperimentalWarning', join(ROOT, `src/bootstrap/${script}.ts`), ...args],
      { cwd: ROOT, env },
    ).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (err: { code: number; stdout: string; stderr: string }) => err,
    );
  }

  it('refuse a module name they do not know, and name the ones there are', async () => {
    const { code, stderr } = await command('replay-dead-letters', ['notifcations'], shopEnv(dataDir()));
    expect(code).toBe(2);
    expect(stderr).toContain(
      'no module named notifcations: the modules are users, catalog, payments, notifications, orders',
    );
  });

  it('say so when the data directory holds no shop, and create nothing there', async () => {
    const nowhere = join(dataDir(), 'not-the-shop');
    const replayed = await command('replay-dead-letters', [], shopEnv(nowhere));
    expect(replayed.code).toBe(1);
    expect(replayed.stdout).toContain(
      `orders: there is no orders database at ${nowhere}/orders.db (DATA_DIR)`,
    );
    expect(replayed.stderr).toContain('is DATA_DIR where the shop keeps its data?');
    const rebuilt = await command('rebuild-projections', [], shopEnv(nowhere));
    expect(rebuilt.code).toBe(1);
    expect(rebuilt.stderr).toContain(`there is no orders database at ${nowhere}/orders.db (DATA_DIR)`);
    expect(existsSync(nowhere)).toBe(false);
  });
});
