import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { MODULE_NAMES, type ModuleName } from '../../src/bootstrap/topology.ts';

/** A running shop, whatever its topology: where to reach it and how to stop it. */
export interface ShopHandle {
  readonly baseUrl: string;
  readonly adminPassword: string;
  /** Each module's database URL (`sqlite:<file>` or `postgres://…`), for checks that read them directly. */
  readonly databases: Readonly<Record<ModuleName, string>>;
  /** The broker and this shop's namespace on it, when its events travel over AMQP. */
  readonly amqp?: { readonly url: string; readonly namespace: string };
  stop(): Promise<void>;
}

/** The SQLite file of every module under a data directory, as the composition root names them. */
export function sqliteDatabases(dataDir: string): Record<ModuleName, string> {
  return Object.fromEntries(MODULE_NAMES.map((m) => [m, `sqlite:${join(dataDir, `${m}.db`)}`])) as Record<
    ModuleName,
    string
  >;
}

export const ROOT = resolve(import.meta.dirname, '../..');
export const TEST_JWT_SECRET = 'test-secret-that-is-long-enough-for-hs256-0123456789';
export const TEST_ADMIN_PASSWORD = 'admin-password-for-tests';

export interface ShopProcess {
  readonly child: ChildProcess;
  readonly baseUrl: string;
  /** Every log line the process wrote so far, parsed. */
  readonly logs: Array<Record<string, unknown>>;
  /** Resolves with the exit code or signal. */
  readonly exited: Promise<number | string>;
}

/** `spawnShop` failed because the process exited before it listened; `exit` says how (e.g. `SIGKILL`). */
export class ShopExitedError extends Error {
  readonly exit: number | string;
  constructor(exit: number | string, stderr: string) {
    super(`shop exited (${exit}) before listening\n${stderr}`);
    this.name = 'ShopExitedError';
    this.exit = exit;
  }
}

/** Environment for a test shop: its own data directory, a fixed secret and admin password, an open port. */
export function shopEnv(dataDir: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    PORT: '0',
    HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    JWT_SECRET: TEST_JWT_SECRET,
    ADMIN_PASSWORD: TEST_ADMIN_PASSWORD,
    LOG_LEVEL: 'info',
    RATE_LIMIT_MAX: '5000',
    ...extra,
  };
}

/** A TCP port nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => done(port));
    });
    server.on('error', fail);
  });
}

/** The first of `count` consecutive TCP ports that nothing listens on right now, below the ephemeral range. */
export async function freePortRun(count: number): Promise<number> {
  const free = (port: number) =>
    new Promise<boolean>((done) => {
      const server = createServer()
        .once('error', () => done(false))
        .listen(port, '127.0.0.1', () => server.close(() => done(true)));
    });
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 1_200) * 10;
    let ok = true;
    for (let i = 0; i < count && ok; i++) ok = await free(base + i);
    if (ok) return base;
  }
  throw new Error(`no ${count} consecutive free ports`);
}

/** Polls `/health/live` until it answers, for processes whose log level hides the listening line. */
async function waitForHealth(baseUrl: string, exited: Promise<unknown>, timeoutMs: number): Promise<void> {
  let dead = false;
  void exited.then(() => {
    dead = true;
  });
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !dead) {
    // Bounded: whatever else holds the port may take the connection and never answer.
    const ok = await fetch(`${baseUrl}/health/live`, { signal: AbortSignal.timeout(2_000) }).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(dead ? 'shop exited before listening' : `shop did not start in ${timeoutMs} ms`);
}

/**
 * Starts `src/bootstrap/main.ts` as its own process, as `npm start` does, and waits until it listens:
 * by its listening log line when `PORT` is 0, else by polling its health.
 */
export async function spawnShop(env: Record<string, string>, timeoutMs = 60_000): Promise<ShopProcess> {
  const child = spawn(
    process.execPath,
    ['--disable-warning=ExperimentalWarning', join(ROOT, 'src/bootstrap/main.ts')],
    {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const logs: Array<Record<string, unknown>> = [];
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<number | string>((done) =>
    child.on('exit', (code, signal) => done(code ?? signal ?? -1)),
  );
  if (env.PORT !== '0') {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // not a log line
      }
    });
    const baseUrl = `http://${env.HOST ?? '127.0.0.1'}:${env.PORT}`;
    await waitForHealth(baseUrl, exited, timeoutMs).catch((err: Error) => {
      child.kill('SIGKILL');
      throw new Error(`${err.message}\n${stderr}`);
    });
    return { child, baseUrl, logs, exited };
  }
  const baseUrl = await new Promise<string>((done, fail) => {
    const timer = setTimeout(
      () => fail(new Error(`shop did not start in ${timeoutMs} ms\n${stderr}`)),
      timeoutMs,
    );
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        const entry = JSON.parse(line) as Record<string, unknown>;
        logs.push(entry);
        if (entry.event === 'listening') {
          clearTimeout(timer);
          done(String(entry.url));
        }
      } catch {
        // not a log line
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      fail(new ShopExitedError(code, stderr));
    });
  });
  return { child, baseUrl, logs, exited };
}

/** Stops a shop process with SIGTERM (graceful) and waits for it to exit. */
export async function stopShop(
  shop: ShopProcess,
  signal: NodeJS.Signals = 'SIGTERM',
): Promise<number | string> {
  if (shop.child.exitCode === null && shop.child.signalCode === null) shop.child.kill(signal);
  return shop.exited;
}

export function tempDataDir(prefix = 'splitshop-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** The monolith on SQLite, as `npm start` runs it. */
export async function startMonolith(extraEnv: Record<string, string> = {}): Promise<ShopHandle> {
  const dataDir = tempDataDir();
  const shop = await spawnShop(shopEnv(dataDir, extraEnv));
  return {
    baseUrl: shop.baseUrl,
    adminPassword: TEST_ADMIN_PASSWORD,
    databases: sqliteDatabases(dataDir),
    async stop() {
      await stopShop(shop);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
