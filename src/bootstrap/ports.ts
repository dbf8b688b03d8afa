import { createServer } from 'node:net';

/**
 * Whether nothing listens on `port` of `host` right now. Asked before a process starts anything, so a
 * port already taken stops it before it migrates a database or creates (and prints the password of) the
 * first admin, which it would never show again.
 */
export function portIsFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((done) => {
    const server = createServer()
      .once('error', () => done(false))
      .listen(port, host, () => server.close(() => done(true)));
  });
}
