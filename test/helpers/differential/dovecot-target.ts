/**
 * A Dovecot account as a differential target (the oracle, or both sides when the harness is
 * checked against itself), and the admin connection that applies world events to an account:
 * new mail is an APPEND carrying the message's own INTERNALDATE (so two accounts hold equal
 * messages), a campaign is an APPEND, and its end is a UID MOVE out of the INBOX by the admin
 * session — sessions then see a bare EXPUNGE, with no \Deleted flag change before it.
 *
 * A proxy test reuses DovecotAdmin to deliver real mail to the account behind the proxy.
 * Admin sessions are not checked or compared; they stand for the outside world.
 */
import { connect, type Socket } from 'node:net';
import type { MailServer, MailUser } from '../../services/mail-server.ts';
import { RawImap } from '../raw-imap.ts';
import { FLAGS } from './commands.ts';
import { generateMessage, type GeneratedMessage } from './messages.ts';
import { Random } from './random.ts';
import type { CampaignSpec, DifferentialTarget } from './target.ts';

/** Where ended campaigns go on an oracle; any mailbox but INBOX would do. */
const WITHDRAWN = 'Withdrawn';

export function connectTo(host: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    socket.once('connect', () => resolve(socket));
    socket.once('error', reject);
  });
}

function quote(text: string): string {
  return `"${text.replace(/[\\"]/g, '\\$&')}"`;
}

/** One logged-in connection that changes an account the way the outside world would. */
export class DovecotAdmin {
  private tags = 0;
  private haveWithdrawn = false;

  private constructor(private readonly raw: RawImap) {}

  static async open(host: string, port: number, user: MailUser): Promise<DovecotAdmin> {
    const raw = await RawImap.connect(port, { host });
    await raw.greeting();
    const admin = new DovecotAdmin(raw);
    await admin.run(`LOGIN ${quote(user.user)} ${quote(user.password)}`);
    return admin;
  }

  private async run(command: string | Buffer): Promise<string> {
    const tag = `adm${(this.tags += 1)}`;
    this.raw.write(Buffer.concat([Buffer.from(`${tag} `), Buffer.from(command), Buffer.from('\r\n')]));
    const answer = await this.raw.waitFor(new RegExp(`(^|\\n)${tag} (OK|NO|BAD)[^\\n]*\\n`), 30_000);
    if (!new RegExp(`(^|\\n)${tag} OK`).test(answer)) throw new Error(`admin command failed: ${String(command).slice(0, 200)} → ${answer.slice(-300)}`);
    return answer;
  }

  /** APPENDs to the INBOX with the message's INTERNALDATE; returns the new UID. */
  async append(message: GeneratedMessage, flags = ''): Promise<number> {
    const head = Buffer.from(`APPEND INBOX (${flags}) "${message.internalDate}" {${message.bytes.length}+}\r\n`);
    const answer = await this.run(Buffer.concat([head, message.bytes]));
    const uid = /\[APPENDUID \d+ (\d+)\]/.exec(answer)?.[1];
    if (uid === undefined) throw new Error(`no APPENDUID in ${answer}`);
    return Number(uid);
  }

  /** Takes a message out of the INBOX; a UID that is gone already is no error. */
  async moveOut(uid: number): Promise<void> {
    if (!this.haveWithdrawn) {
      await this.run(`CREATE ${WITHDRAWN}`).catch((error: Error) => {
        if (!/ALREADYEXISTS/.test(error.message)) throw error;
      });
      this.haveWithdrawn = true;
    }
    await this.run('SELECT INBOX');
    await this.run(`UID MOVE ${uid} ${WITHDRAWN}`);
    await this.run('UNSELECT');
  }

  close(): void {
    this.raw.close();
  }
}

export interface SeedMessage {
  readonly message: GeneratedMessage;
  readonly flags: string;
}

/** The same initial mail for every account of a run: `count` messages with a few flags set. */
export function seedMessages(seed: number, count: number): SeedMessage[] {
  const random = new Random(seed).fork('initial mail');
  return Array.from({ length: count }, (_, i) => ({
    message: generateMessage(random, `initial-${i + 1}`),
    flags: random.subset(FLAGS.filter((flag) => flag !== '\\Deleted'), 0.2).join(' '),
  }));
}

export async function seedInbox(dovecot: Pick<MailServer, 'host' | 'port'>, user: MailUser, messages: readonly SeedMessage[]): Promise<void> {
  const admin = await DovecotAdmin.open(dovecot.host, dovecot.port, user);
  try {
    for (const { message, flags } of messages) await admin.append(message, flags);
  } finally {
    admin.close();
  }
}

export interface DovecotTarget extends DifferentialTarget {
  readonly admin: Promise<DovecotAdmin>;
  close(): Promise<void>;
}

/**
 * An account of the test Dovecot as a target. `deliverFlags` lets a test make deliveries
 * differ from another target's on purpose.
 */
export function dovecotTarget(dovecot: Pick<MailServer, 'host' | 'port'>, user: MailUser, options: { name?: string; deliverFlags?: string } = {}): DovecotTarget {
  const admin = DovecotAdmin.open(dovecot.host, dovecot.port, user);
  // Failures surface where the admin is awaited; this only keeps Node from calling them unhandled.
  admin.catch(() => {});
  const campaignUids = new Map<string, number>();
  return {
    name: options.name ?? `dovecot ${user.user}`,
    credentials: user,
    admin,
    connect: () => connectTo(dovecot.host, dovecot.port),
    async deliverMail(message) {
      await (await admin).append(message, options.deliverFlags ?? '');
    },
    async startCampaign(campaign: CampaignSpec) {
      campaignUids.set(campaign.id, await (await admin).append(campaign.message));
    },
    async endCampaign(campaign: CampaignSpec) {
      const uid = campaignUids.get(campaign.id);
      if (uid === undefined) throw new Error(`${campaign.id} never started on ${user.user}`);
      await (await admin).moveOut(uid);
    },
    async close() {
      (await admin).close();
    },
  };
}
