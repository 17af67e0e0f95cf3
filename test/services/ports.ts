// Free TCP ports for test servers. Every server in the harness listens on a
// port chosen here so parallel runs (and a developer's own services) never
// collide; nothing in test/ may hard-code a port number.
import { createServer } from 'node:net';

/**
 * Asks the kernel for an unused port by listening on port 0, then releases it.
 * There is a short window in which another process could take the port; the
 * callers start their server right away, which has been good enough in practice.
 */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host, port: 0, exclusive: true }, () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error(`could not read the port the kernel chose on ${host}`));
        return;
      }
      server.close((closeError) => (closeError ? reject(closeError) : resolve(address.port)));
    });
  });
}
