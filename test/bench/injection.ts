/**
 * Injection benchmark: the same mixed 10-client loop as the pass-through benchmark, through the
 * proxy with a campaign active for every user (the middleware process with its embedded store
 * behind it), against the direct Dovecot in the same run. Also the added latency of
 * LOGIN + SELECT INBOX, p50 and p99, direct and through the proxy.
 *
 * Run with `npm run bench:injection -w test`. Goal: mixed ratio ≥ 0.9.
 */
import { startDovecot, type DovecotServer } from '../services/dovecot.ts';
import { campaignMessage, startInjectionStack, type InjectionStack } from '../helpers/injection-stack.ts';
import { CLIENTS, ROUNDS, SECONDS, compare, login, mixedPerSecond, type Target, type User } from './bench-loops.ts';
import { childNamed, cpuMsOf } from './cpu-usage.ts';

const LATENCY_SAMPLES = Number(process.env['INLAY_BENCH_LATENCY_SAMPLES'] ?? 400);
/** INLAY_BENCH_TEMPLATE_KB=100 pads the campaign's HTML to about that size (default: a one-line message). */
const TEMPLATE_KB = Number(process.env['INLAY_BENCH_TEMPLATE_KB'] ?? 0);

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Milliseconds from connect to the tagged OK of SELECT INBOX, one client at a time. */
async function loginSelectLatencies(target: Target, users: readonly User[]): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < LATENCY_SAMPLES; i++) {
    const started = process.hrtime.bigint();
    const client = await login(target.port, users[i % users.length]!);
    await client.run('s', 'SELECT INBOX');
    samples.push(Number(process.hrtime.bigint() - started) / 1e6);
    client.close();
  }
  return samples;
}

async function main(): Promise<void> {
  let dovecot: DovecotServer | null = null;
  let stack: InjectionStack | null = null;
  try {
    dovecot = await startDovecot();
    // Production-like: views cached 5 s on the proxy node, tenants and campaigns 3 s on the
    // middleware (both defaults; the tests turn them off), info-level logs.
    stack = await startInjectionStack({ dovecot, viewCacheMs: 5000, campaignCacheMs: 3000, proxyEnv: { INLAY_LOG_LEVEL: 'info', INLAY_PROXY_LIMITS_MAX_CONNECTIONS_PER_ADDRESS: '5000' } });
    const padding = TEMPLATE_KB > 0 ? `<p>${'Our winter offer, in detail. '.repeat(Math.ceil((TEMPLATE_KB * 1024) / 29))}</p>` : '';
    await stack.runCampaign('Bench offer', padding ? { template: { ...campaignMessage('Bench offer'), html: `<p>Bench offer</p>${padding}` } } : {});
    const targets: Target[] = [
      { name: 'direct', port: dovecot.port },
      { name: 'proxy', port: stack.proxy.port },
    ];
    const users = await Promise.all(Array.from({ length: CLIENTS }, () => dovecot!.addUser()));
    const small = Array.from({ length: 100 }, (_, i) => `From: a${i}@example.org\r\nTo: b@example.org\r\nSubject: bench ${i}\r\nMessage-ID: <b${i}@example.org>\r\n\r\n${'Lorem ipsum dolor sit amet. '.repeat(40)}\r\n`);
    await Promise.all(users.map((user) => dovecot!.appendMessages(user.user, small)));
    // Every user's campaign message is injected once before timing (the first SELECT assigns it).
    for (const user of users) {
      const client = await login(stack.proxy.port, user);
      const selected = await client.run('s', 'SELECT INBOX', true);
      if (!selected.includes('* 101 EXISTS')) throw new Error(`the campaign was not injected for ${user.user}:\n${selected}`);
      client.close();
    }
    console.log(`Inlay injection benchmark: ${CLIENTS} clients, ${SECONDS} s per measurement, ${ROUNDS} paired rounds, a campaign active for every user${TEMPLATE_KB > 0 ? ` (HTML of about ${TEMPLATE_KB} KB)` : ''}\n`);
    // Where the CPU goes: on a shared machine the ratio is set by what each process costs per iteration.
    const servers = { Dovecot: childNamed('dovecot') ?? -1, proxy: stack.proxy.pid, middleware: stack.middleware.pid };
    const spent = { direct: { iterations: 0, ms: {} as Record<string, number> }, proxy: { iterations: 0, ms: {} as Record<string, number> } };
    const mixed = await compare('mixed loop (7 commands)', 'per s', targets, async (target) => {
      const before = cpuMsOf(servers);
      const rate = await mixedPerSecond(target, users);
      const after = cpuMsOf(servers);
      const totals = spent[target.name];
      totals.iterations += rate * SECONDS;
      for (const name of Object.keys(servers)) totals.ms[name] = (totals.ms[name] ?? 0) + after[name]! - before[name]!;
      return rate;
    });
    const perIteration = (name: 'direct' | 'proxy'): string =>
      Object.entries(spent[name].ms)
        .map(([server, ms]) => `${server} ${(ms / spent[name].iterations).toFixed(2)}`)
        .join(', ');
    console.log(`${'CPU ms per iteration'.padEnd(26)} direct: ${perIteration('direct')}; through Inlay: ${perIteration('proxy')}`);
    const direct = await loginSelectLatencies(targets[0]!, users);
    const proxied = await loginSelectLatencies(targets[1]!, users);
    const line = (name: string, samples: number[]): string => `p50 ${percentile(samples, 50).toFixed(2)} ms, p99 ${percentile(samples, 99).toFixed(2)} ms`;
    console.log(`${'LOGIN + SELECT INBOX'.padEnd(26)} direct ${line('direct', direct)}; proxy ${line('proxy', proxied)}`);
    console.log(`${'added latency'.padEnd(26)} p50 ${(percentile(proxied, 50) - percentile(direct, 50)).toFixed(2)} ms, p99 ${(percentile(proxied, 99) - percentile(direct, 99)).toFixed(2)} ms`);
    const engineCalls = stack.proxy.logs().filter((entry) => entry['code'] === 'INLAY_PROXY_ENGINE_UNAVAILABLE').length;
    console.log(`engine failures logged: ${engineCalls}`);
    console.log(`\ngoal: mixed >= 0.90 — ${mixed >= 0.9 ? 'met' : 'MISSED'}`);
  } finally {
    await stack?.stop();
    await dovecot?.stop();
  }
}

const watchdog = setInterval(() => {}, 60_000);
try {
  await main();
} finally {
  clearInterval(watchdog);
}
