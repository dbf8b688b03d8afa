import closeWithGrace from 'close-with-grace';
import { loadConfig } from '../platform/config.ts';
import { createLogger } from '../platform/log.ts';
import { buildShop } from './shop.ts';

/** Starts the shop: `npm start`. */
async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger({ level: config.logLevel, name: 'splitshop' });
  const shop = await buildShop(config, log);
  closeWithGrace({ delay: 15_000, logger: log }, async ({ signal, err }) => {
    if (err) log.error({ err }, 'shutting down after an error');
    else log.info({ signal }, 'shutting down: finishing requests in flight');
    await shop.app.close();
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
  process.stderr.write(`splitshop failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
