import type { IncomingHttpHeaders } from 'node:http';
import { Readable } from 'node:stream';
import type { Dispatcher, Pool } from 'undici';

/** The answer of an instance. A small body comes whole; a large or unsized one comes as a stream. */
export interface UpstreamAnswer {
  readonly statusCode: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer | Readable;
}

/** Answers up to this size are read whole before the promise resolves; larger ones are streamed. */
export const BUFFER_LIMIT = 64 * 1024;
const EMPTY = Buffer.alloc(0);

/**
 * Raised when an answer broke off after it had started: the instance may have acted on the request, so
 * it is never sent again. `cause` is the undici error.
 */
export class BrokenAnswerError extends Error {
  readonly isBrokenAnswer = true;
  readonly code: string | undefined;
  constructor(cause: Error) {
    super('The answer broke off', { cause });
    this.code = (cause as { code?: string }).code;
  }
}

/**
 * How a step of the proxy path ends: with an error, or with its value. The path from a client's request
 * to its answer passes callbacks, not promises: the promises and `await`s on the way, with cockatiel's
 * (see `Upstream.send`), cost the gateway about 7% of its throughput in the hop benchmark. Promises stay
 * where fastify or the rare paths (the edge cache, the API document) need them (`promised`).
 */
export type Done<T> = (error: unknown, value?: T) => void;

/** The promise of a call that takes a `Done`. */
export function promised<T>(call: (done: Done<T>) => void): Promise<T> {
  return new Promise((resolve, reject) =>
    call((error, value) => (error === undefined ? resolve(value as T) : reject(error))),
  );
}

/**
 * One request to an instance over undici's `dispatch`, the layer its `request` is built on, without the
 * stream and body mixin `request` creates for every answer: a small answer's chunks are gathered into
 * one Buffer, a large one is handed on as a stream that pauses the socket when the client reads slowly.
 */
class Exchange implements Dispatcher.DispatchHandler {
  readonly #done: Done<UpstreamAnswer>;
  #settled = false;
  #statusCode = 0;
  #headers: IncomingHttpHeaders = {};
  #chunks: Buffer[] = [];
  #length = 0;
  #started = false;
  #stream: Readable | undefined;

  constructor(done: Done<UpstreamAnswer>) {
    this.#done = done;
  }

  /** Hands on the outcome once. What the caller does with it cannot throw into undici's parser. */
  #settle(error: Error | undefined, answer?: UpstreamAnswer): void {
    if (this.#settled) return;
    this.#settled = true;
    try {
      this.#done(error, answer);
    } catch (thrown) {
      // A bug in the caller: thrown outside undici's socket handler, which would take it for its own.
      queueMicrotask(() => {
        throw thrown;
      });
    }
  }

  onRequestStart(): void {}

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
  ): void {
    // Informational answers (1xx) are followed by the real one.
    if (statusCode < 200) return;
    this.#started = true;
    this.#statusCode = statusCode;
    this.#headers = headers;
    const length = Number(headers['content-length']);
    if (length <= BUFFER_LIMIT) return;
    this.#stream = new Readable({
      read: () => controller.resume(),
      destroy: (error, done) => {
        // The client went away: stop the instance's answer too.
        if (!controller.aborted) controller.abort(error ?? new Error('The client went away'));
        done(error);
      },
    });
    this.#settle(undefined, { statusCode, headers, body: this.#stream });
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#stream !== undefined) {
      if (!this.#stream.push(chunk)) controller.pause();
      return;
    }
    this.#chunks.push(chunk);
    this.#length += chunk.length;
  }

  onResponseEnd(): void {
    if (this.#stream !== undefined) {
      this.#stream.push(null);
      return;
    }
    const chunks = this.#chunks;
    const body = chunks.length === 0 ? EMPTY : chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
    this.#settle(undefined, { statusCode: this.#statusCode, headers: this.#headers, body });
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    if (this.#stream !== undefined) this.#stream.destroy(error);
    else this.#settle(this.#started ? new BrokenAnswerError(error) : error);
  }
}

/** Sends `options` to `pool` and hands on the answer, or undici's error if none came. */
export function exchange(pool: Pool, options: Dispatcher.DispatchOptions, done: Done<UpstreamAnswer>): void {
  pool.dispatch(options, new Exchange(done));
}

/** Reads a streamed body whole, for an answer that must be kept (the edge cache). */
export async function readAll(body: Buffer | Readable): Promise<Buffer> {
  if (Buffer.isBuffer(body)) return body;
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
