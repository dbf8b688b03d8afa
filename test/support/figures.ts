import { appendFileSync } from 'node:fs';
import { inject } from 'vitest';

/**
 * The figures a fault, fuzz or security suite publishes. Each comes from the assertions of a test that
 * fails when the invariant breaks: record a figure only after the test's own checks have passed.
 * `npm run test:faults` prints one line per suite (see `figures-setup.ts`), and the README records them.
 */
export interface SuiteFigures {
  /** Load held while the faults happened: requests per second, for how long, p99 latency, 5xx answers. */
  load?: { rps: number; seconds: number; p99Ms: number; errors5xx: number };
  /** Distinct fault points (or kinds) × runs of each. */
  faults?: { points: number; runs: number };
  /** Bad requests sent, and how many got a 5xx (must be 0). */
  badInputs?: { tried: number; errors5xx: number };
  /** Security cases tried, and how many were accepted (must be 0). */
  security?: { cases: number; accepted: number };
  /** Acknowledged orders and how many are present; committed events and how many were applied exactly once. */
  nothingLost?: { acknowledged: number; present: number; eventsCommitted: number; appliedOnce: number };
}

declare module 'vitest' {
  export interface ProvidedContext {
    figuresFile: string;
  }
}

/**
 * Adds figures to a suite's line. Called several times for one suite, counts add up (`faults.runs` is
 * per point, so points add up and runs keep the smallest); `load` keeps the longest run.
 */
export function recordFigures(suite: string, figures: SuiteFigures): void {
  const file = inject('figuresFile');
  if (!file) return;
  appendFileSync(file, `${JSON.stringify({ suite, figures })}\n`);
}
