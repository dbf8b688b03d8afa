import { rmSync } from 'node:fs';
import type { LaunchedProcess } from '../../src/bootstrap/launcher.ts';
import { type Client, createClient } from './http-client.ts';
import {
  ShopExitedError,
  type ShopHandle,
  type ShopProcess,
  shopEnv,
  spawnShop,
  sqliteDatabases,
  stopShop,
  tempDataDir,
} from './shop.ts';
import { startSplit } from './split.ts';

/**
 * A shop with one process that a fault test crashes and starts again, over and over: the monolith's
 * only process, or one process of the split topology while the others keep running.
 */
export interface CrashTarget {
  readonly shop: Pick<ShopHandle, 'databases' | 'amqp'>;
  /** The public entry point; the monolith's address changes at each start. */
  client(): Client;
  /**
   * Stops the process if it runs (gracefully), then starts it with `crashPoints` armed, or none.
   * Resolves false when it died while starting (a crash point on the way up), true once it serves.
   */
  start(crashPoints?: string): Promise<boolean>;
  alive(): boolean;
  /** How the process last exited: `SIGKILL` after a crash point. */
  exited(): Promise<number | string>;
  /** The last lines the process wrote, to tell why it exited otherwise. */
  output(): string;
  close(): Promise<void>;
}

const armed = (crashPoints?: string): Record<string, string> =>
  crashPoints ? { SPLITSHOP_CRASH_POINTS: crashPoints } : {};

export async function monolithTarget(): Promise<CrashTarget> {
  const dataDir = tempDataDir('splitshop-crash-');
  let current: ShopProcess | undefined;
  let exited: Promise<number | string> = Promise.resolve(-1);
  let running = false;
  let failure = '';
  const target: CrashTarget = {
    shop: { databases: sqliteDatabases(dataDir) },
    client: () => createClient(current!.baseUrl),
    async start(crashPoints) {
      if (running && current) await stopShop(current);
      try {
        current = await spawnShop(shopEnv(dataDir, armed(crashPoints)));
      } catch (err) {
        if (!(err instanceof ShopExitedError)) throw err;
        failure = err.message;
        exited = Promise.resolve(err.exit);
        running = false;
        return false;
      }
      running = true;
      failure = '';
      exited = current.exited;
      void exited.then(() => {
        running = false;
      });
      return true;
    },
    alive: () => running,
    exited: () => exited,
    output: () =>
      failure ||
      (current?.logs ?? [])
        .slice(-10)
        .map((l) => JSON.stringify(l))
        .join('\n'),
    async close() {
      if (running && current) await stopShop(current);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  await target.start();
  return target;
}

/** The split topology, in which the process named `name` (`orders`, `notifications`, …) crashes. */
export async function splitTarget(name: string): Promise<CrashTarget> {
  const split = await startSplit();
  const process = split.topology.processes.find((p) => p.name === name);
  if (!process) throw new Error(`no process ${name} in the split topology`);
  const client = createClient(split.baseUrl);
  const alive = (p: LaunchedProcess) => p.child.exitCode === null && p.child.signalCode === null;
  return {
    shop: split,
    client: () => client,
    async start(crashPoints) {
      if (alive(process)) {
        process.child.kill('SIGTERM');
        await process.exited;
      }
      try {
        await split.topology.restart(process, armed(crashPoints));
        return true;
      } catch (err) {
        if (alive(process)) throw err;
        return false;
      }
    },
    alive: () => alive(process),
    exited: () => process.exited,
    output: () =>
      split.lines
        .filter((l) => l.name === name)
        .slice(-10)
        .map((l) => l.line)
        .join('\n'),
    close: () => split.stop(),
  };
}
