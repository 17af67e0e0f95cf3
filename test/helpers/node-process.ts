/**
 * Running one of our entry points (proxy/dist/main.js, middleware/dist/main.js) as a child
 * process the way systemd would, and reading its pino JSON output.
 */
import { spawn } from 'node:child_process';

/** Runs `main` to its exit (a configuration it must refuse); returns exit code and all output. */
export async function runUntilExit(main: string, env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, [main], { env: { PATH: process.env['PATH'] ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (text: string) => (output += text));
  child.stderr!.setEncoding('utf8').on('data', (text: string) => (output += text));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { code, output };
}

/** The JSON log lines in `text`; a line cut by a read boundary is skipped until it is whole. */
export function parseLogLines(text: string): Record<string, unknown>[] {
  const entries: Record<string, unknown>[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      entries.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // not whole yet
    }
  }
  return entries;
}
