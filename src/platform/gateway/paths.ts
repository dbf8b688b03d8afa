/** A path the gateway may route, or why it may not. */
export type NormalizedPath =
  | { readonly ok: true; readonly path: string }
  | { readonly ok: false; readonly reason: string };

const SLASH = 0x2f;
const PERCENT = 0x25;
const DOT = 0x2e;

/** Characters a path may carry as they are: RFC 3986 unreserved, sub-delims but `;`, `:` and `@`. */
const PLAIN = new Uint8Array(128);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,=:@") {
  PLAIN[c.charCodeAt(0)] = 1;
}
/** Unreserved characters: their percent-encoding means the same as the character, so it is decoded. */
const UNRESERVED = new Uint8Array(128);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~') {
  UNRESERVED[c.charCodeAt(0)] = 1;
}

function hexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  const lower = code | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}

function refuse(reason: string): NormalizedPath {
  return { ok: false, reason };
}

/**
 * Puts a request path (without its query string) in the one form the gateway routes on and forwards,
 * or refuses it, so that no spelling of a path can reach a route another spelling would not:
 * percent-encoded unreserved characters are decoded (`/%70roducts` is `/products`), other escapes are
 * kept with upper-case hex; an encoded `/` or `\`, a backslash, `;` path parameters, control
 * characters, double encoding (`%25`), empty segments (`//`) and dot segments (`.`, `..`, `%2e%2e`)
 * are refused. A single trailing slash is kept: it names another route, which the service refuses.
 * Pure and allocation-free for a path that is already normal.
 */
export function normalizePath(raw: string): NormalizedPath {
  const length = raw.length;
  if (length === 0 || raw.charCodeAt(0) !== SLASH) return refuse('A path must start with /');
  // Built only once something changes: most paths are returned as they came.
  let out: string | undefined;
  let copiedUpTo = 0;
  let segmentLength = 0;
  let segmentDots = 0;
  for (let i = 1; i < length; i++) {
    const code = raw.charCodeAt(i);
    if (code === SLASH) {
      if (segmentLength === 0) return refuse('A path may not contain an empty segment (//)');
      if (segmentDots === segmentLength && segmentLength <= 2)
        return refuse('A path may not contain . or .. segments');
      segmentLength = 0;
      segmentDots = 0;
      continue;
    }
    if (code === PERCENT) {
      const high = i + 2 < length ? hexValue(raw.charCodeAt(i + 1)) : -1;
      const low = high >= 0 ? hexValue(raw.charCodeAt(i + 2)) : -1;
      if (low < 0) return refuse('A path may not contain a malformed percent-encoding');
      const value = high * 16 + low;
      if (value < 0x20 || value === 0x7f) return refuse('A path may not contain control characters');
      if (value === SLASH || value === 0x5c) return refuse('A path may not contain an encoded / or \\');
      if (value === 0x3b) return refuse('A path may not contain path parameters (;)');
      if (value === PERCENT) return refuse('A path may not be encoded twice (%25)');
      const decoded = value < 128 && UNRESERVED[value] === 1;
      const upper = raw.slice(i + 1, i + 3).toUpperCase();
      if (decoded || upper !== raw.slice(i + 1, i + 3)) {
        out = (out ?? '') + raw.slice(copiedUpTo, i) + (decoded ? String.fromCharCode(value) : `%${upper}`);
        copiedUpTo = i + 3;
      }
      segmentLength++;
      if (value === DOT) segmentDots++;
      i += 2;
      continue;
    }
    if (code === 0x5c) return refuse('A path may not contain a backslash');
    if (code === 0x3b) return refuse('A path may not contain path parameters (;)');
    if (code >= 128 || PLAIN[code] !== 1) return refuse('A path may not contain this character');
    segmentLength++;
    if (code === DOT) segmentDots++;
  }
  // The last segment is empty only after a trailing slash (or for the root), and never a dot segment.
  if (segmentLength > 0 && segmentDots === segmentLength && segmentLength <= 2)
    return refuse('A path may not contain . or .. segments');
  return { ok: true, path: out === undefined ? raw : out + raw.slice(copiedUpTo) };
}
