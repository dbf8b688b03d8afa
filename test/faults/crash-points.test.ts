import { setTimeout as sleep } from 'node:timers/promises';
import { connect } from 'amqplib';
import { describe, expect, it } from 'vitest';
import { amqpNames } from '../../src/platform/events/amqp-topology.ts';
import { type CrashTarget, monolithTarget, splitTarget } from '../support/crash-target.ts';
import { recordFigures } from '../support/figures.ts';
import { adminLogin, type Client, createProduct, expectProblem, register } from '../support/http-client.ts';
import { checkInvariants } from '../support/invariants.ts';
import { observeShop } from '../support/invariants-read.ts';
import { createOrderTraffic, type Shoppers } from '../support/order-traffic.ts';
import { needs } from '../support/services.ts';
import { TEST_ADMIN_PASSWORD } from '../support/shop.ts';

/**
 * Each crash point, and the split process it lives in (the relay: orders', the busiest). The group
 * commit's live only on SQLite, so only in the monolith: after a group's units have run and before its
 * COMMIT, and after the COMMIT before any unit of it is answered. `every` spaces the crashes out, so
 * orders are answered between them: the relay passes once per group, several times an order, and every
 * module's commits pass the group commit's points.
 */
const POINTS: ReadonlyArray<{ name: string; process: string; only?: 'monolith'; every?: number }> = [
  { name: 'relay.before_publish', process: 'orders', every: 5 },
  { name: 'relay.after_publish_before_mark', process: 'orders', every: 5 },
  { name: 'consumer.after_commit_before_ack', process: 'notifications' },
  { name: 'saga.after_reserve', process: 'orders' },
  { name: 'saga.after_charge', process: 'orders' },
  { name: 'saga.during_compensation', process: 'orders' },
  { name: 'orders.after_201', process: 'orders' },
  { name: 'sqlite.before_group_commit', process: 'orders', only: 'monolith', every: 20 },
  { name: 'sqlite.after_group_commit', process: 'orders', only: 'monolith', every: 20 },
];
const RUNS = 20;
const STOCK = 100_000;
const SEQUENTIAL = { concurrent: false, timeout: 600_000 };

const splitUp = await needs('postgres', 'rabbitmq', 'redis');

async function prepare(client: Client, stock = STOCK): Promise<Shoppers> {
  const adminToken = await adminLogin(client, TEST_ADMIN_PASSWORD);
  const shop = { client, adminToken, adminPassword: TEST_ADMIN_PASSWORD };
  const product = await createProduct(shop, { stock });
  const { token } = await register(client);
  return { token, adminToken, productId: product.id };
}

/**
 * `RUNS` times: starts the process armed to die at the n-th pass of `point` (1 to 3 times `every`, so
 * some work gets through first), drives orders until it dies, and checks it died there. Then starts it
 * for good.
 */
async function crashRepeatedly(
  target: CrashTarget,
  { name: point, every = 1 }: (typeof POINTS)[number],
  traffic: ReturnType<typeof createOrderTraffic>,
): Promise<number> {
  let crashes = 0;
  for (let run = 0; run < RUNS; run++) {
    // A crash point on the way up (recovery, a backlog) kills it before it serves: that run is done.
    if (await target.start(`${point}:${(1 + (run % 3)) * every}`)) await traffic.until(target.alive, 60_000);
    expect(target.alive(), `${point} was not reached in run ${run + 1}`).toBe(false);
    expect(await target.exited(), target.output()).toBe('SIGKILL');
    crashes++;
  }
  expect(await target.start(), target.output()).toBe(true);
  return crashes;
}

for (const topology of ['monolith', 'split'] as const) {
  const start = (process: string) => (topology === 'monolith' ? monolithTarget() : splitTarget(process));

  // The two topologies run side by side, their tests one after the other: restarts keep a core busy,
  // and the split's restarts wait for the gateway's health checks.
  describe.skipIf(topology === 'split' && !splitUp)(
    `crash points (${topology})`,
    { concurrent: true },
    () => {
      for (const point of POINTS.filter((p) => (p.only ?? topology) === topology)) {
        it(
          `${point.name}: ${RUNS} crashes, then every committed event applied once, every saga ended, the books balanced`,
          SEQUENTIAL,
          async () => {
            const target = await start(point.process);
            try {
              const shoppers = await prepare(target.client());
              const traffic = createOrderTraffic(target.client, shoppers);
              const crashes = await crashRepeatedly(target, point, traffic);
              const report = await checkInvariants(target.shop, {
                acknowledgedOrderIds: traffic.acknowledged,
                initialStock: { [shoppers.productId]: STOCK },
              });
              expect(report.violations).toEqual([]);
              expect(report.acknowledged).toBeGreaterThan(0);
              expect(report.eventsCommitted).toBeGreaterThan(0);
              recordFigures(`crash points (${topology})`, {
                faults: { points: 1, runs: crashes },
                nothingLost: {
                  acknowledged: report.acknowledged,
                  present: report.present,
                  eventsCommitted: report.eventsCommitted,
                  appliedOnce: report.appliedOnce,
                },
              });
            } finally {
              await target.close();
            }
          },
        );
      }

      it('a business transaction that rolls back publishes nothing', SEQUENTIAL, async () => {
        const target = await start('orders');
        const observer = observeShop(target.shop, []);
        const heard = topology === 'split' ? await listen(target, 'catalog.product_updated') : undefined;
        try {
          const client = target.client();
          const shoppers = await prepare(client, 5);
          const other = await createProduct(
            { client, adminToken: shoppers.adminToken, adminPassword: TEST_ADMIN_PASSWORD },
            { stock: 5 },
          );
          // Stock is taken in product id order: the first line is taken (and its event raised), the second refused.
          const [first, second] = [shoppers.productId, other.id].sort();
          const updates = async () =>
            (await observer.observe()).outbox.filter((r) => r.type === 'catalog.product_updated').length;
          const before = await updates();
          const refused = await client.request('POST', '/orders', {
            token: shoppers.token,
            body: {
              items: [
                { product_id: first, quantity: 1 },
                { product_id: second, quantity: 50 },
              ],
            },
          });
          expectProblem(refused, 409, 'OUT_OF_STOCK');
          expect(await updates()).toBe(before);
          // Then a reservation that commits: its event, and only its, is written and sent.
          const placed = await client.request('POST', '/orders', {
            token: shoppers.token,
            body: { items: [{ product_id: first, quantity: 1 }] },
          });
          expect(placed.status).toBe(201);
          expect(await updates()).toBe(before + 1);
          const report = await checkInvariants(target.shop, {
            acknowledgedOrderIds: [(placed.body as { id: string }).id],
            initialStock: { [first!]: 5, [second!]: 5 },
          });
          expect(report.violations).toEqual([]);
          if (heard) {
            // Every outbox row has been confirmed by the broker by now; give the deliveries a moment.
            await sleep(500);
            expect(heard.products.filter((id) => id === first)).toEqual([first]);
          }
        } finally {
          await heard?.close();
          await observer.close();
          await target.close();
        }
      });
    },
  );
}

/** Binds a queue of the test's own to the shop's events of `type`, and collects their product ids. */
async function listen(target: CrashTarget, type: string) {
  const { url, namespace } = target.shop.amqp!;
  const names = amqpNames(namespace);
  const connection = await connect(url);
  const channel = await connection.createChannel();
  const { queue } = await channel.assertQueue('', { exclusive: true });
  await channel.assertExchange(names.exchange('catalog'), 'topic', { durable: true });
  await channel.bindQueue(queue, names.exchange('catalog'), type);
  const products: string[] = [];
  await channel.consume(
    queue,
    (message) => {
      if (message)
        products.push(
          (JSON.parse(message.content.toString()) as { data: { product_id: string } }).data.product_id,
        );
    },
    { noAck: true },
  );
  return { products, close: () => connection.close() };
}
