/**
 * The message a user would receive for a campaign, as RFC 822 bytes: the user's variant, its
 * template (inline, or a JSON object {subject, from, html, text} in the tenant's data source),
 * rendered with the user's data, and composed by nodemailer's MailComposer — headers, encodings
 * and MIME structure are a library's job, never hand-written here.
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

export interface PreviewInput {
  readonly tenant: Tenant;
  readonly campaign: Campaign;
  /** The address the preview is for, as the caller gave it. */
  readonly address: string;
  readonly userKey: string;
  /** What the store knows of the user; undefined renders with the address alone. */
  readonly user: UserRecord | undefined;
  readonly dataDir: string;
  readonly now: Date;
}

export interface Preview {
  readonly variantId: string | null;
  readonly message: Buffer;
}

export async function composePreview(input: PreviewInput): Promise<Preview> {
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
  const composer = new MailComposer({
    from: rendered.from,
    to: user?.displayName ? { name: user.displayName, address: input.address } : input.address,
    subject: rendered.subject,
    text: rendered.text,
    html: rendered.html,
    date: input.now,
    // Stable per campaign, variant and user: the same message under the same id (RFC 5322 §3.6.4).
    // A digest of the user key: the key may be the address itself, which has its own "@".
    messageId: `<${campaign.id}.${chosen.variantId ?? 'main'}.${createHash('sha256').update(input.userKey).digest('hex').slice(0, 16)}@inlay.invalid>`,
  });
  const message = await new Promise<Buffer>((resolve, reject) => composer.compile().build((error, built) => (error ? reject(error) : resolve(built))));
  return { variantId: chosen.variantId, message };
}

/** A template object is JSON with the four Handlebars sources. */
async function fetchTemplate(input: PreviewInput, reference: { dataSourceId?: string; objectKey: string }): Promise<TemplateSources> {
  const source = templateSourceFor(input.tenant, { dataDir: input.dataDir, ...(reference.dataSourceId ? { dataSourceId: reference.dataSourceId } : {}) });
  const text = await source.get(reference.objectKey);
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
