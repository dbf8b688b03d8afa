import pino, { type Logger } from 'pino';

export type { Logger };

/** Fields that must never reach a log line, wherever they are nested. */
const REDACT = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  '*.password',
  '*.password_hash',
  '*.access_token',
  '*.token',
  'password',
  'password_hash',
  'access_token',
];

/** JSON logs: one line per event, with request id, user id and module where known. */
export function createLogger(options: { level: string; name?: string }): Logger {
  return pino({
    level: options.level,
    ...(options.name ? { name: options.name } : {}),
    redact: { paths: REDACT, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  });
}

/** What a loop that failed and works again says, unless it has its own words. */
export const WORKING_AGAIN = 'working again after failed runs';

/** How often a failure that goes on is logged again. */
const REPEAT_FAILURE_MS = 60_000;

/** The log of something tried again and again that may fail many times in a row. */
export interface RepeatedFailureLog {
  failed(err: unknown, fields?: Record<string, unknown>): void;
  /** Ends a run of failures (a no-op when there was none). */
  succeeded(): void;
}

/**
 * For a poll, a sweep, a reconnection: while a database or a broker is away every try fails, and a line
 * each would bury the log. The first failure in a row is logged at `level` (default error), then one a
 * minute with the count of failed tries and the time since the first, the others at debug; when a try
 * works again, `recovered` (if given) at info.
 */
export function repeatedFailureLog(
  log: Logger,
  message: string,
  options: {
    readonly level?: 'warn' | 'error';
    readonly recovered?: string;
    readonly fields?: Record<string, unknown>;
  } = {},
): RepeatedFailureLog {
  const { level = 'error', recovered, fields } = options;
  let failing: { tries: number; since: number; loggedAt: number } | undefined;
  return {
    failed(err, more) {
      const now = Date.now();
      failing ??= { tries: 0, since: now, loggedAt: 0 };
      failing.tries++;
      const line = {
        ...fields,
        ...more,
        err,
        failed_runs: failing.tries,
        failing_for_ms: now - failing.since,
      };
      // Not again when the error changes either: an outage reads "connection terminated", then "refused".
      if (failing.tries > 1 && now - failing.loggedAt < REPEAT_FAILURE_MS) {
        log.debug(line, message);
        return;
      }
      failing.loggedAt = now;
      log[level](line, message);
    },
    succeeded() {
      if (failing === undefined) return;
      if (recovered !== undefined)
        log.info(
          { ...fields, failed_runs: failing.tries, failing_for_ms: Date.now() - failing.since },
          recovered,
        );
      failing = undefined;
    },
  };
}
