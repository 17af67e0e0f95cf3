// Puts mail into a test server through IMAP itself (LOGIN, CREATE, APPEND), for servers whose
// mail store the harness must not write behind their back (Cyrus keeps indexes and caches next to
// each message). Must never leave a connection open after it returns or fails.
import { connect, type Socket } from 'node:net';

const commandTimeoutMs = 15_000;

class TaggedSession {
  private received = '';
  private waiter: (() => void) | undefined;
  private closed = false;
  private nextTag = 1;

  constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.received += chunk.toString('latin1');
      this.waiter?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.waiter?.();
    });
    socket.on('error', () => undefined);
  }

  /** Waits until `done` finds what it needs in the text received so far, and consumes it. */
  private async until(done: (text: string) => number | undefined, what: string): Promise<string> {
    const deadline = Date.now() + commandTimeoutMs;
    for (;;) {
      const end = done(this.received);
      if (end !== undefined) {
        const taken = this.received.slice(0, end);
        this.received = this.received.slice(end);
        return taken;
      }
      if (this.closed) throw new Error(`server closed the connection while waiting for ${what}: ${this.received.slice(-300)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${what} within ${commandTimeoutMs} ms: ${this.received.slice(-300)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(timer);
          this.waiter = undefined;
          resolve();
        };
      });
    }
  }

  greeting(): Promise<string> {
    return this.until((text) => {
      const end = text.indexOf('\r\n');
      return end < 0 ? undefined : end + 2;
    }, 'greeting');
  }

  /** Sends one command (already containing any LITERAL+ literals) without waiting; returns its tag. */
  send(text: string | Buffer): string {
    const tag = `s${this.nextTag++}`;
    this.socket.write(Buffer.concat([Buffer.from(`${tag} `), Buffer.isBuffer(text) ? text : Buffer.from(text, 'latin1'), Buffer.from('\r\n')]));
    return tag;
  }

  command(text: string | Buffer): Promise<{ status: 'OK' | 'NO' | 'BAD'; line: string }> {
    return this.answer(this.send(text));
  }

  /** The tagged status line of `tag`; answers come in order, so wait for tags in the order sent. */
  async answer(tag: string): Promise<{ status: 'OK' | 'NO' | 'BAD'; line: string }> {
    const taggedLine = new RegExp(`(?:^|\\r\\n)(${tag} (OK|NO|BAD)[^\\r\\n]*)\\r\\n`);
    let found: RegExpExecArray | null = null;
    await this.until((received) => {
      found = taggedLine.exec(received);
      return found ? found.index + found[0].length : undefined;
    }, `answer to ${tag}`);
    const match = found as RegExpExecArray | null;
    return { status: (match?.[2] ?? 'BAD') as 'OK' | 'NO' | 'BAD', line: match?.[1] ?? '' };
  }

  close(): void {
    this.socket.destroy();
  }
}

function quoted(text: string): string {
  return `"${text.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}

/**
 * Logs in as `user` and appends `messages` to `mailbox`, creating it first when it is not INBOX.
 * Pipelined APPENDs with non-synchronising literals, so a batch costs one round trip.
 */
export async function appendOverImap(
  target: { host: string; port: number },
  login: { user: string; password: string },
  mailbox: string,
  messages: readonly (string | Buffer)[],
): Promise<void> {
  const socket = connect({ host: target.host, port: target.port });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('error', reject);
  });
  const session = new TaggedSession(socket);
  try {
    await session.greeting();
    const loggedIn = await session.command(`LOGIN ${quoted(login.user)} ${quoted(login.password)}`);
    if (loggedIn.status !== 'OK') throw new Error(`LOGIN ${login.user} failed: ${loggedIn.line}`);
    if (mailbox.toUpperCase() !== 'INBOX') {
      const created = await session.command(`CREATE ${quoted(mailbox)}`);
      if (created.status !== 'OK' && !/ALREADYEXISTS|already exists/i.test(created.line)) {
        throw new Error(`CREATE ${mailbox} failed: ${created.line}`);
      }
    }
    const tags = messages.map((message) => {
      const body = Buffer.isBuffer(message) ? message : Buffer.from(message, 'utf8');
      return session.send(Buffer.concat([Buffer.from(`APPEND ${quoted(mailbox)} {${body.length}+}\r\n`), body]));
    });
    for (const tag of tags) {
      const appended = await session.answer(tag);
      if (appended.status !== 'OK') throw new Error(`APPEND to ${mailbox} failed: ${appended.line}`);
    }
    await session.command('LOGOUT').catch(() => undefined);
  } finally {
    session.close();
  }
}

/** Logs in once, which makes a server that creates INBOX at first login (Cyrus here) create it. */
export async function loginOnce(target: { host: string; port: number }, login: { user: string; password: string }): Promise<void> {
  await appendOverImap(target, login, 'INBOX', []);
}
