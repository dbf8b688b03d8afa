import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { busyPorts } from '../../src/bootstrap/launcher.ts';
import { split } from '../../src/bootstrap/topology.ts';
import { deleteNamespace } from '../support/broker.ts';
import { adminLogin, createClient } from '../support/http-client.ts';
import { needs } from '../support/services.ts';
import { ROOT, tempDataDir } from '../support/shop.ts';
import { dropDatabases, freePortBlock } from '../support/split.ts';

/** `npm run start:split` as a user runs it, in its own process group as a terminal's foreground job. */
interface Started {
  readonly child: ChildProcess;
  /** Everything it wrote, stdout and stderr. */
  output: string;
  readonly exited: Promise<number | null>;
}

function startSplitScript(env: Record<string, string>): Started {
  const child = spawn('npm', ['run', '--silent', 'start:split'], {
    cwd: ROOT,
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const started: Started = {
    child,
    output: '',
    exited: new Promise((done) => child.once('exit', (code) => done(code))),
  };
  for (const stream of [child.stdout!, child.stderr!])
    stream.on('data', (chunk: Buffer) => {
      started.output += chunk.toString();
    });
  return started;
}

async function waitFor(started: Started, pattern: RegExp, timeoutMs = 90_000): Promise<RegExpMatchArray> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void started.exited.then(() => {
    exited = true;
  });
  while (Date.now() < deadline) {
    const match = pattern.exec(started.output);
    if (match) return match;
    if (exited) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no ${pattern} in the output of start:split:\n${started.output.slice(-3000)}`);
}

/** Ctrl-C: SIGINT to the whole foreground process group, as a terminal sends it. */
function pressCtrlC(started: Started): void {
  process.kill(-started.child.pid!, 'SIGINT');
}

describe.skipIf(!(await needs('postgres', 'rabbitmq', 'redis')))('npm run start:split', () => {
  const run = `s${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const dataDir = tempDataDir('splitshop-start-split-');
  const databasePrefix = `splitshop_${run}`;
  const namespace = `splitshop.${run}`;
  const running: Started[] = [];
  afterAll(async () => {
    // A test that failed half way leaves its shop running: kill the whole group.
    for (const started of running) {
      try {
        process.kill(-started.child.pid!, 'SIGKILL');
      } catch {
        // Gone already.
      }
    }
    rmSync(dataDir, { recursive: true, force: true });
    await dropDatabases(databasePrefix);
    await deleteNamespace('amqp://guest:guest@127.0.0.1:5672', namespace);
  });

  it('starts seven processes behind the gateway, starts one that dies again, refuses a second shop on its ports, and Ctrl-C stops them all; a later start does not invent an admin password', async () => {
    const offset = await freePortBlock(split);
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      DATA_DIR: dataDir,
      DATABASE_PREFIX: databasePrefix,
      SPLITSHOP_PORT_OFFSET: String(offset),
      AMQP_NAMESPACE: namespace,
      REDIS_KEY_PREFIX: `splitshop:${run}:`,
    };
    const baseUrl = `http://127.0.0.1:${8000 + offset}`;

    const first = startSplitScript(env);
    running.push(first);
    await waitFor(first, /Splitshop \(split\) is up: (\S+)/);
    expect(first.output).toContain(`is up: ${baseUrl}`);
    const [, password] = await waitFor(
      first,
      /Created the admin \(username admin\) with the password (\S+):/,
    );
    // Every line of the processes is prefixed by its process's name: the gateway and one per module, two of catalog.
    const names = new Set([...first.output.matchAll(/^\[([a-z#0-9]+)\]\s/gm)].map((m) => m[1]));
    expect([...names].sort()).toEqual(
      ['catalog#1', 'catalog#2', 'gateway', 'notifications', 'orders', 'payments', 'users'].sort(),
    );
    const client = createClient(baseUrl);
    const token = await adminLogin(client, password!);
    expect(token.split('.')).toHaveLength(3);

    // A process that dies is started again, as compose would.
    const catalogPid = Number(/^\[catalog#1\]\s.*"pid":(\d+)/m.exec(first.output)?.[1]);
    process.kill(catalogPid, 'SIGKILL');
    await waitFor(first, /\[catalog#1\] exited \(SIGKILL\); starting it again in 1 s/);
    await waitFor(first, /\[catalog#1\] is back/);
    expect((await fetch(`http://127.0.0.1:${8102 + offset}/health/live`)).status).toBe(200);

    // A second shop on the same ports is refused before it starts anything; the first goes on serving.
    const second = startSplitScript(env);
    running.push(second);
    expect(await second.exited).not.toBe(0);
    expect(second.output).toMatch(/already in use.*SPLITSHOP_PORT_OFFSET/s);
    expect((await fetch(`${baseUrl}/health`)).status).toBe(200);

    pressCtrlC(first);
    await first.exited;
    expect(first.output).toContain('SIGINT: stopping every process');
    expect(await busyPorts(split, offset)).toEqual([]);
    // Cleanly: every process finished its shutdown, none was cut short by the group's SIGINT arriving
    // beside the launcher's SIGTERM, and the gateway stopped taking requests before the modules stopped.
    expect(first.output).not.toMatch(/second SIG/);
    const shutdowns = [...first.output.matchAll(/^\[([a-z#0-9]+)\]\s.*"signal":"(\w+)".*shutting down/gm)];
    expect(shutdowns.map((m) => m[2])).toEqual(Array(7).fill('SIGTERM'));
    expect(shutdowns.map((m) => m[1])[0]).toBe('gateway');

    // The admin exists now: a new start says so instead of printing a password that is not the admin's.
    const third = startSplitScript(env);
    running.push(third);
    await waitFor(third, /Splitshop \(split\) is up/);
    expect(third.output).toContain('The admin (username admin) already existed');
    expect(third.output).not.toContain('generated_admin_password');
    expect((await adminLogin(createClient(baseUrl), password!)).split('.')).toHaveLength(3);
    pressCtrlC(third);
    await third.exited;
    expect(await busyPorts(split, offset)).toEqual([]);
  }, 240_000);
});
