import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ROOT } from './support/shop.ts';

const run = promisify(execFile);

/** Runs the project's own dependency rules over a tree and returns the rules it broke, with the edge. */
async function violations(cwd: string): Promise<string[]> {
  const bin = join(ROOT, 'node_modules/.bin/depcruise');
  const config = join(ROOT, '.dependency-cruiser.cjs');
  const { stdout } = await run(bin, ['src', '--config', config, '--output-type', 'json'], { cwd }).catch(
    (err: { stdout: string }) => ({ stdout: err.stdout }),
  );
  const result = JSON.parse(stdout) as {
    summary: { violations: Array<{ rule: { name: string }; from: string; to: string }> };
  };
  return result.summary.violations.map((v) => `${v.rule.name}: ${v.from} -> ${v.to}`).sort();
}

describe('module boundaries', () => {
  it('refuse a deep import into another module and a platform import of a module, and nothing else', async () => {
    expect(await violations(join(ROOT, 'test/fixtures/boundaries'))).toEqual([
      'module-internals: src/modules/beta/index.ts -> src/modules/alpha/service.ts',
      'platform-knows-no-module: src/platform/shared.ts -> src/modules/alpha/index.ts',
    ]);
  });
});
