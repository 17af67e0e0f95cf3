/**
 * The workloads and the paired-rounds comparison the benchmarks share: a proxy against the direct
 * Dovecot in the same run, each round measuring both back to back (order alternating), reported
 * as the median of the per-round ratios.
 */
import { BenchClient } from './bench-client.ts';

export const CLIENTS = 10;
export const SECONDS = Number(process.env['INLAY_BENCH_SECONDS'] ?? 5);
export const ROUNDS = Number(process.env['INLAY_BENCH_ROUNDS'] ?? 5);

export interface Target {
  readonly name: 'direct' | 'proxy';
  readonly port: number;
}

export type User = { user: string; password: string };

export async function login(port: number, user: User): Promise<BenchClient> {
  const client = await BenchClient.open(port);
  await client.run('l', `LOGIN "${user.user}" "${user.password}"`);
  return client;
}

/** Runs `work` in CLIENTS parallel loops for SECONDS; returns completed iterations per second. */
export async function throughput(work: (worker: number) => Promise<void>): Promise<number> {
  const deadline = Date.now() + SECONDS * 1000;
  let done = 0;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async (_, worker) => {
      while (Date.now() < deadline) {
        await work(worker);
        done++;
      }
    }),
  );
  return done / ((Date.now() - started) / 1000);
}

export async function loginsPerSecond(target: Target, user: User): Promise<number> {
  return throughput(async () => {
    const client = await login(target.port, user);
    await client.logout();
  });
}

export async function mixedPerSecond(target: Target, users: readonly User[]): Promise<number> {
  const sessions = await Promise.all(users.map((user) => login(target.port, user)));
  const message = 'From: bench@example.org\r\nSubject: mixed loop\r\n\r\nA short message appended by the benchmark.\r\n';
  let tag = 0;
  try {
    return await throughput(async (worker) => {
      const client = sessions[worker]!;
      const t = (): string => `m${++tag}`;
      await client.run(t(), 'LIST "" "*"');
      await client.run(t(), 'SELECT INBOX');
      await client.run(t(), 'FETCH 1:20 (UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE)');
      await client.run(t(), 'STORE 1:5 +FLAGS (\\Seen)');
      await client.run(t(), 'STORE 1:5 -FLAGS (\\Seen)');
      const appended = await client.run(t(), `APPEND INBOX (\\Deleted) {${message.length}+}\r\n${message}`);
      const uid = /APPENDUID \d+ (\d+)/.exec(appended)?.[1];
      await client.run(t(), `UID EXPUNGE ${uid}`);
    });
  } finally {
    for (const session of sessions) session.close();
  }
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export async function compare(label: string, unit: string, targets: readonly Target[], measure: (target: Target) => Promise<number>): Promise<number> {
  const direct: number[] = [];
  const proxied: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    for (const target of round % 2 === 0 ? targets : [...targets].reverse()) (target.name === 'direct' ? direct : proxied).push(await measure(target));
  }
  const ratio = median(direct.map((value, round) => proxied[round]! / value));
  const spread = `${Math.min(...direct.map((value, round) => proxied[round]! / value)).toFixed(2)}–${Math.max(...direct.map((value, round) => proxied[round]! / value)).toFixed(2)}`;
  console.log(
    `${label.padEnd(26)} direct ${median(direct).toFixed(1).padStart(7)} ${unit.padEnd(5)} proxy ${median(proxied).toFixed(1).padStart(7)} ${unit.padEnd(5)} ratio ${ratio.toFixed(2)} (rounds ${spread})`,
  );
  return ratio;
}

