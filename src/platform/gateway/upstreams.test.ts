import { afterEach, describe, expect, it } from 'vitest';
import type { InstanceSource } from '../discovery/instances.ts';
import { type FakeUpstream, startUpstream } from './test-support.ts';
import { createUpstreams, DEFAULT_UPSTREAM_OPTIONS, type Upstreams } from './upstreams.ts';

const log = { info: () => undefined, warn: () => undefined, error: () => undefined };

describe('upstreams', () => {
  const running: Array<FakeUpstream | Upstreams> = [];
  afterEach(async () => {
    await Promise.all(running.splice(0).map((r) => r.close()));
  });

  async function two() {
    const pair = await Promise.all([startUpstream(), startUpstream()]);
    running.push(...pair);
    return pair;
  }

  function create(sources: Record<string, InstanceSource>) {
    const upstreams = createUpstreams(sources, DEFAULT_UPSTREAM_OPTIONS, { log });
    running.push(upstreams);
    return upstreams;
  }

  it('skips an instance whose health check fails, and takes it back once it passes', async () => {
    const [a, b] = await two();
    const upstreams = create({ catalog: { list: () => [a!.url, b!.url] } });
    const catalog = upstreams.get('catalog')!;
    await a!.close();
    await upstreams.checkNow();
    expect(catalog.state()).toMatchObject({
      available: true,
      instances: [
        { url: a!.url, healthy: false },
        { url: b!.url, healthy: true },
      ],
    });
    for (let i = 0; i < 4; i++) expect(catalog.pick()?.url).toBe(b!.url);
    const back = await startUpstream(undefined, Number(new URL(a!.url).port));
    running.push(back);
    await upstreams.checkNow();
    expect(new Set([catalog.pick()?.url, catalog.pick()?.url])).toEqual(new Set([a!.url, b!.url]));
  });

  it('takes back an ejected instance as soon as its health check passes again after failing (a restart)', async () => {
    const [a, b] = await two();
    const upstreams = create({ catalog: { list: () => [a!.url, b!.url] } });
    const catalog = upstreams.get('catalog')!;
    const first = catalog.state().instances;
    expect(first).toHaveLength(2);
    const instanceA = catalog.pick()!;
    expect(instanceA.url).toBe(a!.url);
    for (let i = 0; i < DEFAULT_UPSTREAM_OPTIONS.ejectAfterFailures; i++) catalog.failed(instanceA);
    a!.health(503);
    await upstreams.checkNow();
    expect(catalog.state().instances[0]).toMatchObject({ healthy: false, ejected: true });
    a!.health(200);
    await upstreams.checkNow();
    // Well before the ejection would have ended: the failures that ejected it were the old process's.
    expect(catalog.state().instances[0]).toMatchObject({
      healthy: true,
      ejected: false,
      consecutive_failures: 0,
    });
    expect(new Set([catalog.pick()?.url, catalog.pick()?.url])).toEqual(new Set([a!.url, b!.url]));
  });

  it('never lets ejection empty a service: ejected but healthy, its instances serve (panic) until a check fails', async () => {
    const [a] = await two();
    const upstreams = create({ orders: { list: () => [a!.url] } });
    const orders = upstreams.get('orders')!;
    const instance = orders.pick()!;
    const eject = () => {
      for (let i = 0; i < DEFAULT_UPSTREAM_OPTIONS.ejectAfterFailures; i++) orders.failed(instance);
    };
    eject();
    expect(orders.state()).toMatchObject({ available: true, panic: true, instances: [{ ejected: true }] });
    expect(orders.pick()).toBe(instance);
    // An answer that went well takes it back at once.
    orders.succeeded(instance);
    expect(orders.state()).toMatchObject({
      panic: false,
      instances: [{ ejected: false, consecutive_failures: 0 }],
    });
    eject();
    a!.health(503);
    await upstreams.checkNow();
    expect(orders.pick()).toBeUndefined();
    expect(orders.state()).toMatchObject({ available: false, panic: false });
  });

  it('counts a service with no healthy instance as unavailable', async () => {
    const [a] = await two();
    const upstreams = create({ catalog: { list: () => [a!.url] } });
    await a!.close();
    await upstreams.checkNow();
    expect(upstreams.get('catalog')!.state().available).toBe(false);
    expect(upstreams.get('catalog')!.pick()).toBeUndefined();
  });

  it('reads the instance list again each round, so a registry can change it', async () => {
    const [a, b] = await two();
    let urls = [a!.url];
    const upstreams = create({ catalog: { list: () => urls } });
    const catalog = upstreams.get('catalog')!;
    expect(catalog.pick()?.url).toBe(a!.url);
    const first = catalog.pick()!;
    urls = [a!.url, b!.url];
    await upstreams.checkNow();
    expect(new Set([catalog.pick()?.url, catalog.pick()?.url])).toEqual(new Set([a!.url, b!.url]));
    // An instance that stays keeps its pool and what is known of it.
    expect(catalog.pick([first])?.url).toBe(b!.url);
    expect(catalog.state().instances.map((i) => i.url)).toEqual([a!.url, b!.url]);
    urls = [b!.url];
    await upstreams.checkNow();
    for (let i = 0; i < 3; i++) expect(catalog.pick()?.url).toBe(b!.url);
  });

  it('asks /health/live: an instance that answers it with an error is unhealthy', async () => {
    const [a] = await two();
    const upstreams = create({ catalog: { list: () => [a!.url] } });
    const state = () => upstreams.get('catalog')!.state().instances[0]!.healthy;
    a!.health(503);
    await upstreams.checkNow();
    expect(state()).toBe(false);
    a!.health(200);
    await upstreams.checkNow();
    expect(state()).toBe(true);
    // The fake records every path but /health/live: nothing else was asked.
    expect(a!.seen).toHaveLength(0);
  });
});
