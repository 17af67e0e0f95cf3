// Starts a private Cyrus IMAP 3.6 server for one test run, beside Dovecot: the Debian packages
// unpacked into test/.cache (cyrus-imapd cannot be installed next to dovecot-imapd), `master`
// with its own imapd.conf and cyrus.conf, config and spool in a throw-away directory, imapd on a
// free loopback port. Must never read /etc/imapd.conf or /etc/cyrus.conf, nor touch a Cyrus the
// machine may run itself.
//
// Authentication: `sasl_pwcheck_method: alwaystrue` accepts any password for any user, and
// `autocreate_quota: 0` creates a user's INBOX at first login, so no saslauthd and no admin step
// is needed. Acceptable only because the server listens on loopback and lives for one test run;
// a test of a refused password belongs behind Dovecot.
import { chmod, chown, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { connect as netConnect } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ensureUnpackedDebianPackages } from './install.ts';
import { freePort } from './ports.ts';
import { runCommand, spawnLogged, stopProcess, waitUntilReady } from './process.ts';
import { appendOverImap, loginOnce } from './imap-append.ts';
import type { MailServer, MailUser } from './mail-server.ts';

const host = '127.0.0.1';
const cyrusPackages = ['cyrus-imapd', 'cyrus-common'] as const;

/** Everything a test process needs to use the running Cyrus; plain data. */
export interface CyrusInfo {
  host: string;
  /** Plain IMAP (no TLS is configured). */
  port: number;
  dir: string;
  /** Cyrus' version string from its greeting, for the README's extension table. */
  greeting: string;
}

export interface CyrusClient extends CyrusInfo, MailServer {
  readonly kind: 'cyrus';
  readonly info: CyrusInfo;
}

export interface CyrusServer extends CyrusClient {
  stop(): Promise<void>;
}

/** Works from `info`; does not own (or stop) the server process. */
export function cyrusFromInfo(info: CyrusInfo): CyrusClient {
  const plainInfo: CyrusInfo = { ...info };
  const target = { host: info.host, port: info.port };
  // Any password logs in (alwaystrue); the harness still hands out one per user so tests read
  // the same against either server.
  const asUser = (user: string): MailUser => ({ user, password: 'any' });
  return {
    ...plainInfo,
    kind: 'cyrus',
    info: plainInfo,
    async addUser(name, password) {
      const user = name ?? `user-${randomBytes(6).toString('hex')}`;
      const secret = password ?? randomBytes(12).toString('base64url');
      if (!/^[A-Za-z0-9_-]+$/.test(user)) throw new Error(`user name not usable on the test Cyrus: ${JSON.stringify(user)}`);
      await loginOnce(target, { user, password: secret });
      return { user, password: secret };
    },
    appendMessages: (user, messages, mailbox = 'INBOX') => appendOverImap(target, asUser(user), mailbox, messages),
    deliver: (user, message, mailbox = 'INBOX') => appendOverImap(target, asUser(user), mailbox, [message]),
  };
}

interface ProcessUser {
  user: string;
  group: string;
  uid: number;
  gid: number;
}

async function chooseProcessUser(): Promise<ProcessUser> {
  if (process.getuid?.() !== 0) {
    const me = userInfo();
    const group = (await runCommand('id', ['-gn'])).stdout.trim();
    return { user: me.username, group, uid: me.uid, gid: me.gid };
  }
  // As root, master switches to `cyrus_user` before it starts anything. The Cyrus package would
  // create a "cyrus" user; we only unpack it, so take Debian's base "mail" user (uid 8), which
  // exists on every Debian system and owns nothing of ours.
  const uid = Number((await runCommand('id', ['-u', 'mail'])).stdout.trim());
  const gid = Number((await runCommand('id', ['-g', 'mail'])).stdout.trim());
  return { user: 'mail', group: 'mail', uid, gid };
}

/** The folder holding libcyrus*.so inside the unpacked tree (multiarch, so search for it). */
async function libraryDir(root: string): Promise<string> {
  const lib = join(root, 'usr', 'lib');
  for (const entry of await readdir(lib)) {
    const candidate = join(lib, entry);
    try {
      if ((await readdir(candidate)).some((file) => file.startsWith('libcyrus'))) return candidate;
    } catch {
      // a file, not a folder
    }
  }
  throw new Error(`no libcyrus*.so under ${lib}`);
}

function renderImapdConf(dir: string, user: ProcessUser): string {
  return `# Generated for one test run; see test/services/cyrus.ts.
configdirectory: ${dir}/config
partition-default: ${dir}/spool
cyrus_user: ${user.user}
cyrus_group: ${user.group}
servername: localhost
sasl_pwcheck_method: alwaystrue
sasl_mech_list: PLAIN LOGIN
allowplaintext: yes
autocreate_quota: 0
# Without it a DELETE then CREATE of one name within a second fails (deleted mailboxes are kept
# under a timestamped name).
delete_mode: immediate
# Spool folders by mailbox name. This Debian build makes mailbox ids with rand() (no libuuid), and
# every imapd child draws the same sequence, so two users whose INBOXes were created by different
# children got the same id and, under id-named spool folders, one mailbox (a differential oracle
# holding another account's mail).
mailbox_legacy_dirs: yes
unixhierarchysep: yes
altnamespace: yes
idlesocket: ${dir}/socket/idle
notifysocket: ${dir}/socket/notify
lmtpsocket: ${dir}/socket/lmtp
# IDLE learns of new mail from idled; should idled be slow, poll every second rather than 60.
imapidlepoll: 1
`;
}

function renderCyrusConf(dir: string, binDir: string, port: number): string {
  // Every cmd carries its own -C: master does not pass its -C to the children, which would
  // otherwise read /etc/imapd.conf. Absolute paths: this build ignores service_path.
  const conf = `${dir}/imapd.conf`;
  return `START {
  recover cmd="${binDir}/ctl_cyrusdb -C ${conf} -r"
}
SERVICES {
  imap cmd="${binDir}/imapd -C ${conf}" listen="${host}:${port}" prefork=2
}
EVENTS {
}
DAEMON {
  idled cmd="${binDir}/idled -C ${conf}"
}
`;
}

/** Connects and reads the first line; resolves to it when it is an "* OK" greeting. */
function greetingLine(port: number, timeoutMs = 3000): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = netConnect({ host, port });
    let received = '';
    const finish = (line: string | undefined): void => {
      socket.destroy();
      resolve(line);
    };
    socket.setTimeout(timeoutMs, () => finish(undefined));
    socket.once('error', () => finish(undefined));
    socket.once('close', () => finish(undefined));
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      const end = received.indexOf('\r\n');
      if (end >= 0) finish(received.startsWith('* OK') ? received.slice(0, end) : undefined);
    });
  });
}

export async function startCyrus(options: { startupTimeoutMs?: number } = {}): Promise<CyrusServer> {
  const { root } = await ensureUnpackedDebianPackages('cyrus', cyrusPackages);
  const dir = await mkdtemp(join(tmpdir(), 'inlay-cyrus-'));
  try {
    return await startInDir(root, dir, options);
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

async function startInDir(root: string, dir: string, options: { startupTimeoutMs?: number }): Promise<CyrusServer> {
  const user = await chooseProcessUser();
  const binDir = join(root, 'usr', 'lib', 'cyrus', 'bin');
  const port = await freePort(host);
  // mkdtemp makes the dir 0700; Cyrus runs as cyrus_user and must reach its files below it.
  await chmod(dir, 0o755);
  for (const sub of ['config', 'spool', 'socket']) {
    await mkdir(join(dir, sub));
    if (process.getuid?.() === 0) await chown(join(dir, sub), user.uid, user.gid);
  }
  await writeFile(join(dir, 'imapd.conf'), renderImapdConf(dir, user));
  await writeFile(join(dir, 'cyrus.conf'), renderCyrusConf(dir, binDir, port));

  const running = spawnLogged(
    join(binDir, 'master'),
    // -D: stay in the foreground, so stopping the child stops the server.
    ['-D', '-C', join(dir, 'imapd.conf'), '-M', join(dir, 'cyrus.conf'), '-p', join(dir, 'master.pid')],
    {
      outputFile: join(dir, 'master.out'),
      cwd: dir,
      // The unpacked libcyrus*.so are not where the dynamic linker looks; children inherit this.
      env: { ...process.env, LD_LIBRARY_PATH: await libraryDir(root) },
      scratchDir: dir,
    },
  );
  let greeting = '';
  await waitUntilReady(
    'Cyrus',
    running,
    async () => {
      greeting = (await greetingLine(port)) ?? '';
      return greeting !== '';
    },
    { timeoutMs: options.startupTimeoutMs ?? 30_000, intervalMs: 100 },
  );
  const info: CyrusInfo = { host, port, dir, greeting };
  return {
    ...cyrusFromInfo(info),
    async stop() {
      await stopProcess(running, 15_000);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
