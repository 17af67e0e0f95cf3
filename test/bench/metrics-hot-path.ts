/**
 * What the proxy's per-command instrumentation costs, in CPU per command from /proc/self/stat,
 * beside two references measured in the same run: peekTagAndName on the same line (work the relay
 * does for every command anyway) and a prom-client Counter.inc with two labels (what counting
 * commands the obvious way would cost). Run: npm run bench:metrics (built proxy required).
 * On a machine shared with other work the absolute figures move; the ratios are what to read.
 */
import { readFileSync } from 'node:fs';
import { Counter, Registry } from 'prom-client';
import { CommandCounts, UpstreamCommandTimer } from '../../proxy/dist/ops/command-counts.js';
import { peekTagAndName } from '../../proxy/dist/imap-syntax.js';

const ROUNDS = 5_000_000;
const NS_PER_TICK = 10_000_000; // USER_HZ is 100 on Linux

function cpuTicks(): number {
  const text = readFileSync('/proc/self/stat', 'utf8');
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

function measure(name: string, work: (round: number) => void): number {
  for (let round = 0; round < 100_000; round++) work(round); // warm up the JIT
  const before = cpuTicks();
  for (let round = 0; round < ROUNDS; round++) work(round);
  const nsPerOp = ((cpuTicks() - before) * NS_PER_TICK) / ROUNDS;
  console.log(`${name.padEnd(58)} ${nsPerOp.toFixed(1).padStart(8)} ns CPU per command`);
  return nsPerOp;
}

const line = Buffer.from('a123 UID FETCH 1:* (FLAGS)\r\n');
const completion = Buffer.from('a123 OK UID FETCH completed\r\n');
const names = ['FETCH', 'UID', 'NOOP', 'IDLE', 'STORE', 'XYZZY'];
const counts = new CommandCounts();
const timer = new UpstreamCommandTimer(() => undefined);
const counter = new Counter({ name: 'bench_commands_total', help: 'bench', labelNames: ['command', 'path'], registers: [new Registry()] });

const reference = measure('reference: peekTagAndName on the command line', () => {
  peekTagAndName(line);
});
const ours = measure('inlay: CommandCounts.count + timer start + completion check', (round) => {
  counts.count(names[round % names.length]!, 'byte_copy');
  timer.started('a123', 'UID');
  timer.serverLine(completion);
});
const naive = measure('reference: prom-client Counter.inc({command, path})', (round) => {
  counter.inc({ command: names[round % names.length]!, path: 'byte_copy' });
});
console.log(`inlay instrumentation / peekTagAndName: ${(ours / reference).toFixed(2)}; prom-client inc / inlay: ${(naive / ours).toFixed(1)}`);
