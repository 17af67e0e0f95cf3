/**
 * POP3 login cost through the proxy (npm run bench:pop3 -w test, after npm run build): sessions
 * of USER, PASS, STAT, UIDL, QUIT by Python's poplib against Dovecot's POP3 directly (the
 * reference) and through the proxy with a campaign running (one extra IMAP login and STATUS per
 * session for the view key, and an engine view read). Prints wall time per session for both, and
 * CPU per session of the proxy, the middleware and Dovecot, measured in the same run from /proc.
 * On a shared machine the ratios mean more than the absolute figures.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { startDovecot } from '../services/dovecot.ts';
import { startInjectionStack } from '../helpers/injection-stack.ts';
import { userWithMail } from '../helpers/fixtures.ts';
import { childNamed, cpuMsOf } from './cpu-usage.ts';

const SESSIONS = Number(process.env['INLAY_BENCH_POP3_SESSIONS'] ?? 100);

const SCRIPT = `
import poplib, sys, time
port, user, password, n = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
began = time.time()
for i in range(n):
    m = poplib.POP3('127.0.0.1', port); m.user(user); m.pass_(password); m.stat(); m.uidl(); m.quit()
print((time.time() - began) / n * 1000)
`;

const dovecot = await startDovecot();
const stack = await startInjectionStack({
  dovecot,
  viewCacheMs: 5000,
  proxyEnv: { INLAY_PROXY_POP3_LISTEN: '127.0.0.1:0', INLAY_PROXY_POP3_UPSTREAM: `pop3://127.0.0.1:${dovecot.pop3Port}` },
});
try {
  await stack.runCampaign('Bench');
  const user = await userWithMail(dovecot, 20);
  const sessions = (port: number, n: number): number => Number(execFileSync('python3', ['-c', SCRIPT, String(port), user.user, user.password, String(n)]).toString().trim());
  const roots = { proxy: stack.proxy.pid, middleware: stack.middleware.pid, dovecot: childNamed('dovecot') ?? 0 };
  sessions(stack.proxy.pop3Port!, 3); // the campaign is assigned at the first login

  const beforeDirect = cpuMsOf(roots);
  const directMs = sessions(dovecot.pop3Port, SESSIONS);
  const afterDirect = cpuMsOf(roots);
  const proxiedMs = sessions(stack.proxy.pop3Port!, SESSIONS);
  const afterProxied = cpuMsOf(roots);
  const perSession = (from: Record<string, number>, to: Record<string, number>): Record<string, string> =>
    Object.fromEntries(Object.keys(roots).map((name) => [name, ((to[name]! - from[name]!) / SESSIONS).toFixed(2)]));
  console.log(
    JSON.stringify(
      {
        sessions: SESSIONS,
        wallMsPerSession: { direct: directMs.toFixed(1), throughProxy: proxiedMs.toFixed(1) },
        cpuMsPerSession: { direct: perSession(beforeDirect, afterDirect), throughProxy: perSession(afterDirect, afterProxied) },
        loadAverage: readFileSync('/proc/loadavg', 'utf8').trim(),
      },
      null,
      2,
    ),
  );
} finally {
  await stack.stop();
  await dovecot.stop();
}
