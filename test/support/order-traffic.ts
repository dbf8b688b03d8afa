import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from './http-client.ts';

/** Who places the orders and what they buy; tokens outlive restarts (the secret is fixed). */
export interface Shoppers {
  readonly token: string;
  readonly adminToken: string;
  readonly productId: string;
}

/**
 * Orders of every kind, two requests at a time (a crash fails at most two in flight, fewer than the
 * gateway's ejection threshold): confirmed ones, declined ones, and confirmed ones cancelled (a refund)
 * or shipped afterwards. Remembers every order a client saw acknowledged.
 */
export function createOrderTraffic(client: () => Client, shoppers: Shoppers) {
  const acknowledged: string[] = [];
  const confirmed: string[] = [];
  let turn = 0;

  /** The status of an answer, or 0 when the connection failed. */
  async function send(path: string, token: string, body?: unknown): Promise<{ status: number; id?: string }> {
    try {
      const res = await client().request<{ id?: string }>('POST', path, {
        token,
        ...(body === undefined ? {} : { body }),
      });
      return { status: res.status, ...(res.body?.id ? { id: res.body.id } : {}) };
    } catch {
      return { status: 0 };
    }
  }

  async function place(paymentMethod: string): Promise<number> {
    const res = await send('/orders', shoppers.token, {
      items: [{ product_id: shoppers.productId, quantity: 1 }],
      payment_method: paymentMethod,
    });
    if (res.status === 201 && res.id) {
      acknowledged.push(res.id);
      confirmed.push(res.id);
    }
    return res.status;
  }

  async function settle(action: 'cancel' | 'ship'): Promise<number> {
    const id = confirmed.shift();
    if (!id) return place('pm_card_visa');
    return (await send(`/orders/${id}/${action}`, action === 'ship' ? shoppers.adminToken : shoppers.token))
      .status;
  }

  const seconds = [
    () => place('pm_card_chargeDeclined'),
    () => settle('cancel'),
    () => place('pm_card_visa'),
    () => settle('ship'),
  ];

  return {
    acknowledged,
    /** Two requests at once; true if the shop answered either without a 5xx. */
    async round(): Promise<boolean> {
      const second = seconds[turn++ % seconds.length]!;
      const statuses = await Promise.all([place('pm_card_visa'), second()]);
      return statuses.some((s) => s > 0 && s < 500);
    },
    /**
     * Runs rounds while `alive()` holds, at most `timeoutMs`; pauses while the shop does not answer.
     * Starts with a read that must succeed: a gateway waits for its next health check to route to a
     * restarted process, and a success clears the failures it counted against it, so that one crash
     * (two failed requests) never reaches its ejection threshold (three).
     */
    async until(alive: () => boolean, timeoutMs: number): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      while (alive() && Date.now() < deadline) {
        const read = await client()
          .request('GET', '/orders?limit=1', { token: shoppers.token })
          .catch(() => undefined);
        if (read?.status === 200) break;
        await sleep(100);
      }
      while (alive() && Date.now() < deadline) {
        if (!(await this.round())) await sleep(100);
      }
    },
  };
}
