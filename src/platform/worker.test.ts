import pino from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { backoffMs, createDrainWorker, type DrainWorker } from './worker.ts';

const silent = pino({ level: 'silent' });

/** A promise and the function that settles it. */
function gate(): { promise: Promise<void>; open(): void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

describe('drain worker', () => {
  let worker: DrainWorker | undefined;
  afterEach(async () => {
    await worker?.stop();
    worker = undefined;
  });

  /** A worker over a queue of `due` items, taking at most `batchSize` per batch. */
  function over(due: { count: number }, batchSize: number, during?: () => Promise<void>) {
    const batches: number[] = [];
    worker = createDrainWorker({
      batchSize,
      intervalMs: 60_000,
      log: silent,
      failure: 'failed',
      async batch() {
        // Takes what is due, then works on it (`during`) before it reports.
        const taken = Math.min(batchSize, due.count);
        due.count -= taken;
        await during?.();
        batches.push(taken);
        return taken;
      },
    });
    return { worker, batches };
  }

  it('runs batches until one comes back short', async () => {
    const due = { count: 25 };
    const { worker, batches } = over(due, 10);
    worker.start();
    await worker.idle();
    expect(batches).toEqual([10, 10, 5]);
    expect(due.count).toBe(0);
  });

  it('coalesces the wake-ups of one turn into one round', async () => {
    const due = { count: 0 };
    const { worker, batches } = over(due, 10);
    worker.start();
    await worker.idle();
    batches.length = 0;
    due.count = 3;
    worker.notify();
    worker.notify();
    worker.notify();
    await worker.idle();
    expect(batches).toEqual([3]);
  });

  it('does not lose a wake-up that arrives during a round: the round goes again', async () => {
    const due = { count: 0 };
    let hold: ReturnType<typeof gate> | undefined;
    const { worker, batches } = over(due, 10, async () => {
      await hold?.promise;
    });
    worker.start();
    await worker.idle();
    batches.length = 0;
    hold = gate();
    worker.notify();
    // The round is now waiting inside its batch; work arrives and is announced meanwhile.
    await new Promise((resolve) => setImmediate(resolve));
    due.count = 4;
    worker.notify();
    await new Promise((resolve) => setImmediate(resolve));
    hold.open();
    hold = undefined;
    await worker.idle();
    // Without the second round the 4 items would wait for the next poll, a minute away.
    expect(batches).toEqual([0, 4]);
    expect(due.count).toBe(0);
  });

  it('logs a failed round and runs again at the next wake-up', async () => {
    const errors: string[] = [];
    let failNext = true;
    let rounds = 0;
    worker = createDrainWorker({
      batchSize: 10,
      intervalMs: 60_000,
      log: {
        error: (_: unknown, message: string) => errors.push(message),
        info: () => undefined,
        debug: () => undefined,
      } as unknown as pino.Logger,
      failure: 'relay failed; will retry',
      async batch() {
        rounds++;
        if (failNext) {
          failNext = false;
          throw new Error('database away');
        }
        return 0;
      },
    });
    worker.start();
    await worker.idle();
    expect(errors).toEqual(['relay failed; will retry']);
    worker.notify();
    await worker.idle();
    expect(rounds).toBe(2);
  });

  it('logs a failure that goes on once, again a minute later, and when a round works again', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const lines: Array<{ level: string; message: string; fields: Record<string, unknown> }> = [];
    const record =
      (level: string) =>
      (fields: Record<string, unknown>, message: string): void =>
        void lines.push({ level, message, fields });
    let error: string | undefined = 'Connection terminated unexpectedly';
    let rounds = 0;
    worker = createDrainWorker({
      batchSize: 10,
      intervalMs: 60_000,
      log: { error: record('error'), info: record('info'), debug: () => undefined } as unknown as pino.Logger,
      failure: 'outbox relay failed; will retry',
      async batch() {
        rounds++;
        if (error !== undefined) throw new Error(error);
        return 0;
      },
    });
    const turn = async () => {
      worker!.notify();
      await worker!.idle();
    };
    try {
      worker.start();
      await worker.idle();
      error = 'connect ECONNREFUSED 127.0.0.1:5432';
      for (let i = 0; i < 19; i++) await turn();
      // Twenty failed rounds, as a relay polling a database that is down: one line, not twenty.
      expect(rounds).toBe(20);
      expect(lines.map((l) => l.level)).toEqual(['error']);
      vi.advanceTimersByTime(60_000);
      await turn();
      expect(lines).toHaveLength(2);
      expect(lines[1]).toMatchObject({ level: 'error', fields: { failed_runs: 21 } });
      error = undefined;
      await turn();
      await turn();
      expect(lines).toHaveLength(3);
      expect(lines[2]).toMatchObject({
        level: 'info',
        message: 'working again after failed runs',
        fields: { failed_runs: 21 },
      });
    } finally {
      vi.useRealTimers();
    }
  });

  it('stop lets the batch in flight finish and runs nothing after it', async () => {
    const due = { count: 30 };
    const hold = gate();
    let entered = gate();
    const { worker, batches } = over(due, 10, async () => {
      entered.open();
      await hold.promise;
    });
    worker.start();
    await entered.promise;
    entered = gate();
    const stopped = worker.stop();
    hold.open();
    await stopped;
    // The first batch finished; the round did not go on to the next, though the batch was full.
    expect(batches).toEqual([10]);
    worker.notify();
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(batches).toEqual([10]);
  });

  it('polls for work nobody announced', async () => {
    const due = { count: 0 };
    const batches: number[] = [];
    worker = createDrainWorker({
      batchSize: 10,
      intervalMs: 20,
      log: silent,
      failure: 'failed',
      async batch() {
        const taken = due.count;
        due.count = 0;
        batches.push(taken);
        return taken;
      },
    });
    worker.start();
    await worker.idle();
    due.count = 2;
    await expect.poll(() => due.count, { timeout: 2_000 }).toBe(0);
    expect(batches).toContain(2);
  });
});

describe('backoffMs', () => {
  it('doubles from the base up to the cap', () => {
    const options = { baseMs: 100, maxMs: 1_000 };
    expect([1, 2, 3, 4, 5, 10].map((attempts) => backoffMs(attempts, options))).toEqual([
      100, 200, 400, 800, 1_000, 1_000,
    ]);
  });

  it('with jitter, drops a random part of at most half', () => {
    const waits = Array.from({ length: 200 }, () =>
      backoffMs(3, { baseMs: 100, maxMs: 1_000, jitter: true }),
    );
    expect(Math.min(...waits)).toBeGreaterThanOrEqual(200);
    expect(Math.max(...waits)).toBeLessThanOrEqual(400);
    expect(new Set(waits).size).toBeGreaterThan(10);
  });
});
