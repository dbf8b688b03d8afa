import type { FastifyInstance } from 'fastify';

/**
 * The options of a probe's route (`/health/live`, `/health/ready`): the gateway's health checks (and an
 * orchestrator's probes) ask every few seconds, so their requests are not logged at info, where they
 * made about a line a second in every process and buried the rest.
 */
export const PROBE = { schema: { hide: true }, logLevel: 'warn' } as const;

export type HealthChecks = Readonly<Record<string, () => Promise<void>>>;

const CHECK_TIMEOUT_MS = 2000;

/** `/health/live`, and `/health/ready` and `/health` that run every dependency check of this process. */
export async function healthRoutes(app: FastifyInstance, options: { checks: HealthChecks }): Promise<void> {
  app.get('/health/live', PROBE, async () => ({ status: 'alive' }));
  const ready = async (_request: unknown, reply: import('fastify').FastifyReply) => {
    const entries = await Promise.all(
      Object.entries(options.checks).map(async ([name, check]) => {
        try {
          await Promise.race([
            check(),
            new Promise((_, reject) =>
              setTimeout(() => reject(new Error('timed out')), CHECK_TIMEOUT_MS).unref(),
            ),
          ]);
          return [name, { status: 'up' }] as const;
        } catch (err) {
          return [name, { status: 'down', error: err instanceof Error ? err.message : 'failed' }] as const;
        }
      }),
    );
    const healthy = entries.every(([, result]) => result.status === 'up');
    reply.status(healthy ? 200 : 503);
    return { status: healthy ? 'healthy' : 'unhealthy', checks: Object.fromEntries(entries) };
  };
  app.get('/health/ready', PROBE, ready);
  app.get('/health', { schema: { hide: true } }, ready);
}
