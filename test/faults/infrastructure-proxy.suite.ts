import { expect, it } from 'vitest';
import type { Toxic } from '../support/fault-proxy.ts';
import { eventually } from '../support/http-client.ts';
import { type InfrastructureKit, REQUEST_TIMEOUT_MS } from '../support/infrastructure-kit.ts';

/** What a caller may take beyond its own time limit on a busy machine before we call it hung. */
const SLACK_MS = 10_000;

type Health = { checks: Record<string, { status: string; error?: string; breaker?: string }> };

/** Payments behind a proxy that slows, swallows, resets and refuses its connections, as Toxiproxy does. */
export function defineProxyFaults(kit: InfrastructureKit): void {
  it('behind a faulty proxy, callers of payments answer by their deadline, and their breakers open, probe and close', async () => {
    const { shop, load, payments } = kit;
    const c = kit.client();
    const token = kit.customers[0]!;
    const items = [{ product_id: Object.keys(kit.initialStock)[0]!, quantity: 1 }];
    const timed = async (method: string, path: string, body?: unknown) => {
      const started = Date.now();
      const res = await c.request(method, path, { token, ...(body ? { body } : {}) });
      return { res, ms: Date.now() - started };
    };
    const placeOrder = () => timed('POST', '/orders', { items });
    const first = await placeOrder();
    expect(first.res.status).toBe(201);
    const readPayments = () => timed('GET', `/payments?order_id=${(first.res.body as { id: string }).id}`);
    // The gateway reads payments for the client; orders charges through its own client of payments.
    const gatewayHealth = async () => (await c.request<Health>('GET', '/health')).body;
    const ordersHealth = async () =>
      (await fetch(`${kit.proc('orders').url}/health`)).json() as Promise<Health>;
    const firstLine = shop.lines.length;

    const faults: Toxic[] = [{ kind: 'timeout', ms: 0 }, { kind: 'reset', ms: 0 }, { kind: 'down' }];
    try {
      await payments.setToxic({ kind: 'latency', ms: 500 });
      const slow = await readPayments();
      expect(slow.res.status).toBe(200);
      expect(slow.ms).toBeGreaterThanOrEqual(500);
      expect((await placeOrder()).res.status).toBe(201);

      for (const toxic of faults) {
        await payments.setToxic(toxic);
        const [read, placed] = await Promise.all([readPayments(), placeOrder()]);
        expect({
          toxic: toxic.kind,
          status: read.res.status,
          type: read.res.headers.get('content-type'),
        }).toEqual({
          toxic: toxic.kind,
          status: expect.toBeOneOf([503, 504]),
          type: expect.stringMatching(/^application\/problem\+json/),
        });
        expect(read.ms).toBeLessThan(REQUEST_TIMEOUT_MS + SLACK_MS);
        // The saga could not charge by its deadline: it compensated, or says it is still at it.
        expect([409, 503, 504]).toContain(placed.res.status);
        expect(placed.ms).toBeLessThan(REQUEST_TIMEOUT_MS + SLACK_MS);
      }
      // Down: the gateway takes payments out (ejected, then failing its health checks) and answers 503 at
      // once with Retry-After; orders' breaker is open, and its /health says so.
      await eventually(async () => {
        expect((await gatewayHealth()).checks.payments).toMatchObject({ status: 'down' });
        const out = await readPayments();
        expect(out.res.status).toBe(503);
        expect(out.res.headers.get('retry-after')).not.toBeNull();
      }, 60_000);
      await eventually(async () => {
        const check = (await ordersHealth()).checks.payments_service;
        expect(check).toMatchObject({
          status: 'down',
          error: expect.stringMatching(/circuit breaker is open/),
        });
      }, 60_000);
      // Neither is unready for it: both serve their own requests, so an orchestrator keeps them in.
      for (const url of [kit.shop.baseUrl, kit.proc('orders').url])
        expect((await fetch(`${url}/health/ready`)).status).toBe(200);
    } finally {
      await payments.setToxic(undefined);
    }

    // Healed: after the open delay a trial call goes through, and the breakers close.
    const healed = Date.now();
    await eventually(async () => {
      expect((await readPayments()).res.status).toBe(200);
      expect((await gatewayHealth()).checks.payments).toMatchObject({ status: 'up', breaker: 'closed' });
      expect((await ordersHealth()).checks.payments_service?.status).toBe('up');
    }, 90_000);
    // orders' breaker let a trial charge through, and closed.
    await eventually(async () => {
      const breaker = shop.lines
        .slice(firstLine)
        .filter((l) => l.name === 'orders' && l.line.includes('"downstream":"payments"'))
        .map((l) => (JSON.parse(l.line) as { msg: string }).msg)
        .filter((msg) => msg.startsWith('circuit breaker'));
      expect(breaker).toContain('circuit breaker opened');
      expect(breaker.slice(-2)).toEqual([
        'circuit breaker half-open: trying a call',
        'circuit breaker closed',
      ]);
    }, 60_000);
    await eventually(async () => {
      expect(load.between(healed).some((o) => o.target === 'orders' && o.status === 201)).toBe(true);
    }, 60_000);
    await kit.expectNothingLost();
    kit.passed.add('proxy');
  }, 400_000);
}
