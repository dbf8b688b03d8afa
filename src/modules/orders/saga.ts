import type { Kysely } from 'kysely';
import type { Clock } from '../../platform/clock.ts';
import { type CallContext, systemContext } from '../../platform/context.ts';
import { crashPoint } from '../../platform/faults.ts';
import { type Logger, repeatedFailureLog, WORKING_AGAIN } from '../../platform/log.ts';
import type { OrderStore } from './event-store.ts';
import type { DomainEvent, OrderState } from './events.ts';
import type { OrdersPorts } from './ports.ts';
import {
  findSaga,
  finishSaga,
  listDueSagas,
  listRunningSagas,
  type OrdersDatabase,
  recordFailure,
  releaseLease,
  takeLease,
} from './repository.ts';
import { chooseStep, isDomainAnswer, performStep, withLocalSteps } from './saga-steps.ts';

export interface SagaRunnerOptions {
  readonly db: Kysely<OrdersDatabase>;
  readonly store: OrderStore;
  readonly ports: OrdersPorts;
  readonly clock: Clock;
  readonly log: Logger;
  readonly leaseMs: number;
  readonly sweepIntervalMs: number;
  readonly baseBackoffMs?: number;
  readonly maxBackoffMs?: number;
  /** How many sagas recovery and the sweep advance at once. */
  readonly concurrency?: number;
}

/**
 * How an `advance` ended: at the saga's end; `waiting` after a transient failure (the sweep or an inline
 * retry takes it from `next_attempt_at`); `busy` when another runner holds the lease; `stopped` when this
 * process is stopping; `missing` when there is no such saga.
 */
export type AdvanceResult =
  | { readonly outcome: 'done'; readonly state: OrderState | undefined }
  | { readonly outcome: 'waiting' | 'busy' | 'stopped' | 'missing' };

export interface AdvanceOptions {
  /**
   * The caller took the saga's lease in the transaction that created or restarted its row
   * (`keepLease` on the append), so the runner does not take it again.
   */
  readonly leased?: boolean;
}

export interface SagaRunner {
  /** Runs the saga from where its events say it is, step by step, until its end or a transient failure. */
  advance(orderId: string, ctx?: CallContext, options?: AdvanceOptions): Promise<AdvanceResult>;
  /**
   * Advances the saga inline and retries it with backoff until its deadline, for a caller waiting on
   * the answer. Returns the state it reached; unfinished sagas are left to the sweep.
   */
  runToEnd(orderId: string, ctx: CallContext, options?: AdvanceOptions): Promise<OrderState | undefined>;
  /** Advances every unfinished saga, as after a crash. */
  recover(): Promise<void>;
  /** Advances unfinished sagas whose next attempt is due and whose lease has expired. */
  sweep(): Promise<void>;
  /** Recovers, then sweeps every `sweepIntervalMs`. */
  start(): Promise<void>;
  /** Stops the sweep and waits for sagas in flight here to reach a stopping point. */
  stop(): Promise<void>;
}

/** How many due sagas the sweep reads at a time. */
const SWEEP_BATCH = 64;

/** While another process holds the lease, an inline caller looks again this often. */
const BUSY_POLL_MS = 100;

/**
 * The orchestrator of the place and cancel sagas. Its state is the order's event stream: each step's
 * outcome is appended before the next step starts, so after a crash the fold says what comes next, and
 * each participant call is idempotent by its key, so repeating a step never reserves or charges twice.
 */
export function createSagaRunner(options: SagaRunnerOptions): SagaRunner {
  const { db, store, ports, clock, log, leaseMs, sweepIntervalMs } = options;
  const baseBackoffMs = options.baseBackoffMs ?? 100;
  const maxBackoffMs = options.maxBackoffMs ?? 10_000;
  const concurrency = options.concurrency ?? 8;
  const inFlight = new Map<string, Promise<AdvanceResult>>();
  const now = () => clock.now().getTime();
  let started = false;
  let stopping = false;
  let timer: NodeJS.Timeout | undefined;
  let sweeping: Promise<void> | undefined;

  async function run(orderId: string, ctx: CallContext, leased: boolean): Promise<AdvanceResult> {
    if (!leased && !(await takeLease(db, orderId, now(), leaseMs))) {
      const saga = await findSaga(db, orderId);
      if (!saga) return { outcome: 'missing' };
      if (saga.status === 'done') return { outcome: 'done', state: (await store.load(orderId)).state };
      return { outcome: 'busy' };
    }
    let attempts = 0;
    try {
      for (;;) {
        const loaded = await store.load(orderId);
        const saga = await findSaga(db, orderId);
        if (!saga || !loaded.state) return { outcome: 'missing' };
        attempts = saga.attempts;
        const decidedAt = now();
        const step = chooseStep(loaded.state, saga, decidedAt);
        if (step.kind === 'none' || saga.status === 'done') {
          // The terminal event closed the saga in its own transaction; this only mends a row left open.
          if (saga.status === 'running') await finishSaga(db, orderId, clock.now().toISOString());
          return { outcome: 'done', state: loaded.state };
        }
        if (stopping) {
          await releaseLease(db, orderId);
          return { outcome: 'stopped' };
        }
        const events = await performStep(step, loaded.state, ports, ctx);
        let appended: DomainEvent[] = [];
        // Another runner may have recorded this step meanwhile: append only while it is still the next one.
        const after = await store.execute(
          orderId,
          (current) => {
            const still = current.state && chooseStep(current.state, saga, decidedAt).kind === step.kind;
            appended = still ? withLocalSteps(current, events, saga, decidedAt) : [];
            return appended;
          },
          { ctx, keepLease: true },
        );
        const types = new Set(appended.map((e) => e.type));
        if (types.has('StockReserved')) crashPoint('saga.after_reserve');
        if (types.has('PaymentCharged')) crashPoint('saga.after_charge');
        if (types.has('PaymentRefunded') || types.has('PaymentDeclined'))
          crashPoint('saga.during_compensation');
        // The terminal event closed the saga and let go of its lease in the transaction that appended it.
        if (appended.length > 0 && after.state?.next.kind === 'none')
          return { outcome: 'done', state: after.state };
      }
    } catch (err) {
      await retryLater(orderId, attempts + 1, err);
      return { outcome: 'waiting' };
    }
  }

  async function retryLater(orderId: string, attempts: number, err: unknown): Promise<void> {
    const backoff = Math.min(maxBackoffMs, baseBackoffMs * 2 ** (attempts - 1)) * (0.5 + Math.random() / 2);
    const message = err instanceof Error ? err.message : String(err);
    // A domain answer here came from a compensation step, which must finish: worth an operator's look.
    log[isDomainAnswer(err) ? 'error' : 'warn'](
      { order_id: orderId, attempts, err },
      'saga step failed; will retry',
    );
    try {
      await recordFailure(db, orderId, {
        attempts,
        next_attempt_at: now() + Math.round(backoff),
        last_error: message.slice(0, 1000),
        updated_at: clock.now().toISOString(),
      });
    } catch (recordErr) {
      // The lease runs out on its own, and the sweep picks the saga up then.
      log.error({ order_id: orderId, err: recordErr }, 'could not record a saga failure');
    }
  }

  function advance(
    orderId: string,
    ctx: CallContext = systemContext(),
    options: AdvanceOptions = {},
  ): Promise<AdvanceResult> {
    const running = inFlight.get(orderId);
    if (running) return running;
    const started = run(orderId, ctx, options.leased ?? false).finally(() => inFlight.delete(orderId));
    inFlight.set(orderId, started);
    return started;
  }

  async function runToEnd(
    orderId: string,
    ctx: CallContext,
    options: AdvanceOptions = {},
  ): Promise<OrderState | undefined> {
    let pastDeadline = false;
    let leased = options.leased ?? false;
    for (;;) {
      const result = await advance(orderId, ctx, { leased });
      // Only the first advance runs on the caller's lease: a failed step lets go of it.
      leased = false;
      if (result.outcome === 'done') return result.state;
      if (result.outcome !== 'waiting' && result.outcome !== 'busy') break;
      const saga = await findSaga(db, orderId);
      if (!saga || saga.status === 'done' || pastDeadline || stopping) break;
      const at = now();
      let wakeAt = result.outcome === 'waiting' ? saga.next_attempt_at : at + BUSY_POLL_MS;
      // One last attempt at the deadline, where a place saga turns to compensation.
      if (wakeAt >= saga.deadline_at) {
        wakeAt = saga.deadline_at;
        pastDeadline = true;
      }
      await sleep(wakeAt - at);
    }
    return (await store.load(orderId)).state;
  }

  async function advanceAll(ids: readonly string[]): Promise<void> {
    const queue = ids.filter((id) => !inFlight.has(id));
    const worker = async () => {
      for (let id = queue.shift(); id !== undefined && !stopping; id = queue.shift()) {
        try {
          await advance(id);
        } catch (err) {
          log.error({ order_id: id, err }, 'saga advance failed');
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, queue.length) }, worker));
  }

  async function recover(): Promise<void> {
    const ids = await listRunningSagas(db);
    if (ids.length > 0) log.info({ count: ids.length }, 'recovering unfinished order sagas');
    await advanceAll(ids);
  }

  /**
   * Advances every saga due when the sweep starts, a batch at a time, each at most once: an outage of a
   * participant leaves a backlog of hundreds (every order placed meanwhile), which must drain in one
   * sweep, not a batch an interval. A saga that fails again is due only later, so it is not listed again.
   */
  async function sweep(): Promise<void> {
    const startedAt = now();
    const tried = new Set<string>();
    while (!stopping) {
      const due = await listDueSagas(db, startedAt, SWEEP_BATCH);
      const fresh = due.filter((id) => !tried.has(id));
      if (fresh.length === 0) return;
      for (const id of fresh) tried.add(id);
      await advanceAll(fresh);
      if (due.length < SWEEP_BATCH) return;
    }
  }

  // A database that is down fails every sweep: one line, not one each `sweepIntervalMs`.
  const sweepFailures = repeatedFailureLog(log, 'saga sweep failed', {
    recovered: WORKING_AGAIN,
  });

  function schedule(): void {
    if (!started || stopping) return;
    timer = setTimeout(() => {
      sweeping = sweep()
        .then(sweepFailures.succeeded, sweepFailures.failed)
        .finally(() => {
          sweeping = undefined;
          schedule();
        });
    }, sweepIntervalMs);
    timer.unref();
  }

  return {
    advance,
    runToEnd,
    recover,
    sweep,
    async start() {
      if (started) return;
      started = true;
      stopping = false;
      try {
        await recover();
      } catch (err) {
        log.error({ err }, 'saga recovery failed; the sweep will retry');
      }
      schedule();
    },
    async stop() {
      stopping = true;
      started = false;
      if (timer) clearTimeout(timer);
      await sweeping;
      await Promise.allSettled([...inFlight.values()]);
    },
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}
