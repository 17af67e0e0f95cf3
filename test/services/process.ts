// Child-process plumbing shared by the service launchers: spawn a server with
// its output in a file, wait for readiness, stop it, and show the tail of its
// output when it fails. Must never leave a server running after the test
// process exits, even when a teardown was skipped.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, rmSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface RunningProcess {
  readonly child: ChildProcess;
  /** stdout and stderr of the process, interleaved, for diagnostics. */
  readonly outputFile: string;
  /** Settles when the process has exited; never rejects. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  hasExited(): boolean;
}

// Servers still alive when Node exits get SIGTERM, and their throw-away
// directories are removed, so a crashed or interrupted run (a teardown that
// never ran) leaves neither processes nor data behind on a shared machine.
const liveChildren = new Map<ChildProcess, string | undefined>();
process.once('exit', () => {
  for (const [child, scratchDir] of liveChildren) {
    child.kill('SIGTERM');
    if (scratchDir !== undefined) {
      try {
        rmSync(scratchDir, { recursive: true, force: true });
      } catch {
        // best effort: the server may still be writing while it shuts down
      }
    }
  }
});

export function spawnLogged(
  command: string,
  args: readonly string[],
  options: {
    outputFile: string;
    cwd?: string;
    env?: NodeJS.ProcessEnv;
    /** Removed if Node exits while the process still runs. */
    scratchDir?: string;
  },
): RunningProcess {
  // Output goes straight to a file rather than through pipes: a chatty server
  // can never block on a full pipe, and the file survives for post-mortems.
  const fd = openSync(options.outputFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['ignore', fd, fd],
    });
  } finally {
    closeSync(fd);
  }
  let exitedFlag = false;
  liveChildren.set(child, options.scratchDir);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      exitedFlag = true;
      liveChildren.delete(child);
      resolve({ code, signal });
    });
    child.once('error', () => {
      exitedFlag = true;
      liveChildren.delete(child);
      resolve({ code: null, signal: null });
    });
  });
  return { child, outputFile: options.outputFile, exited, hasExited: () => exitedFlag };
}

/** SIGTERM, then SIGKILL if the process has not exited within graceMs. */
export async function stopProcess(running: RunningProcess, graceMs = 20_000): Promise<void> {
  if (running.hasExited()) return;
  running.child.kill('SIGTERM');
  const timer = sleep(graceMs).then(() => 'timeout' as const);
  if ((await Promise.race([running.exited, timer])) === 'timeout') {
    running.child.kill('SIGKILL');
    await running.exited;
  }
}

/** Last `lines` lines of a text file, or a note that it could not be read. */
export async function tailFile(file: string, lines = 40): Promise<string> {
  try {
    const text = await readFile(file, 'utf8');
    return text.trimEnd().split('\n').slice(-lines).join('\n');
  } catch (error) {
    return `(could not read ${file}: ${(error as Error).message})`;
  }
}

/**
 * Polls `probe` until it returns true. Stops early when the process exits, since waiting out
 * the full timeout then only hides the cause. On failure the process is stopped and the error
 * carries the end of its output (and of any `logFiles`), so the run says why, not just that.
 */
export async function waitUntilReady(
  what: string,
  running: RunningProcess,
  probe: () => Promise<boolean>,
  options: { timeoutMs: number; intervalMs?: number; logFiles?: readonly string[] },
): Promise<void> {
  try {
    await poll(what, running, probe, options.timeoutMs, options.intervalMs ?? 250);
  } catch (error) {
    await stopProcess(running, 5000);
    const tails = [`--- ${what} output ---\n${await tailFile(running.outputFile, 40)}`];
    for (const file of options.logFiles ?? []) tails.push(`--- ${file} ---\n${await tailFile(file, 30)}`);
    throw new Error(`${(error as Error).message}\n${tails.join('\n')}`);
  }
}

async function poll(what: string, running: RunningProcess, probe: () => Promise<boolean>, timeoutMs: number, intervalMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (running.hasExited()) {
      const { code, signal } = await running.exited;
      throw new Error(`${what} exited during startup (code ${code}, signal ${signal})`);
    }
    if (await probe().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${what} was not ready after ${timeoutMs} ms`);
    await sleep(intervalMs);
  }
}

/** Runs a command to completion, capturing output; rejects on a non-zero exit. */
export function runCommand(
  command: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('error', reject);
    child.once('close', (code, signal) => {
      if (code === 0) {
        resolve({ stdout, stderr });
        return;
      }
      const error = new Error(
        `${command} ${args.join(' ')} failed (code ${code}, signal ${signal})\n${lastLines(stdout + stderr, 30)}`,
      );
      Object.assign(error, { stdout, stderr, code });
      reject(error);
    });
  });
}

export function lastLines(text: string, count: number): string {
  return text.trimEnd().split('\n').slice(-count).join('\n');
}

/** Runs `start` in a fresh directory under the system temp dir, removing it if start fails. */
export async function startInTempDir<T>(prefix: string, start: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  try {
    return await start(dir);
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}
