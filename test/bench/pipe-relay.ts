/**
 * The reference relay of the per-command benchmark: a bare Node `pipe()` between each client and
 * the IMAP server, nothing parsed. It runs as its own process so its CPU is accounted apart from
 * the benchmark's; what the proxy costs above this is what parsing and the view cost.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';

const RELAY_SOURCE = `
const net = require('node:net');
const [host, port] = [process.env.UPSTREAM_HOST, Number(process.env.UPSTREAM_PORT)];
const server = net.createServer((client) => {
  const upstream = net.connect({ host, port });
  client.setNoDelay(true);
  upstream.setNoDelay(true);
  client.pipe(upstream).pipe(client);
  const close = () => { client.destroy(); upstream.destroy(); };
  client.on('error', close).on('close', close);
  upstream.on('error', close).on('close', close);
});
server.listen(0, '127.0.0.1', () => process.stdout.write(String(server.address().port) + '\\n'));
`;

export interface PipeRelay {
  readonly port: number;
  readonly pid: number;
  stop(): Promise<void>;
}

export async function startPipeRelay(upstreamHost: string, upstreamPort: number): Promise<PipeRelay> {
  const child: ChildProcess = spawn(process.execPath, ['-e', RELAY_SOURCE], {
    env: { ...process.env, UPSTREAM_HOST: upstreamHost, UPSTREAM_PORT: String(upstreamPort) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const [chunk] = (await once(child.stdout!, 'data')) as [Buffer];
  return {
    port: Number(chunk.toString().trim()),
    pid: child.pid!,
    async stop() {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    },
  };
}
