/**
 * CPU per IMAP command, by command, for every process on the path, measured in one run:
 *   direct   the client talks to Dovecot
 *   pipe     through a bare Node pipe() relay (the reference: what relaying bytes costs at all)
 *   proxy    through Inlay with no campaign side (pass-through, byte copy with framing)
 *   inlay    through Inlay with a campaign live for every user (proxy + middleware)
 * Each command runs in CLIENTS parallel sessions for SECONDS per target; CPU comes from /proc
 * (utime + stime of each process and its children), so the figure holds on a shared machine
 * where wall-clock ratios swing. Ratios are against the pipe relay measured in the same run.
 *
 * Run with `npm run bench:commands`. Goals: pass-through ≤ 1.5× the pipe relay, a campaign live
 * for every user ≤ 2.5× (proxy + middleware), over the whole mix.
 */
import { startDovecot, type DovecotServer } from '../services/dovecot.ts';
import { startInjectionStack, type InjectionStack } from '../helpers/injection-stack.ts';
import { startProxy, type RunningProxy } from '../helpers/proxy.ts';
import { BenchClient } from './bench-client.ts';
import { CLIENTS, SECONDS, login, type User } from './bench-loops.ts';
import { childNamed, cpuMsOf } from './cpu-usage.ts';
import { startPipeRelay, type PipeRelay } from './pipe-relay.ts';

type TargetName = 'direct' | 'pipe' | 'proxy' | 'inlay';

interface Target {
  readonly name: TargetName;
  readonly port: number;
  /** The relay's processes, whose CPU is the cost of this path (none for direct). */
  readonly relay: readonly string[];
}

interface Workload {
  readonly name: string;
  /** IMAP commands one iteration sends (LOGIN + LOGOUT count as two). */
  readonly commands: number;
  /** Sessions are logged in and have INBOX selected, unless the workload opens its own. */
  readonly ownSessions?: boolean;
  run(client: BenchClient, tag: () => string, user: User, port: number): Promise<void>;
}

const APPENDED = 'From: bench@example.org\r\nSubject: per-command\r\n\r\nA short message appended by the benchmark.\r\n';

const WORKLOADS: readonly Workload[] = [
  {
    name: 'LOGIN + LOGOUT',
    commands: 2,
    ownSessions: true,
    async run(_client, _tag, user, port) {
      const session = await login(port, user);
      await session.logout();
    },
  },
  { name: 'NOOP', commands: 1, run: (c, t) => c.run(t(), 'NOOP').then(() => undefined) },
  { name: 'LIST "" "*"', commands: 1, run: (c, t) => c.run(t(), 'LIST "" "*"').then(() => undefined) },
  { name: 'SELECT INBOX', commands: 1, run: (c, t) => c.run(t(), 'SELECT INBOX').then(() => undefined) },
  { name: 'STATUS INBOX', commands: 1, run: (c, t) => c.run(t(), 'STATUS INBOX (MESSAGES UIDNEXT UNSEEN)').then(() => undefined) },
  { name: 'FETCH 1:20 (FLAGS ENVELOPE…)', commands: 1, run: (c, t) => c.run(t(), 'FETCH 1:20 (UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE)').then(() => undefined) },
  { name: 'FETCH n BODY.PEEK[]', commands: 1, run: (c, t) => c.run(t(), 'FETCH 7 BODY.PEEK[]').then(() => undefined) },
  { name: 'UID FETCH 1:* (FLAGS)', commands: 1, run: (c, t) => c.run(t(), 'UID FETCH 1:* (FLAGS)').then(() => undefined) },
  { name: 'UID SEARCH', commands: 1, run: (c, t) => c.run(t(), 'UID SEARCH UNSEEN SUBJECT bench').then(() => undefined) },
  {
    name: 'STORE ±FLAGS',
    commands: 2,
    async run(c, t) {
      await c.run(t(), 'STORE 1:5 +FLAGS (\\Seen)');
      await c.run(t(), 'STORE 1:5 -FLAGS (\\Seen)');
    },
  },
  {
    name: 'APPEND + UID EXPUNGE',
    commands: 2,
    async run(c, t) {
      const appended = await c.run(t(), `APPEND INBOX (\\Deleted) {${APPENDED.length}+}\r\n${APPENDED}`);
      const uid = /APPENDUID \d+ (\d+)/.exec(appended)?.[1];
      await c.run(t(), `UID EXPUNGE ${uid}`);
    },
  },
];

interface Measurement {
  readonly commands: number;
  /** CPU ms per process label over the measurement. */
  readonly ms: Record<string, number>;
}

async function measure(workload: Workload, target: Target, users: readonly User[], processes: Record<string, number>): Promise<Measurement> {
  const sessions = workload.ownSessions
    ? []
    : await Promise.all(
        users.map(async (user) => {
          const client = await login(target.port, user);
          await client.run('s', 'SELECT INBOX');
          return client;
        }),
      );
  let tag = 0;
  const next = (): string => `c${++tag}`;
  let iterations = 0;
  const before = cpuMsOf(processes);
  const deadline = Date.now() + SECONDS * 1000;
  await Promise.all(
    users.map(async (user, worker) => {
      while (Date.now() < deadline) {
        await workload.run(sessions[worker]!, next, user, target.port);
        iterations++;
      }
    }),
  );
  const after = cpuMsOf(processes);
  for (const session of sessions) session.close();
  return { commands: iterations * workload.commands, ms: Object.fromEntries(Object.keys(processes).map((label) => [label, after[label]! - before[label]!])) };
}

const micros = (ms: number, commands: number): number => (ms * 1000) / Math.max(1, commands);

function relayMicros(target: Target, measurement: Measurement): number {
  return micros(
    target.relay.reduce((sum, label) => sum + measurement.ms[label]!, 0),
    measurement.commands,
  );
}

async function main(): Promise<void> {
  let dovecot: DovecotServer | null = null;
  let pipe: PipeRelay | null = null;
  let proxy: RunningProxy | null = null;
  let stack: InjectionStack | null = null;
  try {
    dovecot = await startDovecot();
    pipe = await startPipeRelay('127.0.0.1', dovecot.port);
    proxy = await startProxy({ env: { INLAY_UPSTREAM: `imap://127.0.0.1:${dovecot.port}`, INLAY_LOG_LEVEL: 'info', INLAY_PROXY_LIMITS_MAX_CONNECTIONS_PER_ADDRESS: '5000' } });
    // Production-like caches (views 5 s on the proxy node, campaigns 3 s on the middleware).
    stack = await startInjectionStack({ dovecot, viewCacheMs: 5000, campaignCacheMs: 3000, proxyEnv: { INLAY_LOG_LEVEL: 'info', INLAY_PROXY_LIMITS_MAX_CONNECTIONS_PER_ADDRESS: '5000' } });
    await stack.runCampaign('Per-command offer');

    const users = await Promise.all(Array.from({ length: CLIENTS }, () => dovecot!.addUser()));
    const small = Array.from({ length: 100 }, (_, i) => `From: a${i}@example.org\r\nTo: b@example.org\r\nSubject: bench ${i}\r\nMessage-ID: <b${i}@example.org>\r\n\r\n${'Lorem ipsum dolor sit amet. '.repeat(40)}\r\n`);
    await Promise.all(users.map((user) => dovecot!.appendMessages(user.user, small)));
    for (const user of users) {
      const client = await login(stack.proxy.port, user);
      const selected = await client.run('s', 'SELECT INBOX', true);
      if (!selected.includes('* 101 EXISTS')) throw new Error(`the campaign was not injected for ${user.user}:\n${selected}`);
      client.close();
    }

    const processes = { dovecot: childNamed('dovecot') ?? -1, pipe: pipe.pid, proxy: proxy.pid, inlayProxy: stack.proxy.pid, middleware: stack.middleware.pid };
    const targets: readonly Target[] = [
      { name: 'direct', port: dovecot.port, relay: [] },
      { name: 'pipe', port: pipe.port, relay: ['pipe'] },
      { name: 'proxy', port: proxy.port, relay: ['proxy'] },
      { name: 'inlay', port: stack.proxy.port, relay: ['inlayProxy', 'middleware'] },
    ];
    console.log(`Inlay CPU per IMAP command: ${CLIENTS} clients, ${SECONDS} s per command and path; µs of CPU per command from /proc\n`);
    const header = `${'command'.padEnd(30)} ${'Dovecot'.padStart(8)} ${'pipe()'.padStart(8)} ${'proxy'.padStart(8)} ${'×pipe'.padStart(6)} ${'inlay'.padStart(8)} ${'(mw)'.padStart(7)} ${'×pipe'.padStart(6)}`;
    console.log(header);
    console.log('-'.repeat(header.length));
    const totals: Record<TargetName, { commands: number; relayMs: number; dovecotMs: number }> = {
      direct: { commands: 0, relayMs: 0, dovecotMs: 0 },
      pipe: { commands: 0, relayMs: 0, dovecotMs: 0 },
      proxy: { commands: 0, relayMs: 0, dovecotMs: 0 },
      inlay: { commands: 0, relayMs: 0, dovecotMs: 0 },
    };
    for (const workload of WORKLOADS) {
      const row = {} as Record<TargetName, Measurement>;
      // Alternate the order so that no path always runs on a warmer (or busier) machine.
      const ordered = WORKLOADS.indexOf(workload) % 2 === 0 ? targets : [...targets].reverse();
      for (const target of ordered) row[target.name] = await measure(workload, target, users, processes);
      for (const target of targets) {
        const measurement = row[target.name];
        totals[target.name].commands += measurement.commands;
        totals[target.name].relayMs += target.relay.reduce((sum, label) => sum + measurement.ms[label]!, 0);
        totals[target.name].dovecotMs += measurement.ms['dovecot']!;
      }
      const pipeUs = relayMicros(targets[1]!, row.pipe);
      const proxyUs = relayMicros(targets[2]!, row.proxy);
      const inlayUs = relayMicros(targets[3]!, row.inlay);
      console.log(
        `${workload.name.padEnd(30)} ${micros(row.direct.ms['dovecot']!, row.direct.commands).toFixed(0).padStart(8)} ${pipeUs.toFixed(0).padStart(8)} ${proxyUs.toFixed(0).padStart(8)} ${(proxyUs / pipeUs).toFixed(2).padStart(6)} ${inlayUs.toFixed(0).padStart(8)} ${micros(row.inlay.ms['middleware']!, row.inlay.commands).toFixed(0).padStart(7)} ${(inlayUs / pipeUs).toFixed(2).padStart(6)}`,
      );
    }
    const overall = (name: TargetName): number => micros(totals[name].relayMs, totals[name].commands);
    const passThrough = overall('proxy') / overall('pipe');
    const injected = overall('inlay') / overall('pipe');
    console.log('-'.repeat(header.length));
    console.log(
      `${'all commands'.padEnd(30)} ${micros(totals.direct.dovecotMs, totals.direct.commands).toFixed(0).padStart(8)} ${overall('pipe').toFixed(0).padStart(8)} ${overall('proxy').toFixed(0).padStart(8)} ${passThrough.toFixed(2).padStart(6)} ${overall('inlay').toFixed(0).padStart(8)} ${''.padStart(7)} ${injected.toFixed(2).padStart(6)}`,
    );
    console.log(`\nDovecot µs per command through each path: direct ${micros(totals.direct.dovecotMs, totals.direct.commands).toFixed(0)}, pipe ${micros(totals.pipe.dovecotMs, totals.pipe.commands).toFixed(0)}, proxy ${micros(totals.proxy.dovecotMs, totals.proxy.commands).toFixed(0)}, inlay ${micros(totals.inlay.dovecotMs, totals.inlay.commands).toFixed(0)}`);
    console.log(`goals: pass-through ≤ 1.50× pipe — ${passThrough <= 1.5 ? 'met' : 'MISSED'} (${passThrough.toFixed(2)}); campaign live ≤ 2.50× pipe — ${injected <= 2.5 ? 'met' : 'MISSED'} (${injected.toFixed(2)})`);
  } finally {
    await stack?.stop();
    await proxy?.stop();
    await pipe?.stop();
    await dovecot?.stop();
  }
}

// An unanswered command would otherwise end the process silently once every socket is idle.
const watchdog = setInterval(() => {}, 60_000);
try {
  await main();
} finally {
  clearInterval(watchdog);
}
