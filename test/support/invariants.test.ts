import { randomBytes } from 'node:crypto';
import { cpSync, rmSync } from 'node:fs';
import { connect } from 'amqplib';
import Database from 'better-sqlite3';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createNotificationsModule,
  type NotificationsDatabase,
} from '../../src/modules/notifications/index.ts';
import { openDatabase } from '../../src/platform/db/database.ts';
import { amqpNames } from '../../src/platform/events/amqp-topology.ts';
import { createMemoryBus } from '../../src/platform/events/memory-bus.ts';
import { adminLogin, createClient, createProduct, placeOrder, register } from './http-client.ts';
import { CONSUMERS, checkInvariants, type InvariantExpectations } from './invariants.ts';
import { needs } from './services.ts';
import {
  type ShopProcess,
  shopEnv,
  spawnShop,
  sqliteDatabases,
  stopShop,
  TEST_ADMIN_PASSWORD,
  tempDataDir,
} from './shop.ts';

// One monolith runs a few orders of every outcome and stops; each test tampers with a copy of its files.
let dataDir: string;
let expectations: InvariantExpectations;
let confirmedId: string;
const copies: string[] = [];

beforeAll(async () => {
  dataDir = tempDataDir('splitshop-invariants-');
  const shop: ShopProcess = await spawnShop(shopEnv(dataDir));
  try {
    const client = createClient(shop.baseUrl);
    const adminToken = await adminLogin(client, TEST_ADMIN_PASSWORD);
    const product = await createProduct(
      { client, adminToken, adminPassword: TEST_ADMIN_PASSWORD },
      { stock: 50 },
    );
    const { token } = await register(client);
    const orders = [];
    for (let i = 0; i < 4; i++) orders.push(await placeOrder(client, token, product.id, 2));
    const declined = await client.request<{ order_id: string }>('POST', '/orders', {
      token,
      body: { items: [{ product_id: product.id, quantity: 1 }], payment_method: 'pm_card_chargeDeclined' },
    });
    expect(declined.status).toBe(402);
    expect((await client.request('POST', `/orders/${orders[0]!.id}/cancel`, { token })).status).toBe(200);
    expect(
      (await client.request('POST', `/orders/${orders[1]!.id}/ship`, { token: adminToken })).status,
    ).toBe(200);
    confirmedId = orders[2]!.id;
    expectations = { acknowledgedOrderIds: orders.map((o) => o.id), initialStock: { [product.id]: 50 } };
    // On the live shop first: the checker waits for the relays and the sagas, and then finds nothing wrong.
    const live = await checkInvariants({ databases: sqliteDatabases(dataDir) }, expectations);
    expect(live.violations).toEqual([]);
    expect(live).toMatchObject({ acknowledged: 4, present: 4 });
    // Registrations of the admin and the customer, 4 confirmed, 2 cancelled, 1 shipped.
    expect(live.eventsCommitted).toBe(9);
    expect(live.appliedOnce).toBe(9);
  } finally {
    await stopShop(shop);
  }
}, 120_000);

afterAll(() => {
  for (const dir of [dataDir, ...copies]) rmSync(dir, { recursive: true, force: true });
});

/** A copy of the stopped shop's files with `sql` run on one module's database, and the checker's report on it. */
async function tampered(module: string, sql: string, expect = expectations) {
  const copy = tempDataDir('splitshop-tampered-');
  copies.push(copy);
  cpSync(dataDir, copy, { recursive: true });
  const db = new Database(`${copy}/${module}.db`);
  db.exec(sql);
  db.close();
  return checkInvariants({ databases: sqliteDatabases(copy) }, { ...expect, settleTimeoutMs: 0 });
}

describe('checkInvariants', () => {
  it('finds nothing wrong with the untouched files', async () => {
    expect((await tampered('orders', 'select 1')).violations).toEqual([]);
  });

  it('misses an acknowledged order that is gone', async () => {
    const report = await tampered(
      'orders',
      `delete from orders where id = '${confirmedId}'; delete from order_events where order_id = '${confirmedId}';`,
    );
    expect(report).toMatchObject({ acknowledged: 4, present: 3 });
    expect(report.violations).toContainEqual('acknowledged orders missing (1):');
    expect(report.violations).toContainEqual(`  ${confirmedId}`);
  });

  it('sees an order that is not terminal, and a saga still running', async () => {
    const report = await tampered(
      'orders',
      `update orders set status = 'pending' where id = '${confirmedId}';
       update sagas set status = 'running' where order_id = '${confirmedId}';`,
    );
    expect(report.violations).toContainEqual('orders not in a terminal state (1):');
    expect(report.violations).toContainEqual('sagas still running (1):');
  });

  it('sees a refund paid twice', async () => {
    const report = await tampered(
      'payments',
      `insert into payments (id, idempotency_key, order_id, user_id, kind, amount_minor, currency, status, payment_method, charge_key, created_at)
       select id || 'x', idempotency_key || 'x', order_id, user_id, kind, amount_minor, currency, status, payment_method, null, created_at
       from payments where kind = 'refund';`,
    );
    expect(report.violations).toContainEqual('books do not balance (2):');
    expect(report.violations.join('\n')).toMatch(/overall: charges − refunds = \d+, live orders total \d+/);
  });

  it('sees stock that moved without an order', async () => {
    const report = await tampered('catalog', 'update products set stock = stock - 1;');
    expect(report.violations).toContainEqual('stock does not add up (1):');
  });

  it('sees a notification twice, and an effect missing', async () => {
    const doubled = await tampered(
      'notifications',
      `insert into notifications (id, user_id, event_id, channel, subject, body, created_at, sent_at, attempts, next_attempt_at)
       select id || 'x', user_id, event_id || 'x', channel, subject, body, created_at, sent_at, attempts, next_attempt_at
       from notifications limit 1;`,
    );
    expect(doubled.violations).toContainEqual('notifications for no committed notifying event (1):');
    const lost = await tampered(
      'notifications',
      'delete from notifications where rowid in (select rowid from notifications limit 1);',
    );
    expect(lost.violations).toContainEqual('committed events notifications applied other than once (1):');
    expect(lost.appliedOnce).toBe(lost.eventsCommitted - 1);
  });

  it('sees a committed event no consumer applied', async () => {
    const report = await tampered(
      'notifications',
      'delete from inbox where rowid in (select rowid from inbox limit 1);',
    );
    expect(report.violations.join('\n')).toMatch(
      /committed events notifications (never applied|applied other than once) \(1\):/,
    );
  });

  it('sees an outbox not drained, and its dead letters unless the test put them there', async () => {
    const pending = await tampered(
      'orders',
      'update outbox set sent_at = null where seq = (select max(seq) from outbox);',
    );
    expect(pending.violations).toContainEqual('outbox not drained (1):');
    const deadRow = 'update outbox set dead_at = 1 where seq = (select max(seq) from outbox);';
    expect((await tampered('orders', deadRow)).violations).toContainEqual('outbox dead letters (1):');
    const expected = await tampered('orders', deadRow, {
      ...expectations,
      expectDeadLetters: { 'outbox.orders': 1 },
    });
    expect(expected.violations).toEqual([]);
  });

  it('waits for what settles: an outbox row sent a moment later passes', async () => {
    const copy = tempDataDir('splitshop-tampered-');
    copies.push(copy);
    cpSync(dataDir, copy, { recursive: true });
    const db = new Database(`${copy}/orders.db`);
    const seq = db.prepare('select max(seq) as seq from outbox').get() as { seq: number };
    const sentAt = db.prepare('select sent_at from outbox where seq = ?').pluck().get(seq.seq);
    db.prepare('update outbox set sent_at = null where seq = ?').run(seq.seq);
    const later = setTimeout(
      () => db.prepare('update outbox set sent_at = ? where seq = ?').run(sentAt, seq.seq),
      1000,
    );
    try {
      const report = await checkInvariants(
        { databases: sqliteDatabases(copy) },
        { ...expectations, settleTimeoutMs: 20_000 },
      );
      expect(report.violations).toEqual([]);
    } finally {
      clearTimeout(later);
      db.close();
    }
  });

  it('knows every consumer the modules subscribe, and every type they consume', async () => {
    const database = openDatabase<NotificationsDatabase>({ url: 'sqlite::memory:' });
    const module = createNotificationsModule({
      database,
      bus: createMemoryBus(),
      log: pino({ level: 'silent' }),
    });
    try {
      expect(module.subscriptions.map((s) => [s.consumer, [...s.types].sort()])).toEqual(
        Object.entries(CONSUMERS).map(([consumer, c]) => [consumer, [...c.types].sort()]),
      );
    } finally {
      await database.close();
    }
  });
});

describe.skipIf(!(await needs('rabbitmq')))('checkInvariants on the broker', () => {
  it('sees messages left in a consumer queue, and dead letters unless expected', async () => {
    const namespace = `splitshop.inv${randomBytes(4).toString('hex')}`;
    const names = amqpNames(namespace);
    const url = 'amqp://guest:guest@127.0.0.1:5672';
    const connection = await connect(url);
    const channel = await connection.createConfirmChannel();
    try {
      for (const queue of [names.queue('notifications'), names.deadQueue('notifications')]) {
        await channel.assertQueue(queue, { durable: false, autoDelete: false });
        channel.sendToQueue(queue, Buffer.from('{}'));
      }
      await channel.waitForConfirms();
      const shop = { databases: sqliteDatabases(dataDir), amqp: { url, namespace } };
      const stuck = await checkInvariants(shop, { ...expectations, settleTimeoutMs: 0 });
      expect(stuck.violations).toContainEqual('messages left in queues (2):');
      await channel.purgeQueue(names.queue('notifications'));
      const dead = await checkInvariants(shop, {
        ...expectations,
        settleTimeoutMs: 0,
        expectDeadLetters: { [names.deadQueue('notifications')]: 1 },
      });
      expect(dead.violations).toEqual([]);
    } finally {
      for (const queue of [names.queue('notifications'), names.deadQueue('notifications')])
        await channel.deleteQueue(queue);
      await connection.close();
    }
  });
});
