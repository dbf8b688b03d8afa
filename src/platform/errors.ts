/** What every error that crosses a module boundary carries, whichever transport ran. */
export interface ErrorSpec {
  readonly status: number;
  readonly title: string;
}

/**
 * An expected failure with a stable `code`. Over HTTP it becomes an RFC 9457 problem document;
 * the HTTP client turns that back into the same AppError, so callers cannot tell which transport ran.
 */
export class AppError extends Error {
  readonly isAppError = true;
  readonly code: string;
  readonly status: number;
  readonly title: string;
  readonly detail: string | undefined;
  readonly extra: Readonly<Record<string, unknown>>;

  constructor(code: string, spec: ErrorSpec, detail?: string, extra: Record<string, unknown> = {}) {
    super(detail ?? spec.title);
    this.name = 'AppError';
    this.code = code;
    this.status = spec.status;
    this.title = spec.title;
    this.detail = detail;
    this.extra = extra;
  }
}

/** Type guard by property, so it survives two copies of this package. */
export function isAppError(error: unknown): error is AppError {
  return (
    typeof error === 'object' &&
    error !== null &&
    (error as { isAppError?: unknown }).isAppError === true &&
    typeof (error as { code?: unknown }).code === 'string'
  );
}

/** True when `error` is an AppError with one of `codes`. */
export function hasCode(error: unknown, ...codes: string[]): error is AppError {
  return isAppError(error) && codes.includes(error.code);
}

export type ErrorFactory = (detail?: string, extra?: Record<string, unknown>) => AppError;

/**
 * Builds a module's error catalog from its specs.
 * @example
 * const errors = defineErrors({ OUT_OF_STOCK: { status: 409, title: 'Not enough stock' } });
 * throw errors.OUT_OF_STOCK('Product p1 has 2 left');
 */
export function defineErrors<const T extends Record<string, ErrorSpec>>(
  catalog: T,
): { readonly [K in keyof T]: ErrorFactory } {
  const factories: Record<string, ErrorFactory> = {};
  for (const [code, spec] of Object.entries(catalog)) {
    factories[code] = (detail, extra) => new AppError(code, spec, detail, extra);
  }
  return Object.freeze(factories) as { readonly [K in keyof T]: ErrorFactory };
}

/** Errors any module or the edge may raise. */
export const platformErrors = defineErrors({
  VALIDATION_FAILED: { status: 400, title: 'The request is not valid' },
  INVALID_CURSOR: { status: 400, title: 'The cursor is not valid' },
  UNSUPPORTED_API_VERSION: { status: 400, title: 'The requested API version is not served' },
  UNAUTHORIZED: { status: 401, title: 'Authentication is required' },
  FORBIDDEN: { status: 403, title: 'You may not do this' },
  NOT_FOUND: { status: 404, title: 'Not found' },
  METHOD_NOT_ALLOWED: { status: 405, title: 'Method not allowed' },
  REQUEST_TIMEOUT: { status: 408, title: 'The request took too long to arrive' },
  PAYLOAD_TOO_LARGE: { status: 413, title: 'The request body is too large' },
  URI_TOO_LONG: { status: 414, title: 'The URL is too long' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'The content type is not supported' },
  RATE_LIMITED: { status: 429, title: 'Too many requests' },
  HEADERS_TOO_LARGE: { status: 431, title: 'The request headers are too large' },
  INTERNAL: { status: 500, title: 'Internal Server Error' },
  SERVICE_UNAVAILABLE: { status: 503, title: 'Service unavailable' },
  TIMEOUT: { status: 504, title: 'The request took too long' },
});

/**
 * Node's codes for a socket that could not connect or was cut: the other end may never have seen the
 * request. The RPC clients and the gateway read them as transport failures, the edge (from a database
 * driver) as a database that is unavailable.
 */
export const SOCKET_ERROR_CODES: readonly string[] = [
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
];

/** Every error code on `error`, its causes, and the errors of an AggregateError. */
export function codesOf(error: unknown): string[] {
  if (typeof error !== 'object' || error === null) return [];
  const { code, cause, errors } = error as { code?: unknown; cause?: unknown; errors?: unknown };
  return [
    ...(typeof code === 'string' ? [code] : []),
    ...codesOf(cause),
    // Happy eyeballs reports a refused connection per address as an AggregateError.
    ...(Array.isArray(errors) ? errors.flatMap(codesOf) : []),
  ];
}

/** An error's message followed by its causes' (`a: b: c`), so the reason at the bottom is not lost. */
export function messageChain(err: unknown): string {
  const messages: string[] = [];
  for (let e: unknown = err; e !== undefined && messages.length < 5; e = (e as Error).cause) {
    const message = e instanceof Error ? e.message : String(e);
    if (message && !messages.at(-1)?.endsWith(message)) messages.push(message);
    if (!(e instanceof Error)) break;
  }
  return messages.join(': ');
}
