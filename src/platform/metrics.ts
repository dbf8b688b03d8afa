import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, collectDefaultMetrics, Registry } from 'prom-client';
import type { DatabaseStats, ModuleDatabase } from './db/database.ts';

/**
 * A process's metrics in Prometheus format (prom-client), with Node's own: event-loop delay, GC, heap.
 * Served on a listener of their own (`serveMetrics`), never on the public API or through the gateway.
 */
export function createMetricsRegistry(processName: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ process: processName });
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 10 });
  return registry;
}

/** Per module database: write transactions and COMMITs (SQLite's group commit), round trips (Postgres). */
export function registerDatabaseMetrics(
  registry: Registry,
  databases: ReadonlyMap<string, Pick<ModuleDatabase<never>, 'stats'>>,
): void {
  const counter = (name: string, help: string, field: keyof DatabaseStats) =>
    new Counter({
      name,
      help,
      labelNames: ['module'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [module, database] of databases) {
          const value = database.stats?.()[field];
          if (value !== undefined) this.inc({ module }, value);
        }
      },
    });
  counter(
    'splitshop_db_units_total',
    'Write transactions committed, counted by the SQLite group commit',
    'units',
  );
  counter('splitshop_db_commits_total', 'SQLite COMMITs; every committed transaction is in one', 'commits');
  counter('splitshop_db_unit_rollbacks_total', 'Transactions rolled back alone inside a group', 'rollbacks');
  counter(
    'splitshop_db_round_trips_total',
    'Queries sent to Postgres and waited for, BEGIN and COMMIT included',
    'roundTrips',
  );
}

/** Serves `GET /metrics` at `host:port` (port 0: any free one); answers the URL and a way to stop. */
export async function serveMetrics(
  registry: Registry,
  options: { host: string; port: number },
): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    if (req.method !== 'GET' || req.url?.split('?')[0] !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      () => res.writeHead(500).end(),
    );
  });
  await new Promise<void>((done, fail) => {
    server.once('error', fail);
    server.listen(options.port, options.host, done);
  });
  const { address, port } = server.address() as AddressInfo;
  const host = address.includes(':') ? `[${address}]` : address;
  return {
    url: `http://${host}:${port}/metrics`,
    close: () => new Promise((done) => server.close(() => done())),
  };
}
