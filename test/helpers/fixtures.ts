/**
 * What most proxy tests need: the Dovecot the run started, a fresh user with some mail, and a
 * proxy in front of it configured through INLAY_* variables, exactly as an operator would.
 */
import { readFileSync } from 'node:fs';
import { inject } from 'vitest';
import { ImapFlow, type ImapFlowOptions } from 'imapflow';
import { dovecotFromInfo, type DovecotClient, type DovecotUser } from '../services/dovecot.ts';
import { startProxy, type RunningProxy } from './proxy.ts';
import type { MailServer } from '../services/mail-server.ts';

export function testDovecot(): DovecotClient {
  return dovecotFromInfo(inject('dovecot'));
}

/** A proxy whose upstream is the test Dovecot over plain IMAP, with the test certificate for clients. */
export function proxyInFrontOf(dovecot: DovecotClient, env: Record<string, string> = {}): Promise<RunningProxy> {
  return startProxy({
    env: {
      INLAY_UPSTREAM: `imap://${dovecot.host}:${dovecot.port}`,
      INLAY_TLS_CERT: dovecot.certFile,
      INLAY_TLS_KEY: dovecot.keyFile,
      ...env,
    },
  });
}

export function sampleMessage(index: number, extra = ''): string {
  return [
    `From: Sender ${index} <sender${index}@example.org>`,
    `To: user@example.org`,
    `Subject: Message number ${index}`,
    `Message-ID: <msg-${index}@example.org>`,
    `Date: Mon, 2 Nov 2026 10:${String(index % 60).padStart(2, '0')}:00 +0000`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    '',
    `Body of message ${index}.${extra}`,
    '',
  ].join('\r\n');
}

export async function userWithMail(dovecot: MailServer, count: number): Promise<DovecotUser> {
  const user = await dovecot.addUser();
  if (count > 0) await dovecot.appendMessages(user.user, Array.from({ length: count }, (_, i) => sampleMessage(i + 1)));
  return user;
}

export function imapflowThrough(port: number, user: DovecotUser, options: Partial<ImapFlowOptions> = {}): ImapFlow {
  return new ImapFlow({
    host: '127.0.0.1',
    port,
    secure: false,
    doSTARTTLS: false,
    auth: { user: user.user, pass: user.password },
    logger: false,
    ...options,
  });
}

export function caOf(dovecot: DovecotClient): string {
  return readFileSync(dovecot.caFile, 'utf8');
}
