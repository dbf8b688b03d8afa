import { AppError, codesOf, platformErrors, SOCKET_ERROR_CODES } from '../errors.ts';
import { PROBLEM_CONTENT_TYPE } from '../http/problem.ts';

/**
 * A call that never got an answer from the module: the connection was refused or reset, the attempt
 * timed out, or something in between (a proxy, a closing server) answered 502, 503 or 504 instead of
 * the module. The only failures a client retries, and, with 5xx answers, what its breaker counts.
 */
export class TransportFailure extends Error {
  readonly isTransportFailure = true;
  readonly kind: 'timeout' | 'unreachable';

  constructor(kind: 'timeout' | 'unreachable', message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TransportFailure';
    this.kind = kind;
  }
}

/** Type guard by property, like cockatiel's `isBrokenCircuitError`. */
export function isTransportFailure(error: unknown): error is TransportFailure {
  return (
    typeof error === 'object' &&
    error !== null &&
    (error as { isTransportFailure?: unknown }).isTransportFailure === true
  );
}

/** Socket and connection errors of Node and undici: the request may not have reached the service. */
const TRANSPORT_CODES = new Set([
  ...SOCKET_ERROR_CODES,
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
  'UND_ERR_DESTROYED',
]);

/** The socket or connection error code in what undici threw (HTTP clients and the gateway alike), if any. */
export function connectionErrorCode(error: unknown): string | undefined {
  return codesOf(error).find((c) => TRANSPORT_CODES.has(c));
}

/** Turns what undici threw into a TransportFailure, or returns undefined for a programming error. */
export function asTransportFailure(
  error: unknown,
  aborted: boolean,
  target: string,
): TransportFailure | undefined {
  if (aborted) return new TransportFailure('timeout', `${target} timed out`, { cause: error });
  const code = connectionErrorCode(error);
  if (code) return new TransportFailure('unreachable', `${target} failed: ${code}`, { cause: error });
  return undefined;
}

/** The answer of a call: a result, or the AppError the module raised, rebuilt from its problem document. */
export type Answer =
  | { readonly ok: true; readonly result: unknown }
  | { readonly ok: false; readonly error: AppError };

const PROBLEM_FIELDS = new Set(['type', 'title', 'status', 'detail', 'code', 'request_id']);

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The AppError a problem document stands for, with the same code, status, title, detail and extra fields. */
export function fromProblem(problem: Record<string, unknown>): AppError | undefined {
  const { code, status, title, detail } = problem;
  if (typeof code !== 'string' || typeof status !== 'number' || typeof title !== 'string') return undefined;
  const extra: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(problem)) if (!PROBLEM_FIELDS.has(key)) extra[key] = value;
  return new AppError(code, { status, title }, typeof detail === 'string' ? detail : undefined, extra);
}

/**
 * Reads an internal route's response. `{ result }` with 200 is a result; a problem document is the
 * module's AppError; 502, 503 or 504 without one is a transport failure; anything else is a fault of
 * the module, raised as `INTERNAL`.
 */
export function readAnswer(
  statusCode: number,
  contentType: string | undefined,
  text: string,
  target: string,
): Answer {
  const body = parse(text);
  const isObject = typeof body === 'object' && body !== null && !Array.isArray(body);
  if (statusCode === 200 && isObject && 'result' in body) return { ok: true, result: body.result };
  if (isObject && contentType?.startsWith(PROBLEM_CONTENT_TYPE)) {
    const error = fromProblem(body as Record<string, unknown>);
    if (error) return { ok: false, error };
  }
  if (statusCode === 504) throw new TransportFailure('timeout', `${target} answered 504`);
  if (statusCode === 502 || statusCode === 503) {
    throw new TransportFailure('unreachable', `${target} answered ${statusCode}`);
  }
  return {
    ok: false,
    error: platformErrors.INTERNAL(`${target} answered ${statusCode} without a result or a problem document`),
  };
}
