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
 * One request to an instance over undici's `dispatch`, the layer its `request` is built on, without the
 * stream and body mixin `request` creates for every answer: a small answer's chunks are gathered into
 * one Buffer, a large one is handed on as a stream that pauses the socket when the client reads slowly.
 */
class Exchange implements Dispatcher.DispatchHandler {
  readonly #resolve: (answer: UpstreamAnswer) => void;
  readonly #reject: (error: Error) => void;
  #statusCode = 0;
  #headers: IncomingHttpHeaders = {};
  #chunks: Buffer[] = [];
  #length = 0;
  #started = false;
  #stream: Readable | undefined;

  constructor(resolve: (answer: UpstreamAnswer) => void, reject: (error: Error) => void) {
    this.#resolve = resolve;
    this.#reject = reject;
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
    this.#resolve({ statusCode, headers, body: this.#stream });
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
    this.#resolve({ statusCode: this.#statusCode, headers: this.#headers, body });
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    if (this.#stream !== undefined) this.#stream.destroy(error);
    else this.#reject(this.#started ? new BrokenAnswerError(error) : error);
  }
}

/** Sends `options` to `pool` and resolves with the answer; rejects with undici's error if none came. */
export function exchange(pool: Pool, options: Dispatcher.DispatchOptions): Promise<UpstreamAnswer> {
  return new Promise((resolve, reject) => {
    pool.dispatch(options, new Exchange(resolve, reject));
  });
}

/** Reads a streamed body whole, for an answer that must be kept (the edge cache). */
export async function readAll(body: Buffer | Readable): Promise<Buffer> {
  if (Buffer.isBuffer(body)) return body;
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
