/**
 * CPU time used by the servers a benchmark started, from /proc (Linux): what each one costs per
 * loop iteration, which is where a ratio on a shared machine goes. Every server is a child of
 * the benchmark process; a server's own children (Dovecot's imap processes) count towards it,
 * including those that have exited since (the kernel adds them to the parent's cutime).
 */
import { readFileSync, readdirSync } from 'node:fs';

const MS_PER_TICK = 10; // USER_HZ is 100 on Linux

interface Stat {
  readonly comm: string;
  readonly ppid: number;
  /** utime + stime + cutime + cstime, in clock ticks. */
  readonly ticks: number;
}

function readStat(pid: number): Stat | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which may itself contain spaces and parentheses.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    const [utime, stime, cutime, cstime] = [11, 12, 13, 14].map((index) => Number(fields[index]));
    return { comm: text.slice(text.indexOf('(') + 1, text.lastIndexOf(')')), ppid: Number(fields[1]), ticks: utime! + stime! + cutime! + cstime! };
  } catch {
    return null; // exited meanwhile
  }
}

function allStats(): Map<number, Stat> {
  const stats = new Map<number, Stat>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readStat(Number(name));
    if (stat !== null) stats.set(Number(name), stat);
  }
  return stats;
}

/** The pid of this process's child named `comm` (a server it started), if there is one. */
export function childNamed(comm: string): number | undefined {
  for (const [pid, stat] of allStats()) if (stat.ppid === process.pid && stat.comm === comm) return pid;
  return undefined;
}

/**
 * Milliseconds of CPU used so far by each of `roots` (pids of this process's children) and
 * everything below it. Sums over processes alive now plus what their exited children used.
 */
export function cpuMsOf(roots: Readonly<Record<string, number>>): Record<string, number> {
  const stats = allStats();
  const rootOf = (pid: number): number | undefined => {
    for (let current: number | undefined = pid, hops = 0; current !== undefined && hops < 64; hops++) {
      if (Object.values(roots).includes(current)) return current;
      current = stats.get(current)?.ppid;
    }
    return undefined;
  };
  const ticks = new Map<number, number>();
  for (const [pid, stat] of stats) {
    const root = rootOf(pid);
    if (root !== undefined) ticks.set(root, (ticks.get(root) ?? 0) + stat.ticks);
  }
  return Object.fromEntries(Object.entries(roots).map(([label, pid]) => [label, (ticks.get(pid) ?? 0) * MS_PER_TICK]));
}
