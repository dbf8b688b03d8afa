import { isUtf8 } from 'node:buffer';
import type { FastifyInstance } from 'fastify';
import { platformErrors } from '../errors.ts';

/** A `\u0000` or surrogate escape that is not itself escaped: the only way JSON text spells NUL or half a pair. */
const SUSPECT_ESCAPE = /(?<!\\)(?:\\\\)*\\u(?:0000|d[89a-f])/i;

/** A string no database stores as sent: NUL (Postgres refuses it) or a lone surrogate (becomes U+FFFD). */
function hasUnstorableText(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('\0') || !value.isWellFormed();
  if (typeof value !== 'object' || value === null) return false;
  for (const [key, item] of Object.entries(value)) {
    if (hasUnstorableText(key) || hasUnstorableText(item)) return true;
  }
  return false;
}

/**
 * Replaces fastify's JSON parser with one that also refuses bodies it would otherwise accept and then
 * store differently, or fail to store: invalid UTF-8 (fastify decodes it to U+FFFD), and strings with NUL
 * or a lone surrogate. Prototype poisoning stays an error, as the edge configures it.
 */
export function installJsonBodyParser(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, raw, done) => {
    if (!isUtf8(raw as Buffer)) {
      done(platformErrors.VALIDATION_FAILED('The body is not valid UTF-8'));
      return;
    }
    const text = (raw as Buffer).toString('utf8');
    parseJson(request, text, (error, body) => {
      if (error === null && SUSPECT_ESCAPE.test(text) && hasUnstorableText(body)) {
        done(platformErrors.VALIDATION_FAILED('The body has a NUL character or an unpaired surrogate'));
      } else done(error, body);
    });
  });
}
