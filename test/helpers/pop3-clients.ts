/**
 * Real POP3 clients for tests: Python's poplib (plain, STLS, implicit TLS) driven by a list of
 * operations, and fetchmail delivering to an MDA that appends to a file.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export type PoplibMode = 'plain' | 'stls' | 'ssl';

/**
 * Operations: "stat", "list", "uidl", "capa", "top:n:lines", "retr:n", "dele:n", "rset",
 * "noop"; QUIT is sent last unless `quit` is false. Each answer comes back in order: [count,
 * octets] for stat, the lines of multi-line answers, the status line of the others.
 */
const POPLIB_SCRIPT = `
import json, poplib, ssl, sys
mode, port, user, password, ca, ops, quit = sys.argv[1:8]
context = ssl.create_default_context(cafile=ca)
if mode == 'ssl':
    m = poplib.POP3_SSL('127.0.0.1', int(port), context=context, timeout=20)
else:
    m = poplib.POP3('127.0.0.1', int(port), timeout=20)
    if mode == 'stls':
        m.stls(context=context)
m.user(user)
m.pass_(password)
out = []
text = lambda lines: [line.decode('latin1') for line in lines]
for op in json.loads(ops):
    name, *args = op.split(':')
    try:
        if name == 'stat': out.append(list(m.stat()))
        elif name == 'list': out.append(text(m.list()[1]))
        elif name == 'uidl': out.append(text(m.uidl()[1]))
        elif name == 'capa': out.append(sorted(m.capa().keys()))
        elif name == 'top': out.append(text(m.top(int(args[0]), int(args[1]))[1]))
        elif name == 'retr': out.append(text(m.retr(int(args[0]))[1]))
        elif name == 'dele': out.append(m.dele(int(args[0])).decode('latin1'))
        elif name == 'rset': out.append(m.rset().decode('latin1'))
        elif name == 'noop': out.append(m.noop().decode('latin1'))
        else: raise SystemExit('unknown op ' + op)
    except poplib.error_proto as error:
        out.append('error: ' + error.args[0].decode('latin1'))
if quit == 'yes':
    out.append(m.quit().decode('latin1'))
print(json.dumps(out))
`;

export interface PoplibTarget {
  readonly port: number;
  readonly mode: PoplibMode;
  readonly caFile: string;
}

export async function poplib(target: PoplibTarget, user: { user: string; password: string }, ops: readonly string[], quit = true): Promise<unknown[]> {
  const { stdout } = await run('python3', ['-c', POPLIB_SCRIPT, target.mode, String(target.port), user.user, user.password, target.caFile, JSON.stringify(ops), quit ? 'yes' : 'no'], { timeout: 60_000 });
  return JSON.parse(stdout) as unknown[];
}

/**
 * Runs fetchmail once against `port` (plain POP3, no TLS negotiation) and returns what its MDA
 * received: every message appended to one file, and fetchmail's exit code (0: mail fetched,
 * 1: none there).
 */
export async function fetchmail(port: number, user: { user: string; password: string }, options: { keep: boolean }): Promise<{ code: number; delivered: string; output: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'inlay-fetchmail-'));
  try {
    const mailbox = join(dir, 'delivered');
    await writeFile(mailbox, '');
    const rc = join(dir, 'fetchmailrc');
    await writeFile(
      rc,
      [
        `set no syslog`,
        `poll 127.0.0.1 with proto POP3 and port ${port} and timeout 20`,
        `  user "${user.user}" there with password "${user.password}" is "${user.user}" here`,
        `  options fetchall ${options.keep ? 'keep' : 'nokeep'} sslproto ''`,
        `  mda "/bin/sh -c 'cat >> ${mailbox}'"`,
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    let code = 0;
    let output = '';
    try {
      const result = await run('fetchmail', ['--fetchmailrc', rc, '--pidfile', join(dir, 'pid'), '--nodetach', '-v'], { timeout: 60_000, env: { ...process.env, HOME: dir, FETCHMAILHOME: dir } });
      output = result.stdout + result.stderr;
    } catch (error) {
      const failed = error as { code?: number; stdout?: string; stderr?: string };
      code = typeof failed.code === 'number' ? failed.code : -1;
      output = `${failed.stdout ?? ''}${failed.stderr ?? ''}`;
    }
    return { code, delivered: await readFile(mailbox, 'utf8'), output };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
