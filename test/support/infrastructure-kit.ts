import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { expect } from 'vitest';
import type { LaunchedProcess } from '../../src/bootstrap/launcher.ts';
import type { ModuleName } from '../../src/bootstrap/topology.ts';
import { amqpNames } from '../../src/platform/events/amqp-topology.ts';
import { createFaultProxy, type FaultProxy } from './fault-proxy.ts';
import { adminLogin, type Client, createClient, createProduct, eventually, register } from './http-client.ts';
import { checkInvariants, type InvariantReport } from './invariants.ts';
import { type Load, type Outcome, startLoad } from './load.ts';
import { type SplitShop, startSplit } from './split.ts';

export const ORDERS_PER_SECOND = 20;
export const READS_PER_SECOND = 30;
/** Small, so a placed order blocked by a fault answers soon; the saga deadline stays well below it. */
export const REQUEST_TIMEOUT_MS = 10_000;
export const SAGA_DEADLINE_MS = 5_000;
export const DELIVERY_LIMIT = 3;
const INITIAL_STOCK = 1_000_000;

/** No answer at all, or a 5xx. */
export const isFailure = (o: Outcome) => o.status === 0 || o.status >= 500;

/**
 * One split shop under a steady load for every infrastructure fault scenario, with a fault proxy in
 * front of payments and of each catalog instance (every caller of them goes through it), and what the
 * scenarios share: helpers to read its logs and databases, and the invariant check they end with.
 */
export interface InfrastructureKit {
  readonly shop: SplitShop;
  readonly load: Load;
  readonly payments: FaultProxy;
  /** One per catalog instance, in order. */
  readonly catalogs: readonly FaultProxy[];
  readonly adminToken: string;
  readonly customers: readonly string[];
  readonly initialStock: Readonly<Record<string, number>>;
  /** Messages a scenario dead-lettered on purpose, for the invariant check. */
  deadLetters: Record<string, number>;
  readonly reports: InvariantReport[];
  /** Scenarios that passed, for the figures. */
  readonly passed: Set<string>;
  client(): Client;
  proc(name: string): LaunchedProcess;
  /** The notifications queue and its dead-letter queue. */
  queues(): { queue: string; dead: string };
  /** The processes (of `names`) whose log says they received the request with this id, once per reception. */
  receivedBy(requestId: string, names: readonly string[]): string[];
  query<T>(module: ModuleName, sql: string): Promise<T[]>;
  /** How many rows catalog holds of each probe product (`infra-probe …`) a write created, by name. */
  productRows(): Promise<Map<string, number>>;
  /** Pauses the load, judges every invariant (nothing lost, nothing doubled so far), and resumes. */
  expectNothingLost(): Promise<void>;
  /** Every failure the clients saw is a 503 or 504 problem document: unavailable or slow, nothing else. */
  expectOnlyUnavailable(outcomes: readonly Outcome[]): void;
  /** The gateway's `/health` counts every instance of every service in: healthy, not ejected, no failures. */
  expectGatewaySeesEveryInstance(): Promise<void>;
  start(): Promise<void>;
  /** Restarts any process a failed scenario left down, so the next one starts whole. */
  restartExited(): Promise<void>;
  stop(): Promise<void>;
}

export function createInfrastructureKit(): InfrastructureKit {
  let shop: SplitShop | undefined;
  let load: Load | undefined;
  let adminToken = '';
  const customers: string[] = [];
  const initialStock: Record<string, number> = {};
  const proxies: FaultProxy[] = [];
  const need = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`the infrastructure kit has no ${what}: start it first`);
    return value;
  };

  const kit: InfrastructureKit = {
    get shop() {
      return need(shop, 'shop');
    },
    get load() {
      return need(load, 'load');
    },
    get payments() {
      return need(proxies[0], 'payments proxy');
    },
    get catalogs() {
      return proxies.slice(1);
    },
    get adminToken() {
      return adminToken;
    },
    customers,
    initialStock,
    deadLetters: {},
    reports: [],
    passed: new Set(),
    client: () => createClient(kit.shop.baseUrl),
    proc: (name) =>
      need(
        kit.shop.topology.processes.find((p) => p.name === name),
        `process ${name}`,
      ),
    queues() {
      const names = amqpNames(kit.shop.amqp!.namespace);
      return { queue: names.queue('notifications'), dead: names.deadQueue('notifications') };
    },
    receivedBy(requestId, names) {
      const tag = `"request_id":"${requestId}"`;
      return kit.shop.lines
        .filter(
          (l) => names.includes(l.name) && l.line.includes(tag) && l.line.includes('"incoming request"'),
        )
        .map((l) => l.name);
    },
    async query<T>(module: ModuleName, sql: string) {
      const db = new pg.Client({ connectionString: kit.shop.databases[module] });
      await db.connect();
      try {
        return (await db.query(sql)).rows as T[];
      } finally {
        await db.end();
      }
    },
    async productRows() {
      const rows = await kit.query<{ name: string; n: string }>(
        'catalog',
        "select name, count(*) as n from products where name like 'infra-probe %' group by name",
      );
      return new Map(rows.map((r) => [r.name, Number(r.n)]));
    },
    async expectNothingLost() {
      await kit.load.pause();
      try {
        const report = await checkInvariants(kit.shop, {
          acknowledgedOrderIds: kit.load.acknowledgedOrderIds(),
          initialStock,
          expectDeadLetters: kit.deadLetters,
          settleTimeoutMs: 90_000,
        });
        expect(report.violations).toEqual([]);
        expect(report.present).toBe(report.acknowledged);
        kit.reports.push(report);
      } finally {
        kit.load.resume();
      }
    },
    expectOnlyUnavailable(outcomes) {
      const odd = outcomes.filter(
        (o) => isFailure(o) && !(o.problem && (o.status === 503 || o.status === 504)),
      );
      expect(odd.map((o) => `${o.method} ${o.path} ${o.status} ${o.code ?? ''}`)).toEqual([]);
    },

    async expectGatewaySeesEveryInstance() {
      type Instance = { healthy: boolean; ejected: boolean; consecutive_failures: number };
      const res = await kit
        .client()
        .request<{ checks: Record<string, { instances?: Instance[] }> }>('GET', '/health');
      expect(res.status).toBe(200);
      for (const check of Object.values(res.body.checks)) {
        for (const instance of check.instances ?? [])
          expect(instance).toMatchObject({ healthy: true, ejected: false, consecutive_failures: 0 });
      }
    },

    async start() {
      for (let i = 0; i < 3; i++) proxies.push(await createFaultProxy());
      const [payments, ...catalogs] = proxies;
      shop = await startSplit({
        RATE_LIMIT_MAX: '1000000',
        REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
        SAGA_DEADLINE_MS: String(SAGA_DEADLINE_MS),
        AMQP_DELIVERY_LIMIT: String(DELIVERY_LIMIT),
        PAYMENTS_URLS: payments!.url,
        CATALOG_URLS: catalogs.map((c) => c.url).join(','),
      });
      const portOf = (name: string) => Number(new URL(kit.proc(name).url).port);
      payments!.setTarget({ host: '127.0.0.1', port: portOf('payments') });
      catalogs[0]!.setTarget({ host: '127.0.0.1', port: portOf('catalog#1') });
      catalogs[1]!.setTarget({ host: '127.0.0.1', port: portOf('catalog#2') });
      // The gateway's first health round ran before the proxies had anywhere to send it.
      await eventually(
        async () =>
          expect((await kit.client().request('GET', '/health')).body).toMatchObject({ status: 'healthy' }),
        30_000,
      );
      const client = kit.client();
      adminToken = await adminLogin(client, shop.adminPassword);
      const context = { client, adminToken, adminPassword: shop.adminPassword };
      for (let i = 0; i < 8; i++) {
        const product = await createProduct(context, { price: 5, stock: INITIAL_STOCK });
        initialStock[product.id] = INITIAL_STOCK;
        customers.push((await register(client)).token);
      }
      load = startLoad({
        baseUrl: shop.baseUrl,
        customers,
        productIds: Object.keys(initialStock),
        ordersPerSecond: ORDERS_PER_SECOND,
        readsPerSecond: READS_PER_SECOND,
      });
      await sleep(3_000);
    },
    async restartExited() {
      for (const p of shop?.topology.processes ?? []) {
        if (p.child.exitCode !== null || p.child.signalCode !== null) await kit.shop.topology.restart(p);
      }
    },
    async stop() {
      await load?.close();
      await shop?.stop();
      for (const proxy of proxies) await proxy.close();
    },
  };
  return kit;
}
