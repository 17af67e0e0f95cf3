// Free TCP ports for test servers. Every server in the harness listens on a
// port chosen here so parallel runs (and a developer's own services) never
// collide; nothing in test/ may hard-code a port number.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/**
 * Ports are drawn below the kernel's ephemeral range: a server that binds its
 * port late (Cassandra opens its native port some 20 s after it starts) could
 * otherwise find it taken as the source port of some outgoing connection
 * meanwhile ("Address already in use", seen in a run). Below that range only an
 * explicit bind can take a port, and every port is checked free before use and
 * handed out once per process.
 */
const LOWEST = 10_000;
const handedOut = new Set<number>();

function ephemeralRangeStart(): number {
  try {
    const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    return low !== undefined && Number.isInteger(low) && low > LOWEST + 1000 ? low : 32_768;
  } catch {
    return 32_768; // Linux's default; other systems only make a late clash likelier
  }
}

function bindable(host: string, port: number): Promise<number | null> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(null));
    server.listen({ host, port, exclusive: true }, () => {
      const address = server.address();
      const bound = address !== null && typeof address !== 'string' ? address.port : null;
      server.close(() => resolve(bound));
    });
  });
}

/** A port on `host` that is free now and was not handed out before by this process. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const top = ephemeralRangeStart();
  for (let attempt = 0; attempt < 100; attempt++) {
    const candidate = LOWEST + Math.floor(Math.random() * (top - LOWEST));
    if (handedOut.has(candidate)) continue;
    handedOut.add(candidate); // reserved before the check: concurrent callers never share one
    if ((await bindable(host, candidate)) !== null) return candidate;
  }
  // Below the range is crowded: let the kernel choose (the old way), still once per process.
  for (;;) {
    const port = await bindable(host, 0);
    if (port === null) throw new Error(`could not find a free port on ${host}`);
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}
