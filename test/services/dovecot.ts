// Starts a private Dovecot IMAP server for one test run: its own config, base
// and state dirs, log file, users and Maildirs, all under a throw-away
// directory, listening on 127.0.0.1 at free ports (plain+STARTTLS and
// implicit TLS). Must never read /etc/dovecot or touch the machine's own
// Dovecot instance.
import { appendFile, chmod, chown, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './ports.ts';
import { makeTestCertificates } from './tls.ts';
import { renderDovecotConfig } from './dovecot-config.ts';
import { appendToMaildir, deliverToMaildir, ensureMailbox, type MailOwner } from './maildir.ts';
import { runCommand, spawnLogged, stopProcess, waitUntilReady, type RunningProcess } from './process.ts';

const dovecotBinary = '/usr/sbin/dovecot';
const host = '127.0.0.1';

/** Everything a test process needs to use a running Dovecot; plain data. */
export interface DovecotInfo {
  host: string;
  /** Plain IMAP; STARTTLS is offered. */
  port: number;
  /** Implicit TLS (IMAPS). */
  tlsPort: number;
  /** Plain POP3; STLS is offered. */
  pop3Port: number;
  /** Implicit TLS (POP3S). */
  pop3TlsPort: number;
  caFile: string;
  certFile: string;
  keyFile: string;
  dir: string;
  logFile: string;
  passwdFile: string;
  mailRoot: string;
  /** Owner for files written into Maildirs; null when not running as root. */
  mailOwner: MailOwner | null;
}

export interface DovecotUser {
  user: string;
  password: string;
}

export interface DovecotClient extends DovecotInfo {
  readonly kind: 'dovecot';
  readonly info: DovecotInfo;
  addUser(name?: string, password?: string): Promise<DovecotUser>;
  appendMessages(user: string, messages: readonly (string | Buffer)[], mailbox?: string): Promise<void>;
  deliver(user: string, message: string | Buffer, mailbox?: string): Promise<void>;
  readLog(): Promise<string>;
}

export interface DovecotServer extends DovecotClient {
  /** Stops the server process and removes its directory. */
  stop(): Promise<void>;
  /** Fault tests: stops the server — the master and every process it started, as systemd's
   *  `restart` does (SIGTERM: sessions get Dovecot's own BYE) or as a crash of the host would
   *  (SIGKILL: connections just end) — keeping its directory, users and mail. */
  halt(signal?: 'SIGTERM' | 'SIGKILL'): Promise<void>;
  /** Starts the halted server again on the same ports, users and mail; resolves once both
   *  ports greet. */
  resume(): Promise<void>;
}

export interface StartDovecotOptions {
  startupTimeoutMs?: number;
}

// A ':' or a line break would corrupt the passwd-file's line format.
const passwdFieldUnsafe = /[:\r\n]/;

/** Works from the paths in `info`; does not own (or stop) the server process. */
export function dovecotFromInfo(info: DovecotInfo): DovecotClient {
  const plainInfo: DovecotInfo = { ...info };
  return {
    ...plainInfo,
    kind: 'dovecot',
    info: plainInfo,
    async addUser(name, password) {
      const user = name ?? `user-${randomBytes(6).toString('hex')}`;
      const secret = password ?? randomBytes(12).toString('base64url');
      if (passwdFieldUnsafe.test(user) || passwdFieldUnsafe.test(secret) || user === '') {
        throw new Error(`user name or password not usable in a passwd-file: ${JSON.stringify(user)}`);
      }
      // One short O_APPEND write per user, so callers in parallel test
      // workers cannot interleave lines. uid/gid/home come from dovecot.conf.
      await appendFile(info.passwdFile, `${user}:{PLAIN}${secret}::::::\n`);
      // Dovecot's auth process looks at the passwd-file at most once per
      // wall-clock second (it skips the stat when its last check was in the
      // same second), so a user appended just after a check stays unknown
      // until the next second. Waiting for that second to begin makes the
      // user usable at once; parallel addUser calls share the wait.
      await sleep(1000 - (Date.now() % 1000) + 20);
      return { user, password: secret };
    },
    async appendMessages(user, messages, mailbox = 'INBOX') {
      const boxDir = await ensureMailbox(info.mailRoot, user, mailbox, info.mailOwner);
      await appendToMaildir(boxDir, messages, info.mailOwner);
    },
    async deliver(user, message, mailbox = 'INBOX') {
      const boxDir = await ensureMailbox(info.mailRoot, user, mailbox, info.mailOwner);
      await deliverToMaildir(boxDir, message, info.mailOwner);
    },
    readLog: () => readFile(info.logFile, 'utf8'),
  };
}

interface ProcessUsers {
  mail: MailOwner;
  internalUser: string;
  internalGroup: string;
  loginUser: string;
}

async function idOf(user: string): Promise<MailOwner> {
  const uid = Number((await runCommand('id', ['-u', user])).stdout.trim());
  const gid = Number((await runCommand('id', ['-g', user])).stdout.trim());
  return { uid, gid };
}

async function chooseProcessUsers(): Promise<ProcessUsers> {
  if (process.getuid?.() !== 0) {
    // Unprivileged: Dovecot cannot switch users, so every process is us.
    const me = userInfo();
    const group = (await runCommand('id', ['-gn'])).stdout.trim();
    return { mail: { uid: me.uid, gid: me.gid }, internalUser: me.username, internalGroup: group, loginUser: me.username };
  }
  // As root, Dovecot refuses to run mail processes as uid 0. The Debian
  // package creates "dovecot" (internal) and "dovenull" (login); mail runs as
  // "dovecot" too, which is harmless for a throw-away test server.
  try {
    const mail = await idOf('dovecot');
    await idOf('dovenull');
    return { mail, internalUser: 'dovecot', internalGroup: 'dovecot', loginUser: 'dovenull' };
  } catch {
    throw new Error('users "dovecot" and "dovenull" are missing; reinstall the dovecot-core package');
  }
}

/** Connects and waits for the greeting: IMAP's untagged "* OK", or POP3's "+OK". */
function answersGreeting(openSocket: () => Socket, timeoutMs = 3000, expected = '* OK'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = openSocket();
    let received = '';
    const finish = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => finish(false));
    socket.once('error', () => finish(false));
    // While a login process is (re)starting, the master may close the
    // connection without a word; without this the probe would hang.
    socket.once('close', () => finish(false));
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      if (received.includes('\r\n')) finish(received.startsWith(expected));
    });
  });
}

/** Pids of every live process below `root` (children that outlived their parent included). */
async function descendantsOf(root: number): Promise<number[]> {
  const parentOf = new Map<number, number>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // Field 4 of /proc/<pid>/stat, after the parenthesised command name (which may hold spaces).
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      parentOf.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // gone meanwhile
    }
  }
  const found: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const parent = queue.shift()!;
    for (const [pid, ppid] of parentOf) {
      if (ppid !== parent || found.includes(pid)) continue;
      found.push(pid);
      queue.push(pid);
    }
  }
  return found;
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/**
 * Dovecot's master leaves the imap processes of open sessions running when it is stopped alone
 * (they go on serving their clients), so the whole tree is signalled at once, as systemd's
 * KillMode=control-group does; what is left after the grace period gets SIGKILL.
 */
async function stopTree(running: RunningProcess, signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
  if (running.hasExited() || running.child.pid === undefined) return;
  const tree = [running.child.pid, ...(await descendantsOf(running.child.pid))];
  for (const pid of tree) {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
  await stopProcess(running, 15_000);
  const deadline = Date.now() + 10_000;
  while (tree.some(alive) && Date.now() < deadline) await sleep(50);
  for (const pid of tree.filter(alive)) process.kill(pid, 'SIGKILL');
}

export async function startDovecot(options: StartDovecotOptions = {}): Promise<DovecotServer> {
  const dir = await mkdtemp(join(tmpdir(), 'inlay-dovecot-'));
  try {
    return await startInDir(dir, options);
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

async function startInDir(dir: string, options: StartDovecotOptions): Promise<DovecotServer> {
  const users = await chooseProcessUsers();
  const asRoot = process.getuid?.() === 0;
  // mkdtemp makes the dir 0700; the unprivileged mail and auth processes must
  // be able to reach the Maildirs and the passwd-file below it.
  await chmod(dir, 0o755);
  const certificates = await makeTestCertificates(join(dir, 'tls'));
  const [port, tlsPort, pop3Port, pop3TlsPort] = await Promise.all([freePort(host), freePort(host), freePort(host), freePort(host)]);
  const logFile = join(dir, 'dovecot.log');
  const passwdFile = join(dir, 'passwd');
  const mailRoot = join(dir, 'mail');
  const configFile = join(dir, 'dovecot.conf');

  // Test passwords only: the auth process (not root) must read this file.
  await writeFile(passwdFile, '', { mode: 0o644 });
  await mkdir(mailRoot);
  if (asRoot) await chown(mailRoot, users.mail.uid, users.mail.gid);
  await writeFile(
    configFile,
    renderDovecotConfig({
      dir, logFile, passwdFile, mailRoot,
      certFile: certificates.certFile, keyFile: certificates.keyFile,
      imapPort: port, imapsPort: tlsPort, pop3Port, pop3sPort: pop3TlsPort,
      ...users,
      // Dovecot lists instances in state_dir; a unique name keeps `doveadm`
      // on the machine from confusing ours with the system one.
      instanceName: `inlay-test-${randomBytes(4).toString('hex')}`,
      chrootLogin: asRoot,
    }),
  );

  const info: DovecotInfo = {
    host, port, tlsPort, pop3Port, pop3TlsPort, dir, logFile, passwdFile, mailRoot,
    caFile: certificates.caFile, certFile: certificates.certFile, keyFile: certificates.keyFile,
    mailOwner: asRoot ? users.mail : null,
  };
  const launch = async (): Promise<RunningProcess> => {
    const started = spawnLogged(dovecotBinary, ['-F', '-c', configFile], {
      outputFile: join(dir, 'dovecot.stdout'),
      scratchDir: dir,
    });
    await waitUntilReady(
      'Dovecot',
      started,
      async () =>
        (await answersGreeting(() => netConnect({ host, port }))) &&
        (await answersGreeting(() =>
          tlsConnect({ host, port: tlsPort, ca: certificates.ca, servername: 'localhost' }),
        )) &&
        (await answersGreeting(() => netConnect({ host, port: pop3Port }), 3000, '+OK')),
      { timeoutMs: options.startupTimeoutMs ?? 30_000, logFiles: [logFile] },
    );
    return started;
  };
  let running = await launch();

  return {
    ...dovecotFromInfo(info),
    async stop() {
      await stopTree(running, 'SIGTERM');
      await rm(dir, { recursive: true, force: true });
    },
    async halt(signal = 'SIGTERM') {
      await stopTree(running, signal);
    },
    async resume() {
      if (!running.hasExited()) throw new Error('Dovecot is still running; halt() it first');
      running = await launch();
    },
  };
}
