import type { IncomingMessage } from 'node:http';

/** How long after an early answer the rest of a request body is read, and how much of it. */
export const LINGER = { ms: 5_000, bytes: 16 * 1024 * 1024 } as const;

/**
 * An answer given before the request body has all arrived (413, a body refused as it streams in) must
 * not be followed by closing the socket at once: the kernel resets a connection closed with unread
 * data, and a client still sending gets EPIPE or ECONNRESET instead of the answer. As nginx's lingering
 * close does, the rest of the body is read and dropped, for `LINGER.ms` and `LINGER.bytes` at most;
 * past either the connection is cut. A body that ends in time leaves the connection usable, since its
 * framing was never lost. Returns whether it lingers (false when the body had already arrived).
 */
export function lingerOnBody(req: IncomingMessage, limits: { ms: number; bytes: number } = LINGER): boolean {
  if (req.complete || req.destroyed) return false;
  let read = 0;
  const cut = () => {
    clearTimeout(timer);
    req.socket.destroy();
  };
  const timer = setTimeout(cut, limits.ms);
  timer.unref();
  const onData = (chunk: Buffer) => {
    read += chunk.length;
    if (read > limits.bytes) cut();
  };
  req.on('data', onData);
  req.once('close', () => {
    clearTimeout(timer);
    req.off('data', onData);
  });
  req.resume();
  return true;
}
