/**
 * Runs the built proxy (proxy/dist/main.js) as a child process, the way systemd would, on
 * free ports, and gives tests its addresses, its JSON log lines and its memory figures.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseLogLines, runUntilExit } from './node-process.ts';

const MAIN = fileURLToPath(new URL('../../proxy/dist/main.js', import.meta.url));

export interface RunningProxy {
  readonly host: string;
  readonly port: number;
  /** Implicit-TLS port when INLAY_PROXY_TLS_LISTEN was given. */
  readonly tlsPort: number | null;
  /** POP3 ports when INLAY_PROXY_POP3_LISTEN / INLAY_PROXY_POP3_TLS_LISTEN were given. */
  readonly pop3Port: number | null;
  readonly pop3TlsPort: number | null;
  readonly pid: number;
  readonly child: ChildProcess;
  /** Everything the proxy printed so far (stdout and stderr). */
  output(): string;
  /** Parsed JSON log lines. */
  logs(): Record<string, unknown>[];
  /** Resident and peak resident memory of the proxy process, in KiB. */
  memory(): Promise<{ rssKiB: number; peakKiB: number }>;
  /** Sends the signal and waits for the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface StartProxyOptions {
  /** INLAY_* variables; listen addresses default to 127.0.0.1:0. */
  readonly env: Record<string, string>;
  readonly nodeArgs?: readonly string[];
  readonly startupTimeoutMs?: number;
}

export async function startProxy(options: StartProxyOptions): Promise<RunningProxy> {
  const env: Record<string, string> = {
    PATH: process.env['PATH'] ?? '/usr/bin:/bin',
    INLAY_PROXY_LISTEN: '127.0.0.1:0',
    INLAY_LOG_LEVEL: 'debug',
    // Injection is on by default (the middleware of http.listen); a test asks for it by URL.
    INLAY_PROXY_ENGINE_URL: '',
    ...options.env,
  };
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), MAIN], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (text: string) => (output += text));
  child.stderr!.setEncoding('utf8').on('data', (text: string) => (output += text));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const listening = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`proxy did not start within ${options.startupTimeoutMs ?? 10_000} ms:\n${output}`)), options.startupTimeoutMs ?? 10_000);
    const check = (): void => {
      const line = parseLogLines(output).find((entry) => entry['event'] === 'listening');
      if (line) {
        clearTimeout(timer);
        resolve(line);
      }
    };
    child.stdout!.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`proxy exited with code ${code} before listening:\n${output}`));
    });
  });
  const [host, port] = splitAddress(String(listening['plain'] ?? ''));
  const tls = listening['tls'] ? splitAddress(String(listening['tls']))[1] : null;
  const pop3 = listening['pop3'] ? splitAddress(String(listening['pop3']))[1] : null;
  const pop3Tls = listening['pop3Tls'] ? splitAddress(String(listening['pop3Tls']))[1] : null;
  return {
    host,
    port,
    tlsPort: tls,
    pop3Port: pop3,
    pop3TlsPort: pop3Tls,
    pid: child.pid!,
    child,
    output: () => output,
    logs: () => parseLogLines(output),
    async memory() {
      const status = await readFile(`/proc/${child.pid}/status`, 'utf8');
      const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
      return { rssKiB: field('VmRSS'), peakKiB: field('VmHWM') };
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Starts a proxy expected to refuse its configuration; returns exit code and output. */
export function runProxyExpectingFailure(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return runUntilExit(MAIN, { INLAY_PROXY_ENGINE_URL: '', ...env });
}

function splitAddress(address: string): [string, number] {
  const colon = address.lastIndexOf(':');
  return [address.slice(0, colon).replace(/^\[|\]$/g, ''), Number(address.slice(colon + 1))];
}
