// What a test needs from the IMAP server behind the proxy, whichever server it is (Dovecot or
// Cyrus), so one test can run behind both. Plain structural types: each server's client module
// satisfies them without importing this file's callers.

export interface MailUser {
  user: string;
  password: string;
}

export type MailServerKind = 'dovecot' | 'cyrus';

export interface MailServer {
  readonly kind: MailServerKind;
  host: string;
  /** Plain IMAP on loopback. */
  port: number;
  addUser(name?: string, password?: string): Promise<MailUser>;
  /** Adds messages to a mailbox as stored mail (no notification guarantees). */
  appendMessages(user: string, messages: readonly (string | Buffer)[], mailbox?: string): Promise<void>;
  /** Delivers one new message, as an MTA would; sessions on the mailbox see it arrive. */
  deliver(user: string, message: string | Buffer, mailbox?: string): Promise<void>;
}
