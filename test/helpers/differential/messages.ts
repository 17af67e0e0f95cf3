/**
 * Seeded mail for the differential harness: messages shaped like real inbox traffic — plain
 * text, text+HTML alternatives (what campaigns look like), attachments, a forwarded
 * message/rfc822, long bodies for partial fetches, folded and encoded headers — so that
 * ENVELOPE, BODYSTRUCTURE, sections and SEARCH keys all have something to bite on.
 *
 * The vocabulary is exported so generated SEARCH criteria hit some messages and miss others.
 * Everything is CRLF and deterministic for a given Random; nothing here talks to a server.
 */
import type { Random } from './random.ts';

export interface GeneratedMessage {
  /** What is stored: the exact RFC 5322 bytes. */
  readonly bytes: Buffer;
  /** IMAP date-time for APPEND, e.g. "05-Feb-2026 09:13:00 +0000". */
  readonly internalDate: string;
  /** For logs: shape and subject. */
  readonly summary: string;
}

/** Words that appear in subjects and bodies; SEARCH criteria draw from the same list. */
export const SEARCH_WORDS = ['invoice', 'offer', 'meeting', 'report', 'quarterly', 'alpha', 'beta', 'gamma', 'delta', 'omega', 'welcome', 'upgrade'];
/** Senders' local parts and recipients; SEARCH FROM/TO/CC draw from these. */
export const PEOPLE = ['alice', 'bob', 'carol', 'dave', 'erin', 'news'];
export const DOMAINS = ['example.org', 'example.net', 'shop.example'];
/** Values of the X-Campaign header that campaign-like messages carry. */
export const CAMPAIGN_TAGS = ['spring', 'summer', 'loyalty'];

const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
/** Internal dates fall in this window (UTC), so SEARCH BEFORE/SINCE can split the mailbox. */
export const DATE_WINDOW = { from: Date.UTC(2025, 9, 1), to: Date.UTC(2026, 2, 31) };

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

export function imapDate(time: number): string {
  const date = new Date(time);
  return `${pad(date.getUTCDate())}-${months[date.getUTCMonth()]}-${date.getUTCFullYear()}`;
}

export function imapDateTime(time: number): string {
  const date = new Date(time);
  return `${imapDate(time)} ${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())} +0000`;
}

function rfc5322Date(time: number, zoneMinutes: number): string {
  const local = new Date(time + zoneMinutes * 60_000);
  const sign = zoneMinutes < 0 ? '-' : '+';
  const zone = `${sign}${pad(Math.floor(Math.abs(zoneMinutes) / 60))}${pad(Math.abs(zoneMinutes) % 60)}`;
  return `${days[local.getUTCDay()]}, ${local.getUTCDate()} ${months[local.getUTCMonth()]} ${local.getUTCFullYear()} ${pad(local.getUTCHours())}:${pad(local.getUTCMinutes())}:${pad(local.getUTCSeconds())} ${zone}`;
}

function address(random: Random, withName: boolean): string {
  const person = random.pick(PEOPLE);
  const email = `${person}@${random.pick(DOMAINS)}`;
  if (!withName) return email;
  const name = random.chance(0.2) ? `=?utf-8?B?${Buffer.from(`${person} Müller`).toString('base64')}?=` : `${person[0]!.toUpperCase()}${person.slice(1)} Example`;
  return `${name} <${email}>`;
}

function sentence(random: Random, words: number): string {
  const filler = ['the', 'a', 'for', 'your', 'new', 'see', 'attached', 'please', 'thanks', 'today', 'from', 'team'];
  return Array.from({ length: words }, () => (random.chance(0.3) ? random.pick(SEARCH_WORDS) : random.pick(filler))).join(' ');
}

function paragraph(random: Random, lines: number): string {
  return Array.from({ length: lines }, () => sentence(random, random.int(3, 12))).join('\r\n');
}

type Shape = 'plain' | 'alternative' | 'attachment' | 'forward' | 'long';

function body(random: Random, shape: Shape, boundary: string): { headers: string[]; text: string } {
  switch (shape) {
    case 'plain':
      return { headers: ['Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: 7bit'], text: `${paragraph(random, random.int(1, 8))}\r\n` };
    case 'long':
      return { headers: ['Content-Type: text/plain; charset=us-ascii'], text: `${paragraph(random, random.int(80, 200))}\r\n` };
    case 'alternative': {
      const text = paragraph(random, random.int(2, 6));
      const html = `<html><body><p>${text.replace(/\r\n/g, '</p>\r\n<p>')}</p><p>Gr=C3=BC=C3=9Fe</p></body></html>`;
      return {
        headers: [`Content-Type: multipart/alternative; boundary="${boundary}"`],
        text: [
          'This is a multi-part message in MIME format.', '', `--${boundary}`, 'Content-Type: text/plain; charset=utf-8', '', text, '',
          `--${boundary}`, 'Content-Type: text/html; charset=utf-8', 'Content-Transfer-Encoding: quoted-printable', '', html, '', `--${boundary}--`, '',
        ].join('\r\n'),
      };
    }
    case 'attachment': {
      const attachment = Buffer.from(Array.from({ length: random.int(30, 900) }, () => random.int(0, 255))).toString('base64').replace(/.{76}/g, '$&\r\n');
      const name = `${random.pick(SEARCH_WORDS)}-${random.int(1, 99)}.pdf`;
      return {
        headers: [`Content-Type: multipart/mixed; boundary="${boundary}"`],
        text: [
          `--${boundary}`, 'Content-Type: text/plain; charset=utf-8', '', paragraph(random, random.int(1, 4)), '',
          `--${boundary}`, `Content-Type: application/pdf; name="${name}"`, `Content-Disposition: attachment; filename="${name}"`,
          'Content-Transfer-Encoding: base64', '', attachment, `--${boundary}--`, '',
        ].join('\r\n'),
      };
    }
    case 'forward': {
      const inner = [`From: ${address(random, true)}`, `To: ${address(random, false)}`, `Subject: ${sentence(random, 3)}`, 'Date: Tue, 3 Feb 2026 08:00:00 +0000', '', paragraph(random, 2), ''].join('\r\n');
      return {
        headers: [`Content-Type: multipart/mixed; boundary="${boundary}"`],
        text: [`--${boundary}`, 'Content-Type: text/plain', '', 'Forwarding this.', '', `--${boundary}`, 'Content-Type: message/rfc822', '', inner, `--${boundary}--`, ''].join('\r\n'),
      };
    }
  }
}

/** One message; `label` goes into Message-ID so every generated message is distinct. */
export function generateMessage(random: Random, label: string, options: { campaign?: boolean } = {}): GeneratedMessage {
  const shape: Shape = options.campaign ? 'alternative' : random.weighted([[4, 'plain'], [3, 'alternative'], [2, 'attachment'], [1, 'forward'], [1, 'long']] as const);
  const time = random.int(DATE_WINDOW.from / 1000, DATE_WINDOW.to / 1000) * 1000;
  const subjectWords = sentence(random, random.int(2, 7));
  const subject = random.chance(0.15) ? `=?utf-8?Q?${subjectWords.replace(/ /g, '_')}_=C3=A9t=C3=A9?=` : subjectWords;
  const headers = [
    `From: ${options.campaign ? `Offers <news@${random.pick(DOMAINS)}>` : address(random, random.chance(0.8))}`,
    `To: ${Array.from({ length: random.int(1, 3) }, () => address(random, random.chance(0.5))).join(',\r\n ')}`,
    ...(random.chance(0.3) ? [`Cc: ${address(random, true)}`] : []),
    ...(random.chance(0.1) ? [`Reply-To: ${address(random, false)}`] : []),
    // A long subject gets folded, as real mailers do.
    subject.length > 40 ? `Subject: ${subject.slice(0, 30)}\r\n ${subject.slice(30)}` : `Subject: ${subject}`,
    ...(random.chance(0.9) ? [`Date: ${rfc5322Date(time - random.int(0, 3600) * 1000, random.pick([0, 60, -300, 330]))}`] : []),
    `Message-ID: <${label}.${random.int(1000, 9999)}@${random.pick(DOMAINS)}>`,
    ...(random.chance(0.2) ? [`In-Reply-To: <earlier.${random.int(1, 99)}@example.org>`] : []),
    ...(options.campaign || random.chance(0.1) ? [`X-Campaign: ${random.pick(CAMPAIGN_TAGS)}`] : []),
    'MIME-Version: 1.0',
  ];
  const content = body(random, shape, `b-${label}-${random.int(0, 1e6)}`);
  const bytes = Buffer.from([...headers, ...content.headers, '', content.text].join('\r\n'));
  return { bytes, internalDate: imapDateTime(time), summary: `${shape} "${subjectWords}" (${bytes.length} bytes)` };
}
