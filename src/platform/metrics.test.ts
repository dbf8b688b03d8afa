import { describe, expect, it } from 'vitest';
import { createMetricsRegistry, registerDatabaseMetrics, serveMetrics } from './metrics.ts';

describe('metrics', () => {
  it('serves Prometheus text on its own listener, with Node figures and each database’s commits', async () => {
    const registry = createMetricsRegistry('test');
    const stats = { units: 12, commits: 3, rollbacks: 1 };
    registerDatabaseMetrics(registry, new Map([['orders', { stats: () => stats }]]));
    const served = await serveMetrics(registry, { host: '127.0.0.1', port: 0 });
    try {
      const res = await fetch(served.url);
      expect(res.headers.get('content-type')).toContain('text/plain');
      const text = await res.text();
      expect(text).toContain('splitshop_db_commits_total{module="orders",process="test"} 3');
      expect(text).toContain('splitshop_db_units_total{module="orders",process="test"} 12');
      expect(text).toMatch(/^nodejs_eventloop_lag_p99_seconds\{process="test"\} /m);
      stats.commits = 5;
      expect(await (await fetch(served.url)).text()).toContain(
        'splitshop_db_commits_total{module="orders",process="test"} 5',
      );
      expect((await fetch(served.url.replace('/metrics', '/'))).status).toBe(404);
    } finally {
      await served.close();
    }
  });
});
