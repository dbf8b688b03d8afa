import { readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { resolveRole } from '../src/bootstrap/topology.ts';
import { loadConfig } from '../src/platform/config.ts';
import { ROOT } from './support/shop.ts';

// There is no Docker engine on our machines: check what can be checked without one.
interface ComposeService {
  build?: unknown;
  image?: string;
  command?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, unknown>;
}

const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const compose = parse(read('docker/compose.yaml'), { merge: true }) as {
  services: Record<string, ComposeService>;
};
const scripts = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts;
const apps = Object.entries(compose.services).filter(([, s]) => s.build !== undefined);

/** Compose's `${VAR:-default}` as compose would fill it with nothing set. */
const interpolate = (env: Record<string, string>) =>
  Object.fromEntries(
    Object.entries(env).map(([k, v]) => [k, String(v).replace(/\$\{[A-Z_]+:-([^}]*)\}/g, '$1')]),
  );

function npmScript(command: readonly string[]): string | undefined {
  if (command[0] !== 'npm') return undefined;
  return command[1] === 'start' || command[1] === 'test'
    ? command[1]
    : command[1] === 'run'
      ? command[2]
      : undefined;
}

describe('docker/compose.yaml and docker/Dockerfile', () => {
  it('run the split topology: a gateway and every module, two of catalog', () => {
    const processes = apps.map(([, s]) => s.environment?.SPLITSHOP_PROCESS).sort();
    expect(processes).toEqual([
      'catalog',
      'catalog',
      'gateway',
      'notifications',
      'orders',
      'payments',
      'users',
    ]);
    expect(Object.keys(compose.services)).toEqual(expect.arrayContaining(['postgres', 'rabbitmq', 'redis']));
  });

  it.each(apps)(
    'gives %s an environment that passes the configuration schema and names a process',
    (_name, service) => {
      const env = interpolate(service.environment ?? {});
      const config = loadConfig(env);
      const role = resolveRole({
        topology: config.topology,
        process: config.process,
        modules: config.modules,
      });
      expect(role.modules.length > 0 || role.gateway).toBe(true);
      for (const module of role.modules) expect(config.databaseUrls[module]).toMatch(/^postgres:\/\//);
    },
  );

  it('starts every container with a command package.json has, as the Dockerfile does', () => {
    for (const [, service] of apps) {
      const script = npmScript(service.command ?? []);
      expect(script && scripts[script]).toBeTruthy();
    }
    const cmd = /^CMD (\[.*\])$/m.exec(read('docker/Dockerfile'))?.[1];
    expect(scripts[npmScript(JSON.parse(cmd!) as string[])!]).toBeTruthy();
  });

  it('points every service address at a compose service on its port, and creates every database', () => {
    const init = read('docker/postgres-init.sql');
    for (const [, service] of apps) {
      const env = service.environment ?? {};
      for (const [key, value] of Object.entries(env)) {
        if (key.endsWith('_URLS')) {
          for (const url of value.split(',')) {
            const { hostname, port } = new URL(url);
            expect(compose.services[hostname], url).toBeDefined();
            expect(compose.services[hostname]!.environment?.PORT).toBe(port);
          }
        }
        if (key.endsWith('_DATABASE_URL'))
          expect(init).toContain(`CREATE DATABASE ${new URL(value).pathname.slice(1)};`);
      }
    }
  });

  it('listens on every interface of the container, where the shop itself listens on its loopback', () => {
    expect(loadConfig({}).host).toBe('127.0.0.1');
    const dockerfile = read('docker/Dockerfile');
    const final = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    const env = /^ENV (.+)$/m.exec(final)?.[1] ?? '';
    expect(env.split(/\s+/)).toContain('HOST=0.0.0.0');
  });

  it('gives the node user a data directory it may write where DATA_DIR points by default', () => {
    // Without it the image's default topology, the monolith on SQLite, could not create its files in
    // the root-owned /app: `docker run` would fail with EACCES.
    const dockerfile = read('docker/Dockerfile');
    const final = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    const workdir = /^WORKDIR (\S+)$/m.exec(final)?.[1];
    const dataDir = posix.join(workdir!, loadConfig({}).dataDir.slice(process.cwd().length + 1));
    expect(dataDir).toBe('/app/data');
    const user = final.indexOf('\nUSER node');
    const chown = final.search(new RegExp(`\\nRUN mkdir -p ${dataDir} && chown node:node ${dataDir}\\n`));
    expect(chown).toBeGreaterThan(-1);
    expect(chown).toBeLessThan(user);
    expect(final).toContain(`\nVOLUME ${dataDir}\n`);
  });

  it('calls a container healthy once it is ready, so its dependents start when it can serve', () => {
    const dockerfile = read('docker/Dockerfile');
    const check = /^HEALTHCHECK [^\n]*\\\n\s+CMD (.+)$/m.exec(dockerfile)?.[1] ?? '';
    expect(check).toContain("'/health/ready'");
  });

  it('starts the gateway after every module service', () => {
    const gateway = compose.services.gateway!;
    const modules = apps.filter(([, s]) => s.environment?.SPLITSHOP_PROCESS !== 'gateway').map(([n]) => n);
    expect(Object.keys(gateway.depends_on ?? {})).toEqual(expect.arrayContaining(modules));
  });
});
