import { describe, expect, it } from 'vitest';
import { grouped } from '../../src/bootstrap/topology.ts';
import { needs } from '../support/services.ts';
import { freePortRun } from '../support/shop.ts';
import { type SplitShop, startSplit } from '../support/split.ts';
import { defineShopSuite } from './shop.suite.ts';

// "Any other grouping must also work": the same suite again, with users and catalog in one process and
// orders and payments in another, so some calls stay in process and the rest go over HTTP and AMQP.
describe.skipIf(!(await needs('postgres', 'rabbitmq', 'redis')))('grouped topology', () => {
  let started: Promise<SplitShop> | undefined;
  // One shop for both blocks; the e2e suite stops it when it is done.
  const shop = () =>
    (started ??= freePortRun(8).then((port) => startSplit({ METRICS_PORT: String(port) }, grouped)));

  it('serves each process its own metrics listener, on consecutive ports from METRICS_PORT', async () => {
    const { topology } = await shop();
    const seen = await Promise.all(
      topology.processes.map(async (p) => {
        const text = await (await fetch(p.metricsUrl!)).text();
        return /process="([^"]+)"/.exec(text)?.[1];
      }),
    );
    expect(seen).toEqual(topology.processes.map((p) => p.name.split('#')[0]));
    expect(new Set(topology.processes.map((p) => p.metricsUrl)).size).toBe(topology.processes.length);
  }, 90_000);

  it('a process calls the modules it hosts in process and the others over HTTP', async () => {
    const { topology } = await shop();
    const checksOf = async (name: string) => {
      const url = topology.processes.find((p) => p.name === name)!.url;
      const body = (await (await fetch(`${url}/health`)).json()) as { checks: Record<string, unknown> };
      return Object.keys(body.checks);
    };
    const checkout = await checksOf('checkout');
    expect(checkout).toEqual(expect.arrayContaining(['orders_db', 'payments_db', 'catalog_service', 'bus']));
    expect(checkout).not.toContain('payments_service');
    const storefront = await checksOf('storefront');
    expect(storefront).toEqual(expect.arrayContaining(['users_db', 'catalog_db', 'bus']));
    expect(storefront.filter((check) => check.endsWith('_service'))).toEqual([]);
  }, 90_000);

  defineShopSuite('grouped', shop);
});
