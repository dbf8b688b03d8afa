import closeWithGrace from 'close-with-grace';
import { loadConfig } from '../platform/config.ts';
import { messageChain } from '../platform/errors.ts';
import { createLogger } from '../platform/log.ts';
import { serveMetrics } from '../platform/metrics.ts';
import { portIsFree } from './ports.ts';
import { buildShop } from './shop.ts';

/** Starts the shop: `npm start`. */
async function main(): Promise<void> {
  const config = loadConfig();
  if (config.port !== 0 && !(await portIsFree(config.port, config.host)))
    throw new Error(
      `port ${config.port} on ${config.host} is already in use (another Splitshop?): stop it, or set PORT`,
    );
  const log = createLogger({ level: config.logLevel, name: 'splitshop' });
  const shop = await buildShop(config, log);
  const metrics =
    config.metricsPort === undefined
      ? undefined
      : await serveMetrics(shop.metrics, { host: config.metricsHost, port: config.metricsPort });
  if (metrics) log.info({ event: 'metrics', url: metrics.url }, `metrics at ${metrics.url}`);
  // A terminal's Ctrl-C reaches every process of its group, and the launcher of a split stops its
  // processes with SIGTERM, in order (the gateway first, the consumers of events last). A process it
  // started leaves SIGINT to it, and takes a signal repeated during shutdown (a process manager that
  // signals the whole group, then the launcher) for what it is; without that, the second signal cut the
  // shutdown short. A process left alone still exits after the delay.
  if (config.supervised) process.on('SIGINT', () => undefined);
  const supervision = config.supervised
    ? {
        skip: ['SIGINT' as const],
        onSecondSignal: (signal: NodeJS.Signals) => log.info({ signal }, 'already shutting down'),
      }
    : {};
  closeWithGrace({ delay: 15_000, logger: log, ...supervision }, async ({ signal, err }) => {
    if (err) log.error({ err }, 'shutting down after an error');
    else log.info({ signal }, 'shutting down: finishing requests in flight');
    await shop.app.close();
    await metrics?.close();
  });
  const { adminCreated } = await shop.start();
  if (adminCreated && config.adminPasswordGenerated) {
    log.warn(
      { username: 'admin', generated_admin_password: config.adminPassword },
      'Created the first admin with a generated password. It is shown only this once: set ADMIN_PASSWORD to choose it.',
    );
  }
  const address = await shop.app.listen({ port: config.port, host: config.host });
  log.info(
    { event: 'listening', url: address, data_dir: config.dataDir },
    `Splitshop listening on ${address}`,
  );
}

main().catch((err: unknown) => {
  // The logger may not exist yet (bad configuration): say why on stderr and exit non-zero.
  process.stderr.write(`splitshop failed to start: ${messageChain(err)}\n`);
  process.exit(1);
});
