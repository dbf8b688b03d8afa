import { type ChildProcess, spawn } from 'node:child_process';
import pino from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { needs } from '../../test/support/services.ts';
import { freePort } from '../../test/support/shop.ts';
import { loadConfig } from '../platform/config.ts';
import { openRedis } from './infrastructure.ts';

async function waitFor(what: string, condition: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

// A Redis server of its own, on its own port, so the test can stop and start it without touching the
// machine's (the suite needs the machine's only to know redis-server is installed).
describe.skipIf(!(await needs('redis')))('openRedis', () => {
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    vi.restoreAllMocks();
  });

  it('logs an outage of Redis once when it starts and once when it ends, without its password', async () => {
    const port = await freePort();
    const lines: Array<Record<string, unknown>> = [];
    const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    // ioredis writes "[ioredis] Unhandled error event" and a stack here for every attempt if nobody listens.
    const stderr = vi.spyOn(console, 'error');
    const config = loadConfig({ REDIS_URL: `redis://:not-in-the-log@127.0.0.1:${port}` });
    const redis = openRedis(config, log)!;
    cleanups.push(() => redis.disconnect());
    const said = (msg: RegExp) => lines.filter((line) => msg.test(String(line.msg)));

    await waitFor('the outage to be logged', () => said(/unreachable/).length === 1);
    // ioredis tries again every 50, 100, 150 … ms: several attempts fail in this second.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(said(/unreachable/)).toHaveLength(1);
    expect(said(/unreachable/)[0]).toMatchObject({ level: 40, redis: `127.0.0.1:${port}` });

    const server: ChildProcess = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--requirepass',
        'not-in-the-log',
      ],
      { stdio: 'ignore' },
    );
    cleanups.push(() => server.kill('SIGKILL'));
    await waitFor('Redis to be back', () => said(/reachable again/).length === 1);
    expect(await redis.set('k', 'v')).toBe('OK');

    server.kill('SIGKILL');
    await waitFor('the second outage', () => said(/unreachable/).length === 2);
    expect(said(/reachable again/)).toHaveLength(1);
    expect(JSON.stringify(lines)).not.toContain('not-in-the-log');
    expect(stderr).not.toHaveBeenCalled();
  }, 30_000);
});
