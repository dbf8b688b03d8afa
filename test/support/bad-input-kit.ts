import { connect } from 'node:net';
import { expect } from 'vitest';
import { problemIssue, productCount, type World } from './bad-input.ts';
import { recordFigures } from './figures.ts';
import type { Account, HttpResponse, PageDto, ProductDto, RequestOptions } from './http-client.ts';

/** A request as a hand-written case sends it: who, where, and a raw body. */
export interface Attempt {
  readonly method: string;
  readonly path: string;
  readonly token?: string | undefined;
  readonly body?: string | Uint8Array;
  /** Default `application/json` when there is a body; `null` sends none. */
  readonly contentType?: string | null;
  readonly headers?: Record<string, string>;
}

/** Builds attempts by one caller: `by(token)('POST', '/orders', body)`. */
export const by =
  (token?: string) =>
  (method: string, path: string, body?: string | Uint8Array): Attempt => ({
    method,
    path,
    ...(token ? { token } : {}),
    ...(body !== undefined ? { body } : {}),
  });

/** What the hand-written cases of one suite share: sending, judging, counting, and watching for changes. */
export function createCaseKit(suite: string, world: () => World) {
  let tried = 0;

  /** Sends a bad request; counts it for the figures. */
  async function attempt(a: Attempt): Promise<HttpResponse> {
    tried += 1;
    const options: RequestOptions = {
      ...(a.token ? { token: a.token } : {}),
      ...(a.headers ? { headers: a.headers } : {}),
      ...(a.body !== undefined ? { rawBody: a.body } : {}),
      ...(a.body !== undefined && a.contentType !== null
        ? { contentType: a.contentType ?? 'application/json' }
        : {}),
    };
    return world().client.request(a.method, a.path, options);
  }

  /** Sends every attempt, ten at a time, and expects each refused with `status` (and `code`) as a problem. */
  async function expectRefused(attempts: Attempt[], status: number, code?: string): Promise<void> {
    for (let i = 0; i < attempts.length; i += 10) {
      const batch = attempts.slice(i, i + 10);
      const answers = await Promise.all(batch.map(attempt));
      const wrong = answers.flatMap((res, j) => {
        const issue =
          res.status !== status
            ? `status ${res.status}`
            : (problemIssue(res) ??
              (code && (res.body as { code?: string }).code !== code ? 'another code' : undefined));
        return issue ? [{ issue, sent: batch[j], answer: res.text.slice(0, 300) }] : [];
      });
      expect(wrong).toEqual([]);
    }
  }

  /** Publishes how many bad requests this test sent, once its assertions have passed. */
  function record(extra = 0): void {
    recordFigures(suite, { badInputs: { tried: tried + extra, errors5xx: 0 } });
    tried = 0;
  }

  /** What must not change while bad input is refused: the products, the watched product, a buyer's orders. */
  async function snapshot(buyer: Account) {
    const { client, product } = world();
    const watched = await client.request<ProductDto>('GET', `/products/${product.id}`);
    const orders = await client.request<PageDto<unknown>>('GET', '/orders?limit=100', { token: buyer.token });
    expect([watched.status, orders.status]).toEqual([200, 200]);
    const { name, price, stock, description } = watched.body;
    return {
      products: await productCount(client),
      product: { name, price, stock, description },
      orders: orders.body.items.length,
    };
  }

  return { attempt, expectRefused, record, snapshot };
}

/** How a slow connection ended. */
export interface SlowOutcome {
  /** What the server wrote before the connection closed. */
  readonly response: string;
  /** Whether the client got to send every byte. */
  readonly finished: boolean;
  /** False when the client gave up first: the server would have held the connection longer. */
  readonly closedByServer: boolean;
}

/**
 * A slow client on a raw TCP connection (node:net, so no client library buffers or retries): sends `head`
 * at once, then `drip` one byte every `intervalMs`, until the server closes the connection or
 * `giveUpMs` passes.
 */
export function dripFeed(
  baseUrl: string,
  head: string,
  drip: Buffer,
  { intervalMs, giveUpMs }: { intervalMs: number; giveUpMs: number },
): Promise<SlowOutcome> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port) });
    const chunks: Buffer[] = [];
    let sent = 0;
    let closedByServer = true;
    let timer: NodeJS.Timeout | undefined;
    const giveUp = setTimeout(() => {
      closedByServer = false;
      socket.destroy();
    }, giveUpMs);
    const next = () => {
      if (sent < drip.length && socket.writable) socket.write(drip.subarray(sent, ++sent));
      timer = setTimeout(next, intervalMs);
    };
    socket.on('connect', () => {
      if (head) socket.write(head);
      timer = setTimeout(next, intervalMs);
    });
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      clearTimeout(timer);
      clearTimeout(giveUp);
      const response = Buffer.concat(chunks).toString('utf8');
      resolve({ response, finished: sent === drip.length, closedByServer });
    });
  });
}
