import type { FastifyInstance } from 'fastify';

export type HealthChecks = Readonly<Record<string, () => Promise<void>>>;

const CHECK_TIMEOUT_MS = 2000;

/** `/health/live`, and `/health/ready` and `/health` that run every dependency check of this process. */
export async function healthRoutes(app: FastifyInstance, options: { checks: HealthChecks }): Promise<void> {
  app.get('/health/live', { schema: { hide: true } }, async () => ({ status: 'alive' }));
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
  app.get('/health/ready', { schema: { hide: true } }, ready);
  app.get('/health', { schema: { hide: true } }, ready);
}
