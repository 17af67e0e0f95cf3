/**
 * The message a user receives for a campaign, as RFC 822 bytes: the user's variant, its template
 * (inline, or a JSON object {subject, from, html, text} in the tenant's data source), rendered
 * with the user's data, and composed by nodemailer's MailComposer — headers, encodings and MIME
 * structure are a library's job, never hand-written here. The one composition both the preview
 * route and the engine's assign use, so a preview is exactly what a user would get.
 *
 * Must never reveal the user's key when addresses are hashed (the To header carries the address
 * the caller gave), and never send anything: this only builds bytes.
 */
import { createHash } from 'node:crypto';
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import type { Campaign, Tenant } from '@inlay/schemas';
import { MiddlewareError } from '../errors.js';
import { renderTemplate, TEMPLATE_FIELDS, type TemplateSources } from '../templates/render.js';
import { templateSourceFor } from '../templates/template-source.js';
import type { UserRecord } from '../store/user-import-types.js';
import { chooseVariant } from './variants.js';
import { isInlineTemplate } from './template-check.js';

export interface ComposeInput {
  readonly tenant: Tenant;
  readonly campaign: Campaign;
  /** The address the preview is for, as the caller gave it. */
  readonly address: string;
  readonly userKey: string;
  /** What the store knows of the user; undefined renders with the address alone. */
  readonly user: UserRecord | undefined;
  readonly dataDir: string;
  /** When the message is made: its Date header for position "newest". */
  readonly now: Date;
  /** Which of the campaign's messages for this user it is (1: the first; later ones are
   *  reinjections and get Message-IDs of their own). Default 1. */
  readonly ordinal?: number;
}

export interface ComposedMessage {
  readonly variantId: string | null;
  readonly messageId: string;
  /** The Date header, and the INTERNALDATE a virtual message gets. */
  readonly date: Date;
  readonly message: Buffer;
}

/** When a campaign's message says it was received: now, or the campaign's fixed date. */
export function messageDate(campaign: Pick<Campaign, 'position'>, now: Date): Date {
  switch (campaign.position.type) {
    case 'newest':
      return now;
    case 'fixedDate':
      return new Date(campaign.position.date);
  }
}

export async function composeCampaignMessage(input: ComposeInput): Promise<ComposedMessage> {
  const { campaign, user } = input;
  const chosen = chooseVariant(campaign, input.userKey);
  const sources = isInlineTemplate(chosen.template) ? chosen.template : await fetchTemplate(input, chosen.template);
  const context = {
    ...user?.attributes,
    address: input.address,
    displayName: user?.displayName ?? '',
    attributes: user?.attributes ?? {},
    campaign: { id: campaign.id, name: campaign.name },
  };
  const rendered = renderTemplate(sources, context);
  const date = messageDate(campaign, input.now);
  // Stable per campaign, variant, user and ordinal: the same message under the same id (RFC 5322
  // §3.6.4), a reinjection under a new one. A digest of the user key: the key may be the address
  // itself, which has its own "@".
  const ordinal = input.ordinal ?? 1;
  const userDigest = createHash('sha256').update(input.userKey).digest('hex').slice(0, 16);
  const messageId = `<${campaign.id}.${chosen.variantId ?? 'main'}.${userDigest}${ordinal > 1 ? `.${ordinal}` : ''}@inlay.invalid>`;
  const mail = {
    from: rendered.from,
    to: user?.displayName ? { name: user.displayName, address: input.address } : input.address,
    subject: rendered.subject,
    text: rendered.text,
    html: rendered.html,
    date,
    messageId,
    // MIME boundaries from the Message-ID, not random: the same user gets the same bytes from
    // the preview and from the engine (only a "newest" Date differs), so an operator can check
    // a preview against what a client fetched.
    // (MailComposer reads baseBoundary; @types/nodemailer does not declare it.)
    baseBoundary: createHash('sha256').update(messageId).digest('hex').slice(0, 16),
  };
  const composer = new MailComposer(mail);
  const message = await new Promise<Buffer>((resolve, reject) => composer.compile().build((error, built) => (error ? reject(error) : resolve(built))));
  return { variantId: chosen.variantId, messageId, date, message };
}

/** A template object is JSON with the four Handlebars sources. */
async function fetchTemplate(input: ComposeInput, reference: { dataSourceId?: string; objectKey: string }): Promise<TemplateSources> {
  const source = templateSourceFor(input.tenant, { dataDir: input.dataDir, ...(reference.dataSourceId ? { dataSourceId: reference.dataSourceId } : {}) });
  let text: string;
  try {
    text = await source.get(reference.objectKey);
  } finally {
    // An S3 source holds sockets; one source per fetch, so it is closed right after.
    source.close();
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw invalidObject(reference.objectKey, 'it is not JSON');
  }
  const object = parsed as Record<string, unknown>;
  for (const field of TEMPLATE_FIELDS) {
    if (typeof object?.[field] !== 'string') throw invalidObject(reference.objectKey, `"${field}" must be a string`);
  }
  return object as unknown as TemplateSources;
}

function invalidObject(key: string, reason: string): MiddlewareError {
  return new MiddlewareError('INLAY_MW_TEMPLATE_RENDER', `template object "${key}" must be JSON {"subject","from","html","text"} of Handlebars sources: ${reason}`);
}
