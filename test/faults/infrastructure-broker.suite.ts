import { execFile } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';
import type { ModuleName } from '../../src/bootstrap/topology.ts';
import { peekHeaders, publishRaw, queueCounts, startBroker, stopBroker } from '../support/broker.ts';
import { eventually } from '../support/http-client.ts';
import {
  DELIVERY_LIMIT,
  type InfrastructureKit,
  isFailure,
  ORDERS_PER_SECOND,
} from '../support/infrastructure-kit.ts';
import { ROOT } from '../support/shop.ts';

const BROKER_OUTAGE_MS = 30_000;

/** The broker goes away for a while, and a message that can never be handled arrives. */
export function defineBrokerFaults(kit: InfrastructureKit): void {
  const pendingOutbox = async (module: ModuleName) => {
    const [row] = await kit.query<{ n: string }>(
      module,
      'select count(*) as n from outbox where sent_at is null and dead_at is null',
    );
    return Number(row!.n);
  };

  it('with RabbitMQ stopped for 30 s every process stays ready, orders are still accepted, the outbox grows, then drains', async () => {
    const { load } = kit;
    const before = await pendingOutbox('orders');
    // Every process can still serve its own requests: ready all along, with the bus down in /health.
    const unready: string[] = [];
    const busDown = new Set<string>();
    const sampleHealth = async () => {
      for (const proc of kit.shop.topology.processes) {
        const ready = await fetch(`${proc.url}/health/ready`).catch(() => undefined);
        if (ready?.status !== 200) unready.push(`${proc.name}: ${ready?.status ?? 'no answer'}`);
        const full = (await (await fetch(`${proc.url}/health`)).json()) as {
          checks: Record<string, { status: string; required?: boolean }>;
        };
        if (full.checks.bus?.status === 'down' && full.checks.bus.required === false) busDown.add(proc.name);
      }
    };
    let stoppedAt = 0;
    let startedAt = 0;
    let peak = 0;
    try {
      await stopBroker();
      stoppedAt = Date.now();
      while (Date.now() - stoppedAt < BROKER_OUTAGE_MS) {
        await sleep(2_000);
        peak = Math.max(peak, await pendingOutbox('orders'));
        await sampleHealth();
      }
    } finally {
      // Other suites share the broker: it comes back whatever happened here.
      await startBroker();
      startedAt = Date.now();
    }
    expect(unready).toEqual([]);
    const modules = kit.shop.topology.processes.filter((p) => p.name !== 'gateway').map((p) => p.name);
    expect([...busDown].sort()).toEqual(modules.sort());
    // Placing an order needs no broker: every one placed meanwhile was answered as if nothing happened.
    const during = load.between(stoppedAt, startedAt);
    const orders = during.filter((o) => o.target === 'orders' && o.method === 'POST');
    expect(orders.filter(isFailure)).toEqual([]);
    expect(orders.filter((o) => o.status === 201).length).toBeGreaterThan(ORDERS_PER_SECOND * 10);
    expect(during.filter(isFailure).length / during.length).toBeLessThanOrEqual(0.01);
    kit.expectOnlyUnavailable(during);
    // Their events waited in the outbox, and once the relays are connected again it drains.
    expect(peak).toBeGreaterThan(before + ORDERS_PER_SECOND * 10);
    await eventually(async () => expect(await pendingOutbox('orders')).toBe(0), 120_000);
    await kit.expectNothingLost();
    kit.passed.add('broker outage');
  }, 300_000);

  it('a poison message is dead-lettered after AMQP_DELIVERY_LIMIT redeliveries while others flow, and the documented command replays it', async () => {
    const { shop } = kit;
    const { url, namespace } = shop.amqp!;
    const { dead } = kit.queues();
    const publishedAt = new Date().toISOString();
    // Well formed, so it is handled, but without items: the notification handler throws every time.
    const poison = await publishRaw(url, `${namespace}.orders`, 'orders.order_confirmed', {
      type: 'orders.order_confirmed',
      source: 'orders',
      occurred_at: publishedAt,
      data: { order_id: 'poison', user_id: 'nobody' },
    });
    const deliveries = () =>
      shop.lines
        .filter((l) => l.name === 'notifications' && l.line.includes(poison))
        .filter((l) => l.line.includes('event handler failed'))
        .map((l) => (JSON.parse(l.line) as { deliveries: number }).deliveries);
    await eventually(async () => expect((await queueCounts(url, dead)).ready).toBe(1), 60_000);
    // The quorum queue delivers it once, then again after each of its first DELIVERY_LIMIT returns.
    const once = Array.from({ length: DELIVERY_LIMIT + 1 }, (_, i) => i + 1);
    expect(deliveries()).toEqual(once);
    // Meanwhile the orders placed since were notified.
    const [flowed] = await kit.query<{ n: string }>(
      'notifications',
      `select count(*) as n from notifications where created_at > '${publishedAt}'`,
    );
    expect(Number(flowed!.n)).toBeGreaterThan(0);

    const { stdout } = await promisify(execFile)(
      'npm',
      ['run', '--silent', 'replay-dead-letters', 'notifications'],
      { cwd: ROOT, env: { ...kit.proc('notifications').env, PATH: process.env.PATH ?? '' } },
    );
    expect(stdout).toContain('notifications: 1 queue dead letter(s) put back');
    // The cause is not fixed, so it dies again after as many deliveries, marked as replayed.
    await eventually(async () => {
      expect(deliveries()).toEqual([...once, ...once]);
      expect((await queueCounts(url, dead)).ready).toBe(1);
    }, 60_000);
    expect(await peekHeaders(url, dead)).toEqual([
      expect.objectContaining({ 'message-id': poison, 'x-replayed': 1 }),
    ]);
    kit.deadLetters = { [dead]: 1 };
    await kit.expectNothingLost();
    kit.passed.add('poison');
  }, 300_000);
}
