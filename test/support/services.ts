import { connect } from 'node:net';

export type ServiceName = 'postgres' | 'rabbitmq' | 'redis';

const PORTS: Record<ServiceName, number> = { postgres: 5432, rabbitmq: 5672, redis: 6379 };
const probes = new Map<ServiceName, Promise<boolean>>();

/** Whether the local server answers on its port (cached per test file). */
export function serviceAvailable(name: ServiceName): Promise<boolean> {
  let probe = probes.get(name);
  if (!probe) {
    probe = new Promise<boolean>((done) => {
      const socket = connect({ host: '127.0.0.1', port: PORTS[name] });
      const finish = (ok: boolean) => {
        socket.destroy();
        done(ok);
      };
      socket.setTimeout(1000, () => finish(false));
      socket.once('connect', () => finish(true));
      socket.once('error', () => finish(false));
    });
    probes.set(name, probe);
  }
  return probe;
}

/**
 * For suites that need a real server: `describe.skipIf(!(await needs('postgres')))(…)`. Without the
 * server a developer sees the suite skipped with a loud message; under CI=true it is a failure.
 */
export async function needs(...names: ServiceName[]): Promise<boolean> {
  for (const name of names) {
    if (await serviceAvailable(name)) continue;
    if (process.env.CI)
      throw new Error(`${name} is required under CI=true but is not reachable on 127.0.0.1`);
    console.warn(
      `\n!!! ${name} is not reachable on 127.0.0.1: the suites that need it are SKIPPED. Start it to run them.\n`,
    );
    return false;
  }
  return true;
}
