/**
 * Named crash points for fault tests. Configured only from the process's own configuration
 * (`SPLITSHOP_CRASH_POINTS=name[:n],...`), never from a request: the n-th time (default first) a
 * process reaches `name`, it dies as abruptly as a SIGKILL.
 */
const armed = new Map<string, number>();

export function armCrashPoints(spec: string | undefined): void {
  armed.clear();
  for (const part of (spec ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const [name, count] = part.split(':');
    armed.set(name!, Math.max(1, Number(count ?? 1) || 1));
  }
}

/** Dies here if this point is armed and its count is reached. */
export function crashPoint(name: string): void {
  const left = armed.get(name);
  if (left === undefined) return;
  if (left > 1) {
    armed.set(name, left - 1);
    return;
  }
  process.kill(process.pid, 'SIGKILL');
}
