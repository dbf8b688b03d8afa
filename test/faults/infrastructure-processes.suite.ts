import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect, it } from 'vitest';
import { queueCounts } from '../support/broker.ts';
import { eventually, type HttpResponse } from '../support/http-client.ts';
import { type InfrastructureKit, isFailure } from '../support/infrastructure-kit.ts';
import { startLoad, type Target } from '../support/load.ts';

/** Every service process, and what the load asks of it through the gateway. */
const TARGET_OF: Record<string, Target> = {
  users: 'users',
  'catalog#1': 'catalog',
  'catalog#2': 'catalog',
  payments: 'payments',
  notifications: 'notifications',
  orders: 'orders',
};
const CATALOGS = ['catalog#1', 'catalog#2'];

/** Processes that die or are stopped under load: SIGKILL, one catalog instance of two, lost answers, SIGTERM. */
export function defineProcessFaults(kit: InfrastructureKit): void {
  it('a SIGKILL of each service process in turn, then a restart, loses and doubles nothing', async () => {
    const { shop, load } = kit;
    const from = Date.now();
    for (const name of Object.keys(TARGET_OF)) {
      const p = kit.proc(name);
      p.child.kill('SIGKILL');
      expect(await p.exited).toBe('SIGKILL');
      await sleep(1_000);
      const restarted = Date.now();
      await shop.topology.restart(p);
      // It answers through the gateway again (catalog always did: the other instance served meanwhile),
      // and, as in a rolling restart, the next goes down once the gateway counts every instance back in.
      await eventually(async () => {
        const back = load.between(restarted).filter((o) => o.target === TARGET_OF[name] && !isFailure(o));
        expect(back.length).toBeGreaterThan(0);
        await kit.expectGatewaySeesEveryInstance();
      }, 60_000);
    }
    const during = load.between(from);
    // The gateway answered every request, with a problem document when the service was away, and
    // products never failed: one catalog instance was always there.
    expect(during.filter((o) => o.status === 0)).toEqual([]);
    kit.expectOnlyUnavailable(during);
    expect(during.filter((o) => o.target === 'catalog' && isFailure(o))).toEqual([]);
    expect(during.filter((o) => o.status === 201).length).toBeGreaterThan(0);
    await kit.expectNothingLost();
    kit.passed.add('sigkill');
  }, 300_000);

  it('with one of the two catalog instances killed the gateway routes around it: at most 1% fail, and no write is sent twice', async () => {
    const { shop, load } = kit;
    // Admin writes without an Idempotency-Key: the gateway must never send one to a second instance.
    const writer = startLoad({
      baseUrl: shop.baseUrl,
      customers: kit.customers,
      productIds: Object.keys(kit.initialStock),
      ordersPerSecond: 0,
      readsPerSecond: 0,
      adminToken: kit.adminToken,
      writesPerSecond: 4,
    });
    await sleep(2_000);
    const from = Date.now();
    const catalog1 = kit.proc('catalog#1');
    catalog1.child.kill('SIGKILL');
    await catalog1.exited;
    await sleep(10_000);
    await shop.topology.restart(catalog1);
    await sleep(5_000);
    const to = Date.now();
    await writer.close();

    // Orders too: their stock is reserved on catalog, by orders' own client, through the same proxies.
    const window = [...load.between(from, to), ...writer.between(from, to)];
    expect(window.filter(isFailure).length / window.length).toBeLessThanOrEqual(0.01);
    kit.expectOnlyUnavailable(window);
    const rows = await kit.productRows();
    for (const w of writer.outcomes) {
      expect(kit.receivedBy(w.requestId, CATALOGS).length).toBeLessThanOrEqual(1);
      expect(rows.get(w.productName!) ?? 0).toBeLessThanOrEqual(1);
      if (w.status === 201) expect(rows.get(w.productName!)).toBe(1);
    }
    await kit.expectNothingLost();
    kit.passed.add('catalog instance');
  }, 300_000);

  it('when an answer is lost after a catalog instance acted, reads are retried on the other and writes are not', async () => {
    const { load, adminToken } = kit;
    await load.pause();
    // Both catalog instances in the gateway's turn, with no failures counted against them.
    await eventually(() => kit.expectGatewaySeesEveryInstance(), 30_000);
    const c = kit.client();
    const reads: Array<{ id: string; res: HttpResponse }> = [];
    const writes: Array<{ id: string; name: string; keyed: boolean; res: HttpResponse }> = [];
    const read = async () => {
      const id = `read-${randomUUID()}`;
      // A query of its own, so the edge cache does not answer it.
      const path = `/products/${Object.keys(kit.initialStock)[0]}?n=${id}`;
      reads.push({ id, res: await c.request('GET', path, { headers: { 'x-request-id': id } }) });
    };
    const write = async (keyed: boolean) => {
      const name = `infra-probe ${randomUUID()}`;
      const id = `write-${randomUUID()}`;
      // An Idempotency-Key that catalog does not honour must not make the gateway send a write again.
      const headers = { 'x-request-id': id, ...(keyed ? { 'idempotency-key': id } : {}) };
      const body = { name, price: 1, stock: 0 };
      writes.push({
        id,
        name,
        keyed,
        res: await c.request('POST', '/products', { token: adminToken, headers, body }),
      });
    };
    // catalog#1 acts on every request, and its answer is lost (reset). The gateway takes instances in
    // turn: after a read (answered by catalog#2, at once or on its retry) the turn is catalog#1's, so
    // each write goes there; after a write that failed there it is catalog#2's. The third failure
    // ejects catalog#1, so one of the first and last reads goes to catalog#1 and is retried.
    await kit.catalogs[0]!.setToxic({ kind: 'reset', ms: 0, direction: 'downstream' });
    try {
      await read();
      await write(false);
      await read();
      await write(true);
      await read();
      await read();
    } finally {
      await kit.catalogs[0]!.setToxic(undefined);
      load.resume();
    }
    expect(reads.map((r) => r.res.status)).toEqual([200, 200, 200, 200]);
    // Who received what is read from the processes' logs, whose lines come through pipes a moment later.
    await eventually(async () => {
      expect(reads.filter((r) => kit.receivedBy(r.id, CATALOGS).length === 2).length).toBeGreaterThan(0);
    }, 5_000);
    const rows = await kit.productRows();
    // Each write reached catalog#1 only, was applied once, and its client heard it may not have been.
    expect(
      writes.map((w) => ({
        keyed: w.keyed,
        status: w.res.status,
        receivedBy: kit.receivedBy(w.id, CATALOGS),
        rows: rows.get(w.name),
      })),
    ).toEqual([
      { keyed: false, status: 503, receivedBy: ['catalog#1'], rows: 1 },
      { keyed: true, status: 503, receivedBy: ['catalog#1'], rows: 1 },
    ]);
    await kit.expectNothingLost();
    kit.passed.add('lost answer');
  }, 300_000);

  it('a SIGTERM under load lets requests in flight finish, and returns unacknowledged messages to the queue', async () => {
    const { shop, load } = kit;
    // Charges held up 1.5 s, so orders are surely in flight when orders is told to stop.
    await kit.payments.setToxic({ kind: 'latency', ms: 1_500, direction: 'downstream' });
    const orders = kit.proc('orders');
    const firstLine = shop.lines.length;
    await sleep(3_000);
    const termAt = Date.now();
    orders.child.kill('SIGTERM');
    expect(await orders.exited).toBe(0);
    await kit.payments.setToxic(undefined);
    const log = shop.lines
      .slice(firstLine)
      .filter((l) => l.name === 'orders')
      .map((l) => l.line);
    const stopping = log.findIndex((l) => l.includes('shutting down'));
    expect(stopping).toBeGreaterThan(-1);
    // The requests orders had taken in when it was told to stop all got their answer.
    const accepted = new Set(
      log
        .slice(0, stopping)
        .filter((l) => l.includes('"incoming request"'))
        .map((l) => (JSON.parse(l) as { request_id: string }).request_id),
    );
    const inFlight = load.outcomes.filter((o) => accepted.has(o.requestId) && o.endedAt >= termAt);
    expect(inFlight.length).toBeGreaterThan(0);
    expect(inFlight.filter(isFailure).map((o) => `${o.method} ${o.path} ${o.status}`)).toEqual([]);
    await shop.topology.restart(orders);

    const notifications = kit.proc('notifications');
    notifications.child.kill('SIGTERM');
    expect(await notifications.exited).toBe(0);
    // Nothing stays held by a consumer that is gone: what it had not acknowledged is back in line, and
    // what is published meanwhile waits there.
    await eventually(async () => {
      const left = await queueCounts(shop.amqp!.url, kit.queues().queue);
      expect(left).toMatchObject({ unacknowledged: 0, consumers: 0 });
      expect(left.ready).toBeGreaterThan(0);
    }, 30_000);
    await shop.topology.restart(notifications);
    await kit.expectNothingLost();
    kit.passed.add('sigterm');
  }, 300_000);
}
