/**
 * The Inlay proxy in front of a Dovecot account, with the real middleware behind it, as the
 * subject of the differential harness (test/helpers/differential/). World events:
 * - new mail: an APPEND to the account by an admin session straight to Dovecot;
 * - a campaign starts: created and scheduled over REST; one helper login through the proxy
 *   (SELECT INBOX) makes the middleware assign it, and the view's rendering is returned so the
 *   oracle APPENDs exactly those bytes with that INTERNALDATE;
 * - a campaign ends: the REST "end" action; sessions see the EXPUNGE at their next safe point.
 */
import type { MailServer, MailUser } from '../services/mail-server.ts';
import { connectTo, DovecotAdmin } from './differential/dovecot-target.ts';
import type { CampaignSpec, DifferentialTarget } from './differential/target.ts';
import type { InjectionStack } from './injection-stack.ts';
import { RawImap } from './raw-imap.ts';

export interface ProxyTarget extends DifferentialTarget {
  close(): Promise<void>;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function imapDateTime(iso: string): string {
  const date = new Date(iso);
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${pad(date.getUTCDate())}-${MONTHS[date.getUTCMonth()]}-${date.getUTCFullYear()} ${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())} +0000`;
}

/** One login through the proxy that selects INBOX: the moment the proxy asks for assignments. */
async function selectThroughProxy(stack: InjectionStack, user: MailUser): Promise<void> {
  const raw = await RawImap.connect(stack.proxy.port);
  await raw.greeting();
  await raw.command('h1', `LOGIN "${user.user}" "${user.password}"`);
  await raw.command('h2', 'SELECT INBOX');
  await raw.command('h3', 'LOGOUT');
  raw.close();
}

export function proxyTarget(stack: InjectionStack, dovecot: Pick<MailServer, 'host' | 'port'>, user: MailUser): ProxyTarget {
  const admin = DovecotAdmin.open(dovecot.host, dovecot.port, user);
  admin.catch(() => {});
  const campaignIds = new Map<string, string>();
  return {
    name: 'inlay proxy',
    credentials: user,
    connect: () => connectTo('127.0.0.1', stack.proxy.port),
    async deliverMail(message) {
      await (await admin).append(message);
    },
    async startCampaign(campaign: CampaignSpec) {
      const subject = /^Subject: (.*)$/m.exec(campaign.message.bytes.toString('latin1'))?.[1] ?? campaign.id;
      const id = await stack.runCampaign(campaign.id, {
        template: { subject, from: 'Campaigns <campaigns@shop.example>', text: `${campaign.id}: ${campaign.message.summary}`, html: `<p>${campaign.id}</p>` },
      });
      campaignIds.set(campaign.id, id);
      await selectThroughProxy(stack, user);
      const view = await stack.internalView(user);
      const shown = view.messages.find((message) => message.campaignId === id);
      if (!shown) throw new Error(`campaign ${campaign.id} was not injected for ${user.user}: ${JSON.stringify(view).slice(0, 500)}`);
      return { bytes: Buffer.from(shown.rfc822, 'base64'), internalDate: imapDateTime(shown.internalDate) };
    },
    async endCampaign(campaign: CampaignSpec) {
      const id = campaignIds.get(campaign.id);
      if (id === undefined) throw new Error(`${campaign.id} never started`);
      await stack.endCampaign(id);
    },
    async close() {
      (await admin).close();
      // Campaigns are for every user of the tenant: later runs must not see this run's.
      for (const id of campaignIds.values()) await stack.endCampaign(id).catch(() => {});
    },
  };
}
