import { type Logger, repeatedFailureLog, WORKING_AGAIN } from './log.ts';

export interface DrainWorkerOptions {
  /** Handles one batch of due work; returns how many items it took (a full batch means: more may be due). */
  batch(): Promise<number>;
  readonly batchSize: number;
  /** How often to look for due work when nothing wakes the worker. */
  readonly intervalMs: number;
  readonly log: Logger;
  /**
   * The error line of a round that failed; the next wake-up or poll tries again. While rounds keep
   * failing (a database that is down) it is written again once a minute, with the latest error and the
   * count of failed rounds, and a line at info says when a round succeeds again.
   */
  readonly failure: string;
}

export interface DrainWorker {
  start(): void;
  /**
   * Looks for due work at the end of this turn of the event loop rather than at the next poll, so the
   * commits of one turn are handled in one batch; a wake-up during a round makes another round.
   */
  notify(): void;
  /** Cancels a pending wake-up and waits for the round in flight, if any. */
  settle(): Promise<void>;
  /** Resolves once no round is running or about to; for tests. */
  idle(): Promise<void>;
  /** Lets the round in flight finish, then stops. */
  stop(): Promise<void>;
}

/**
 * The loop of the outbox relay and the notification dispatcher: a round runs batches until one comes
 * back short, at most one round runs at a time, and a wake-up that arrives during a round is not lost
 * but makes the round go again. A poll every `intervalMs` catches what no wake-up announced (work due
 * after a backoff, rows another process committed).
 */
export function createDrainWorker(options: DrainWorkerOptions): DrainWorker {
  const { batch, batchSize, intervalMs, log } = options;
  let stopped = true;
  let running = false;
  let wakeAgain = false;
  let current: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let soon: NodeJS.Immediate | undefined;
  const failures = repeatedFailureLog(log, options.failure, { recovered: WORKING_AGAIN });

  async function round(): Promise<void> {
    running = true;
    try {
      do {
        wakeAgain = false;
        let n: number;
        do {
          n = await batch();
        } while (n === batchSize && !stopped);
      } while (wakeAgain && !stopped);
      failures.succeeded();
    } catch (err) {
      failures.failed(err);
    } finally {
      running = false;
    }
  }

  function notify(): void {
    if (stopped) return;
    soon ??= setImmediate(() => {
      soon = undefined;
      if (stopped) return;
      if (running) wakeAgain = true;
      else current = round();
    });
  }

  function schedule(): void {
    if (stopped) return;
    timer = setTimeout(() => {
      notify();
      schedule();
    }, intervalMs);
    timer.unref();
  }

  function cancelWakeUp(): void {
    if (soon) clearImmediate(soon);
    soon = undefined;
  }

  return {
    start() {
      if (!stopped) return;
      stopped = false;
      notify();
      schedule();
    },
    notify,
    async settle() {
      cancelWakeUp();
      await current;
    },
    async idle() {
      while (running || soon !== undefined) {
        // A pending wake-up runs first (immediates run in order), then its round is awaited.
        if (running) await current;
        else await new Promise((resolve) => setImmediate(resolve));
      }
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      cancelWakeUp();
      await current;
    },
  };
}

/**
 * The wait before attempt `attempts + 1` of something stored that failed `attempts` times: doubling from
 * `baseMs`, at most `maxMs`, and with `jitter` a random part of it dropped (up to half) so that retries
 * of many items do not come back in step.
 */
export function backoffMs(
  attempts: number,
  options: { baseMs: number; maxMs: number; jitter?: boolean },
): number {
  const full = Math.min(options.maxMs, options.baseMs * 2 ** (attempts - 1));
  return options.jitter ? Math.round(full * (0.5 + Math.random() / 2)) : full;
}
