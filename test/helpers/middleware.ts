/**
 * Runs the built middleware (middleware/dist/main.js) as a child process, the way systemd would,
 * on a free port, and waits for its "listening" line.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseLogLines } from './node-process.ts';

export const MIDDLEWARE_MAIN = fileURLToPath(new URL('../../middleware/dist/main.js', import.meta.url));

export interface RunningMiddleware {
  readonly baseUrl: string;
  readonly pid: number;
  readonly listening: Record<string, unknown>;
  output(): string;
  stop(): Promise<number | null>;
}

/** Starts the middleware with these INLAY_* variables and waits for its "listening" line. */
export async function startMiddleware(env: Record<string, string>, startupTimeoutMs = 30_000): Promise<RunningMiddleware> {
  const child: ChildProcess = spawn(process.execPath, [MIDDLEWARE_MAIN], {
    env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', INLAY_HTTP_LISTEN: '127.0.0.1:0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (text: string) => (output += text));
  child.stderr!.setEncoding('utf8').on('data', (text: string) => (output += text));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const listening = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`middleware did not start within ${startupTimeoutMs} ms:\n${output}`)), startupTimeoutMs);
    child.stdout!.on('data', () => {
      const line = parseLogLines(output).find((entry) => entry['event'] === 'listening');
      if (line) {
        clearTimeout(timer);
        resolve(line);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`middleware exited with ${code} before listening:\n${output}`));
    });
  });
  return {
    baseUrl: `http://${String(listening['address'])}`,
    pid: child.pid!,
    listening,
    output: () => output,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}


