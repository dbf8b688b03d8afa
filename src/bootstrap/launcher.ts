import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { SERVICE_NAMES } from '../platform/config.ts';
import { portIsFree } from './ports.ts';
import { instancePort, instanceUrls, type Topology } from './topology.ts';

const ROOT = resolve(import.meta.dirname, '../..');

/** One running process of a launched topology. */
export interface LaunchedProcess {
  readonly name: string;
  readonly url: string;
  readonly env: Readonly<Record<string, string>>;
  /** Its metrics listener, when `METRICS_PORT` was given: that port plus the process's place in the list. */
  readonly metricsUrl?: string;
  child: ChildProcess;
  exited: Promise<number | string>;
}

export interface LaunchOptions {
  readonly topology: Topology;
  /** Settings every process shares (secrets, AMQP_URL, REDIS_URL, …); the launcher adds addresses. */
  readonly env: Readonly<Record<string, string>>;
  /** Postgres server URL without a database, e.g. `postgres://postgres@127.0.0.1:5432`. */
  readonly postgresUrl: string;
  /** Database name prefix: each module gets `<prefix>_<module>`. */
  readonly databasePrefix: string;
  /** Added to every port of the topology, so several topologies can run on one host (tests); default 0. */
  readonly portOffset?: number;
  /** Called with each log line a process writes, and its name. */
  readonly onLine?: (name: string, line: string) => void;
  readonly startTimeoutMs?: number;
}

/** A launched topology: its public entry point and its processes, which can be stopped or restarted. */
export interface LaunchedTopology {
  readonly baseUrl: string;
  readonly processes: readonly LaunchedProcess[];
  /**
   * Starts a stopped or killed process again with the same environment, plus `extraEnv` for this start
   * only (fault tests arm a crash point in one process), and waits for it.
   */
  restart(process: LaunchedProcess, extraEnv?: Readonly<Record<string, string>>): Promise<void>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** Every port a topology listens on, moved by `offset`. */
function topologyPorts(topology: Topology, offset = 0): number[] {
  return Object.values(topology.processes).flatMap((spec) =>
    Array.from({ length: spec.instances ?? 1 }, (_, i) => instancePort(spec, i, offset)),
  );
}

/**
 * The ports of a topology that something already listens on (another Splitshop, most often). A
 * process that cannot listen exits, but the launcher's health check would be answered by whatever
 * holds its port: so a launch checks first, and refuses to start a half-shop beside an old one.
 */
export async function busyPorts(topology: Topology, offset = 0): Promise<number[]> {
  const ports = topologyPorts(topology, offset);
  const free = await Promise.all(ports.map((port) => portIsFree(port)));
  return ports.filter((_, i) => !free[i]);
}

/** Secrets a development or test run may generate when none are given. */
export function generatedSecrets(): Record<string, string> {
  return {
    JWT_SECRET: randomBytes(48).toString('base64url'),
    SPLITSHOP_INTERNAL_SECRET: randomBytes(48).toString('base64url'),
    ADMIN_PASSWORD: randomBytes(18).toString('base64url'),
  };
}

/**
 * Settings the topology decides for each process (its port and host, and from its name what it hosts and
 * which bus it uses): given in `env`, they would make every process the same one, so they are dropped.
 */
const DECIDED_PER_PROCESS = [
  'PORT',
  'HOST',
  'SPLITSHOP_PROCESS',
  'SPLITSHOP_MODULES',
  'SPLITSHOP_GATEWAY',
  'SPLITSHOP_BUS',
  'METRICS_PORT',
] as const;

/**
 * The environment every process of a topology shares: where each module lives and its database. A
 * `<MODULE>_URLS` given in `env` wins over the topology's addresses, so its callers can be sent through
 * something in between (a fault proxy in tests, a load balancer).
 */
export function topologyEnv(
  options: Omit<LaunchOptions, 'onLine' | 'startTimeoutMs'>,
): Record<string, string> {
  const env: Record<string, string> = { ...options.env, SPLITSHOP_TOPOLOGY: options.topology.name };
  for (const name of DECIDED_PER_PROCESS) delete env[name];
  for (const module of SERVICE_NAMES) {
    const key = module.toUpperCase();
    env[`${key}_URLS`] =
      options.env[`${key}_URLS`] ??
      instanceUrls(options.topology, module, '127.0.0.1', options.portOffset).join(',');
    env[`${key}_DATABASE_URL`] =
      `${options.postgresUrl.replace(/\/$/, '')}/${options.databasePrefix}_${module}`;
  }
  return env;
}

/** How many of a process's last output lines a failed start reports. */
const LAST_LINES = 12;
const lastLines = new WeakMap<LaunchedProcess, string[]>();

async function waitForHealth(entry: LaunchedProcess, timeoutMs: number): Promise<void> {
  let exit: number | string | undefined;
  void entry.exited.then((code) => {
    exit = code;
  });
  const deadline = Date.now() + timeoutMs;
  while (exit === undefined && Date.now() < deadline) {
    if (
      await fetch(`${entry.url}/health/live`).then(
        (r) => r.ok,
        () => false,
      )
    )
      return;
    await new Promise((r) => setTimeout(r, 100));
  }
  // Say why: a start that fails now and then cannot be looked into afterwards.
  const said = (lastLines.get(entry) ?? []).map((line) => `\n  ${line}`).join('');
  const how = exit === undefined ? 'did not answer' : `exited (${exit})`;
  throw new Error(`${entry.name} at ${entry.url} ${how} before it was ready; its last lines:${said}`);
}

function startProcess(
  entry: LaunchedProcess,
  onLine: LaunchOptions['onLine'],
  extraEnv: Readonly<Record<string, string>> = {},
): void {
  const child = spawn(
    process.execPath,
    ['--disable-warning=ExperimentalWarning', join(ROOT, 'src/bootstrap/main.ts')],
    {
      cwd: ROOT,
      // The launcher stops its processes itself; see main.ts.
      env: { ...entry.env, ...extraEnv, SPLITSHOP_SUPERVISED: 'true' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const recent: string[] = [];
  lastLines.set(entry, recent);
  for (const stream of [child.stdout!, child.stderr!]) {
    createInterface({ input: stream }).on('line', (line) => {
      recent.push(line);
      if (recent.length > LAST_LINES) recent.shift();
      onLine?.(entry.name, line);
    });
  }
  entry.child = child;
  entry.exited = new Promise((done) => child.on('exit', (code, signal) => done(code ?? signal ?? -1)));
}

/**
 * Starts every process of a topology as its own Node process on loopback ports, wave by wave: the
 * consumers of events first, then the other modules, then the gateway. Used by `npm run start:split` and by the split test suites.
 */
export async function launchTopology(options: LaunchOptions): Promise<LaunchedTopology> {
  const shared = topologyEnv(options);
  const timeout = options.startTimeoutMs ?? 60_000;
  const processes: LaunchedProcess[] = [];
  const metricsBase = options.env.METRICS_PORT ? Number(options.env.METRICS_PORT) : undefined;
  for (const [name, spec] of Object.entries(options.topology.processes)) {
    for (let i = 0; i < (spec.instances ?? 1); i++) {
      const port = instancePort(spec, i, options.portOffset);
      const label = (spec.instances ?? 1) > 1 ? `${name}#${i + 1}` : name;
      // One listener each, on consecutive ports: the gateway's first when it is listed first.
      const metricsPort = metricsBase === undefined ? undefined : metricsBase + processes.length;
      processes.push({
        name: label,
        url: `http://127.0.0.1:${port}`,
        ...(metricsPort === undefined ? {} : { metricsUrl: `http://127.0.0.1:${metricsPort}/metrics` }),
        env: {
          ...shared,
          SPLITSHOP_PROCESS: name,
          PORT: String(port),
          HOST: '127.0.0.1',
          ...(metricsPort === undefined ? {} : { METRICS_PORT: String(metricsPort) }),
        },
        child: undefined as unknown as ChildProcess,
        exited: Promise.resolve(-1),
      });
    }
  }
  const waveOf = (p: LaunchedProcess) => options.topology.processes[p.name.split('#')[0]!]!.wave;
  const waves = [...new Set(processes.map(waveOf))]
    .sort((a, b) => a - b)
    .map((w) => processes.filter((p) => waveOf(p) === w));
  const launched: LaunchedTopology = {
    baseUrl:
      processes.find((p) => options.topology.processes[p.name.split('#')[0]!]!.gateway)?.url ??
      processes[0]!.url,
    processes,
    async restart(entry, extraEnv) {
      startProcess(entry, options.onLine, extraEnv);
      await waitForHealth(entry, timeout);
    },
    async stop(signal = 'SIGTERM') {
      // In reverse start order: the gateway first, so no new work arrives; consumers last.
      for (const group of [...waves].reverse()) {
        await Promise.all(
          group.map(async (p) => {
            if (p.child && p.child.exitCode === null && p.child.signalCode === null) p.child.kill(signal);
            await p.exited;
          }),
        );
      }
    },
  };
  try {
    for (const group of waves) {
      for (const entry of group) startProcess(entry, options.onLine);
      await Promise.all(group.map((entry) => waitForHealth(entry, timeout)));
    }
  } catch (err) {
    await launched.stop('SIGKILL');
    throw err;
  }
  return launched;
}
