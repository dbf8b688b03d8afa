import type { FastifyInstance, FastifyReply } from 'fastify';

/**
 * The options of a probe's route (`/health/live`, `/health/ready`): the gateway's health checks (and an
 * orchestrator's probes) ask every few seconds, so their requests are not logged at info, where they
 * made about a line a second in every process and buried the rest.
 */
export const PROBE = { schema: { hide: true }, logLevel: 'warn' } as const;

/** One dependency of a process, as its health routes check it. */
export interface HealthCheck {
  /** Resolves when the dependency can be used, with an object worth showing of it, if any; rejects with why not. */
  readonly run: () => Promise<unknown>;
  /**
   * Whether this process cannot serve its own requests without it. Only required checks decide
   * readiness: an orchestrator takes an unready process out of service, so a dependency the process
   * can do without (a broker its outbox waits for, another service behind a breaker) must not make it
   * unready, or one outage would take every replica out at once.
   */
  readonly required: boolean;
  /** What the process does without it; shown while it is down. */
  readonly fallback?: string;
}

export type HealthChecks = Readonly<Record<string, HealthCheck>>;

/** A failed check with details to show beside its error (the gateway's instances of a service). */
export class CheckFailure extends Error {
  readonly details: object;

  constructor(message: string, details: object) {
    super(message);
    this.name = 'CheckFailure';
    this.details = details;
  }
}

const CHECK_TIMEOUT_MS = 2000;

type Report = { status: 'up' | 'down'; error?: string; required?: false; fallback?: string };

async function runCheck(check: HealthCheck): Promise<Report> {
  const optional = check.required ? {} : { required: false as const };
  try {
    const details = await Promise.race([
      check.run(),
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error('timed out')), CHECK_TIMEOUT_MS).unref(),
      ),
    ]);
    return { status: 'up', ...optional, ...(typeof details === 'object' ? details : {}) };
  } catch (err) {
    return {
      status: 'down',
      error: err instanceof Error ? err.message : 'failed',
      ...optional,
      ...(check.fallback ? { fallback: check.fallback } : {}),
      ...(err instanceof CheckFailure ? err.details : {}),
    };
  }
}

async function report(checks: HealthChecks, names: readonly string[]) {
  const entries = await Promise.all(
    names.map(async (name) => [name, await runCheck(checks[name]!)] as const),
  );
  const down = entries.filter(([, r]) => r.status === 'down');
  const ready = down.every(([name]) => !checks[name]!.required);
  return { ready, degraded: down.length > 0, checks: Object.fromEntries(entries) };
}

/**
 * `/health/live`: the process runs. `/health/ready`: it can serve its own requests, judged by its
 * required checks only (503 when one is down). `/health`: every check, the full report, answered 200
 * `healthy` or `degraded` (only checks it can do without are down) and 503 `unhealthy`.
 */
export async function healthRoutes(app: FastifyInstance, options: { checks: HealthChecks }): Promise<void> {
  const { checks } = options;
  const all = Object.keys(checks);
  const required = all.filter((name) => checks[name]!.required);
  app.get('/health/live', PROBE, async () => ({ status: 'alive' }));
  app.get('/health/ready', PROBE, async (_request, reply: FastifyReply) => {
    const { ready, checks: shown } = await report(checks, required);
    reply.status(ready ? 200 : 503);
    return { status: ready ? 'ready' : 'unready', checks: shown };
  });
  app.get('/health', { schema: { hide: true } }, async (_request, reply: FastifyReply) => {
    const { ready, degraded, checks: shown } = await report(checks, all);
    reply.status(ready ? 200 : 503);
    return { status: ready ? (degraded ? 'degraded' : 'healthy') : 'unhealthy', checks: shown };
  });
}
