import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import type { SuiteFigures } from './figures.ts';

/** Merges every record of one suite: counts add up, runs per point keep the smallest, load keeps the longest. */
export function mergeFigures(records: readonly SuiteFigures[]): SuiteFigures {
  const merged: SuiteFigures = {};
  for (const r of records) {
    if (r.load && (!merged.load || r.load.seconds > merged.load.seconds)) merged.load = r.load;
    if (r.faults) {
      merged.faults = merged.faults
        ? {
            points: merged.faults.points + r.faults.points,
            runs: Math.min(merged.faults.runs, r.faults.runs),
          }
        : r.faults;
    }
    for (const key of ['badInputs', 'security', 'nothingLost'] as const) {
      const add = r[key] as Record<string, number> | undefined;
      if (!add) continue;
      const into = (merged[key] ?? {}) as Record<string, number>;
      for (const [k, v] of Object.entries(add)) into[k] = (into[k] ?? 0) + v;
      (merged as Record<string, unknown>)[key] = into;
    }
  }
  return merged;
}

/** One line per suite, in the form the README records. */
export function formatFigures(suite: string, f: SuiteFigures): string {
  const parts: string[] = [];
  if (f.load) {
    parts.push(
      `load held ${f.load.rps} req/s for ${f.load.seconds} s, p99 ${f.load.p99Ms} ms, ${f.load.errors5xx} × 5xx`,
    );
  }
  if (f.faults) parts.push(`faults survived ${f.faults.points} points × ${f.faults.runs} runs`);
  if (f.badInputs) parts.push(`bad inputs tried ${f.badInputs.tried}, ${f.badInputs.errors5xx} × 5xx`);
  if (f.security) parts.push(`security cases ${f.security.cases}, ${f.security.accepted} accepted`);
  if (f.nothingLost) {
    const n = f.nothingLost;
    parts.push(
      `nothing lost: acknowledged ${n.acknowledged} = present ${n.present}, events committed ${n.eventsCommitted} = applied once ${n.appliedOnce}`,
    );
  }
  return `${suite}: ${parts.join(' · ')}`;
}

/** Global setup of the faults project: a fresh figures file, printed as one line per suite at the end. */
export default function setup(project: TestProject): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'splitshop-figures-'));
  const file = join(dir, 'figures.jsonl');
  writeFileSync(file, '');
  project.provide('figuresFile', file);
  return () => {
    const bySuite = new Map<string, SuiteFigures[]>();
    for (const line of readFileSync(file, 'utf8').split('\n').filter(Boolean)) {
      const { suite, figures } = JSON.parse(line) as { suite: string; figures: SuiteFigures };
      bySuite.set(suite, [...(bySuite.get(suite) ?? []), figures]);
    }
    const lines = [...bySuite].map(([suite, records]) => formatFigures(suite, mergeFigures(records)));
    if (lines.length > 0) {
      process.stdout.write(
        `\nSplitshop figures (npm run test:faults)\n${lines.map((l) => `  ${l}`).join('\n')}\n`,
      );
    }
    rmSync(dir, { recursive: true, force: true });
  };
}
