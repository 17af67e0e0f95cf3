// A throw-away RabbitMQ (Debian's rabbitmq-server) for the AMQP delivery tests: its own node
// name, Erlang cookie (HOME), port mapper (ERL_EPMD_PORT), AMQP and distribution ports, data and
// log directories, no plugins (they are what makes a start slow), listening on loopback only.
// Ready when an AMQP client can connect. Stopped with SIGTERM; its port mapper is killed after.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { connect } from 'amqplib';
import { freePort } from './ports.ts';
import { runCommand, spawnLogged, startInTempDir, stopProcess, waitUntilReady } from './process.ts';

export const RABBITMQ_SERVER = '/usr/lib/rabbitmq/bin/rabbitmq-server';

export interface RabbitMqInfo {
  /** amqp://guest:guest@127.0.0.1:<port> */
  readonly url: string;
  readonly host: string;
  readonly port: number;
}

export interface RabbitMqServer {
  readonly info: RabbitMqInfo;
  stop(): Promise<void>;
}

export async function startRabbitMq(options: { startupTimeoutMs?: number } = {}): Promise<RabbitMqServer> {
  return startInTempDir('inlay-rabbitmq-', async (dir) => {
    const [port, distPort, epmdPort] = [await freePort(), await freePort(), await freePort()];
    const home = join(dir, 'home');
    await mkdir(home, { recursive: true });
    // The cookie is the node's secret for Erlang distribution; its own, in its own HOME.
    await writeFile(join(home, '.erlang.cookie'), randomBytes(20).toString('hex'), { mode: 0o400 });
    await writeFile(join(dir, 'enabled_plugins'), '[].\n');
    // `guest` may log in over loopback only, which is all the tests use.
    await writeFile(join(dir, 'rabbitmq.conf'), `listeners.tcp.default = 127.0.0.1:${port}\n`);
    const env: NodeJS.ProcessEnv = {
      PATH: process.env['PATH'] ?? '/usr/bin:/bin',
      HOME: home,
      RABBITMQ_NODENAME: `inlay${randomBytes(4).toString('hex')}@localhost`,
      RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
      RABBITMQ_NODE_PORT: String(port),
      RABBITMQ_DIST_PORT: String(distPort),
      ERL_EPMD_PORT: String(epmdPort),
      ERL_EPMD_ADDRESS: '127.0.0.1',
      RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'),
      RABBITMQ_LOG_BASE: join(dir, 'log'),
      RABBITMQ_LOGS: '-',
      RABBITMQ_CONFIG_FILE: join(dir, 'rabbitmq.conf'),
      RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'enabled_plugins'),
      RABBITMQ_PLUGINS_EXPAND_DIR: join(dir, 'plugins'),
    };
    const running = spawnLogged(RABBITMQ_SERVER, [], { outputFile: join(dir, 'rabbitmq.log'), cwd: dir, env, scratchDir: dir });
    const url = `amqp://guest:guest@127.0.0.1:${port}`;
    await waitUntilReady(
      'RabbitMQ',
      running,
      async () => {
        const model = await connect(url);
        await model.close();
        return true;
      },
      { timeoutMs: options.startupTimeoutMs ?? 120_000, intervalMs: 300 },
    );
    return {
      info: { url, host: '127.0.0.1', port },
      async stop() {
        await stopProcess(running, 20_000);
        await runCommand('epmd', ['-port', String(epmdPort), '-kill']).catch(() => undefined);
        await rm(dir, { recursive: true, force: true });
      },
    };
  });
}
