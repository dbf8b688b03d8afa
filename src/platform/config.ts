import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import Type, { type Static } from 'typebox';
import { Value } from 'typebox/value';

/** Every setting Splitshop reads, with its environment variable and default. */
export const ConfigSchema = Type.Object({
  /** PORT */
  port: Type.Integer({ minimum: 0, maximum: 65535, default: 8000 }),
  /**
   * HOST: this machine only by default, so `npm start` does not offer a shop with a freshly printed
   * admin password to the whole network; the image sets `0.0.0.0`, as a container must.
   */
  host: Type.String({ default: '127.0.0.1' }),
  /** DATA_DIR: where each module's SQLite file lives. */
  dataDir: Type.String({ default: './data' }),
  /** LOG_LEVEL */
  logLevel: Type.Union(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
    { default: 'info' },
  ),
  /** JWT_SECRET: at least 32 bytes; a development start generates one. */
  jwtSecret: Type.Optional(Type.String({ minLength: 32 })),
  /** JWT_TTL_SECONDS */
  jwtTtlSeconds: Type.Integer({ minimum: 60, maximum: 86_400, default: 900 }),
  /** JWT_ISSUER and JWT_AUDIENCE */
  jwtIssuer: Type.String({ default: 'splitshop' }),
  jwtAudience: Type.String({ default: 'splitshop-api' }),
  /** JWT_CLOCK_SKEW_SECONDS */
  jwtClockSkewSeconds: Type.Integer({ minimum: 0, maximum: 300, default: 30 }),
  /** ADMIN_PASSWORD: the first admin's password; generated and printed once when absent. */
  adminPassword: Type.Optional(Type.String({ minLength: 8, maxLength: 128 })),
  /** ADMIN_EMAIL */
  adminEmail: Type.String({ default: 'admin@localhost' }),
  /** RATE_LIMIT_MAX requests per RATE_LIMIT_WINDOW_SECONDS, per user or address. */
  rateLimitMax: Type.Integer({ minimum: 1, default: 600 }),
  rateLimitWindowSeconds: Type.Integer({ minimum: 1, default: 60 }),
  /** LOGIN_FAILURES_MAX failed logins per LOGIN_FAILURES_WINDOW_SECONDS, per account or name tried. */
  loginFailuresMax: Type.Integer({ minimum: 1, default: 10 }),
  loginFailuresWindowSeconds: Type.Integer({ minimum: 1, default: 900 }),
  /** LOGIN_ADDRESS_FAILURES_MAX failed logins per address in that window: higher, for addresses behind a NAT. */
  loginAddressFailuresMax: Type.Integer({ minimum: 1, default: 100 }),
  /** LOGIN_ADDRESS_MAX logins of any outcome per LOGIN_ADDRESS_WINDOW_SECONDS, per address. */
  loginAddressMax: Type.Integer({ minimum: 1, default: 300 }),
  loginAddressWindowSeconds: Type.Integer({ minimum: 1, default: 60 }),
  /** LOGIN_ADDRESS_CONCURRENCY: logins of one address checked at once per users instance; as many wait. */
  loginAddressConcurrency: Type.Integer({ minimum: 1, default: 2 }),
  /** PASSWORD_HASH_CONCURRENCY: argon2 computations at once (each takes ~19 MiB). */
  passwordHashConcurrency: Type.Integer({ minimum: 1, maximum: 64, default: 4 }),
  /** METRICS_PORT: serve Prometheus metrics at /metrics on this port (0: any free one); unset, none. */
  metricsPort: Type.Optional(Type.Integer({ minimum: 0, maximum: 65_535 })),
  /** METRICS_HOST: the metrics listener's address; loopback unless a scraper elsewhere must reach it. */
  metricsHost: Type.String({ default: '127.0.0.1' }),
  /** BODY_LIMIT_BYTES */
  bodyLimitBytes: Type.Integer({ minimum: 1024, default: 1_048_576 }),
  /** REQUEST_TIMEOUT_MS: the whole request, including a slow client's upload. */
  requestTimeoutMs: Type.Integer({ minimum: 100, default: 30_000 }),
  /** SAGA_SWEEP_INTERVAL_MS: how often unfinished sagas are looked for. */
  sagaSweepIntervalMs: Type.Integer({ minimum: 50, default: 5_000 }),
  /** SAGA_DEADLINE_MS: an order saga not charged by then compensates; keep it below REQUEST_TIMEOUT_MS. */
  sagaDeadlineMs: Type.Integer({ minimum: 100, default: 20_000 }),
  /** SPLITSHOP_CRASH_POINTS: test-only, see src/platform/faults.ts. */
  crashPoints: Type.Optional(Type.String()),
  /** SPLITSHOP_TOPOLOGY: a named topology of src/bootstrap/topology.ts. */
  topology: Type.String({ default: 'monolith' }),
  /** SPLITSHOP_PROCESS: which process of the topology this is. */
  process: Type.Optional(Type.String()),
  /** SPLITSHOP_MODULES: the modules this process hosts (overrides the topology), e.g. `orders,payments`. */
  modules: Type.Optional(Type.String()),
  /** SPLITSHOP_GATEWAY: whether this process is the public gateway. */
  gateway: Type.Optional(Type.Boolean()),
  /**
   * SPLITSHOP_SUPERVISED: set by the launcher (`npm run start:split`, the test suites) for the processes it
   * starts. Such a process leaves Ctrl-C to the launcher, which stops the processes in order with SIGTERM.
   */
  supervised: Type.Boolean({ default: false }),
  /** SPLITSHOP_BUS: `memory` (only when every module is in this process) or `amqp`. */
  bus: Type.Optional(Type.Union([Type.Literal('memory'), Type.Literal('amqp')])),
  /** AMQP_URL */
  amqpUrl: Type.String({ default: 'amqp://guest:guest@127.0.0.1:5672' }),
  /** AMQP_NAMESPACE: prefix of exchange and queue names, so several shops can share a broker. */
  amqpNamespace: Type.String({ pattern: '^[a-z0-9_.-]{1,64}$', default: 'splitshop' }),
  /** AMQP_PREFETCH and AMQP_DELIVERY_LIMIT (deliveries before a message is dead-lettered). */
  amqpPrefetch: Type.Integer({ minimum: 1, maximum: 10_000, default: 64 }),
  amqpDeliveryLimit: Type.Integer({ minimum: 1, maximum: 1000, default: 5 }),
  /** REDIS_URL: shared rate-limit counters across gateway instances. */
  redisUrl: Type.Optional(Type.String()),
  /** REDIS_KEY_PREFIX: prefix of every Redis key, so several shops can share a server. */
  redisKeyPrefix: Type.String({ default: 'splitshop:' }),
  /** SPLITSHOP_INTERNAL_SECRET: signs identity between processes; at least 32 bytes; required when split. */
  internalSecret: Type.Optional(Type.String({ minLength: 32 })),
  /** <MODULE>_URLS: comma-separated base URLs of the instances hosting a module elsewhere. */
  serviceUrls: Type.Record(Type.String(), Type.String(), { default: {} }),
  /** <MODULE>_DATABASE_URL: `sqlite:<file>` or `postgres://…`; default `sqlite:<DATA_DIR>/<module>.db`. */
  databaseUrls: Type.Record(Type.String(), Type.String(), { default: {} }),
});

/** The modules whose addresses and databases can be configured by name. */
export const SERVICE_NAMES = ['users', 'catalog', 'payments', 'notifications', 'orders'] as const;

export type Config = Readonly<Static<typeof ConfigSchema>> & {
  readonly jwtSecret: string;
  readonly adminPasswordGenerated: boolean;
  readonly adminPassword: string;
};

const ENV: Record<string, keyof Static<typeof ConfigSchema>> = {
  PORT: 'port',
  HOST: 'host',
  DATA_DIR: 'dataDir',
  LOG_LEVEL: 'logLevel',
  JWT_SECRET: 'jwtSecret',
  JWT_TTL_SECONDS: 'jwtTtlSeconds',
  JWT_ISSUER: 'jwtIssuer',
  JWT_AUDIENCE: 'jwtAudience',
  JWT_CLOCK_SKEW_SECONDS: 'jwtClockSkewSeconds',
  ADMIN_PASSWORD: 'adminPassword',
  ADMIN_EMAIL: 'adminEmail',
  RATE_LIMIT_MAX: 'rateLimitMax',
  RATE_LIMIT_WINDOW_SECONDS: 'rateLimitWindowSeconds',
  LOGIN_FAILURES_MAX: 'loginFailuresMax',
  LOGIN_FAILURES_WINDOW_SECONDS: 'loginFailuresWindowSeconds',
  LOGIN_ADDRESS_FAILURES_MAX: 'loginAddressFailuresMax',
  LOGIN_ADDRESS_MAX: 'loginAddressMax',
  LOGIN_ADDRESS_WINDOW_SECONDS: 'loginAddressWindowSeconds',
  LOGIN_ADDRESS_CONCURRENCY: 'loginAddressConcurrency',
  PASSWORD_HASH_CONCURRENCY: 'passwordHashConcurrency',
  METRICS_PORT: 'metricsPort',
  METRICS_HOST: 'metricsHost',
  BODY_LIMIT_BYTES: 'bodyLimitBytes',
  REQUEST_TIMEOUT_MS: 'requestTimeoutMs',
  SAGA_SWEEP_INTERVAL_MS: 'sagaSweepIntervalMs',
  SAGA_DEADLINE_MS: 'sagaDeadlineMs',
  SPLITSHOP_CRASH_POINTS: 'crashPoints',
  SPLITSHOP_TOPOLOGY: 'topology',
  SPLITSHOP_PROCESS: 'process',
  SPLITSHOP_MODULES: 'modules',
  SPLITSHOP_GATEWAY: 'gateway',
  SPLITSHOP_BUS: 'bus',
  SPLITSHOP_SUPERVISED: 'supervised',
  AMQP_URL: 'amqpUrl',
  AMQP_NAMESPACE: 'amqpNamespace',
  AMQP_PREFETCH: 'amqpPrefetch',
  AMQP_DELIVERY_LIMIT: 'amqpDeliveryLimit',
  REDIS_URL: 'redisUrl',
  REDIS_KEY_PREFIX: 'redisKeyPrefix',
  SPLITSHOP_INTERNAL_SECRET: 'internalSecret',
};

/** The environment variable of each setting, for the README and error messages. */
export const configVariables: Readonly<Record<string, string>> = ENV;

/**
 * Reads configuration once from `env`, validates it, fills in development defaults, and freezes it.
 * Throws with every problem listed; nothing else in the code reads `process.env`.
 */
export function loadConfig(env: Readonly<Record<string, string | undefined>> = process.env): Config {
  const raw: Record<string, unknown> = {};
  for (const [name, key] of Object.entries(ENV)) {
    const value = env[name];
    if (value !== undefined && value !== '') raw[key] = value;
  }
  const serviceUrls: Record<string, string> = {};
  const databaseUrls: Record<string, string> = {};
  for (const name of SERVICE_NAMES) {
    const urls = env[`${name.toUpperCase()}_URLS`];
    const database = env[`${name.toUpperCase()}_DATABASE_URL`];
    if (urls) serviceUrls[name] = urls;
    if (database) databaseUrls[name] = database;
  }
  raw.serviceUrls = serviceUrls;
  raw.databaseUrls = databaseUrls;
  const value = Value.Convert(ConfigSchema, Value.Default(ConfigSchema, raw));
  const errors = [...Value.Errors(ConfigSchema, value)];
  if (errors.length > 0) {
    const byKey = Object.fromEntries(Object.entries(ENV).map(([name, key]) => [`/${key}`, name]));
    const lines = errors.map((e) => `${byKey[e.instancePath] ?? e.instancePath}: ${e.message}`);
    throw new Error(`Invalid configuration:\n  ${lines.join('\n  ')}`);
  }
  const parsed = value as Static<typeof ConfigSchema>;
  for (const [name, value] of [
    ['JWT_SECRET', parsed.jwtSecret],
    ['SPLITSHOP_INTERNAL_SECRET', parsed.internalSecret],
  ]) {
    if (value !== undefined && Buffer.byteLength(value) < 32) {
      throw new Error(`Invalid configuration:\n  ${name}: must be at least 32 bytes`);
    }
  }
  const adminPassword = parsed.adminPassword ?? randomBytes(18).toString('base64url');
  return Object.freeze({
    ...parsed,
    dataDir: resolve(parsed.dataDir),
    jwtSecret: parsed.jwtSecret ?? randomBytes(48).toString('base64url'),
    adminPassword,
    adminPasswordGenerated: parsed.adminPassword === undefined,
  });
}
