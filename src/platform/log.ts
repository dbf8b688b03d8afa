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
