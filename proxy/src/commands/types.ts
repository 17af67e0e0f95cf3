/**
 * The contract between the session and the handlers of commands the proxy answers itself
 * before login. A handler either finishes at once ('continue': read the next command) or
 * starts something asynchronous that must see no further client input until it is done
 * ('pause': STARTTLS handshake, login).
 */
import type { Logger } from 'pino';
import type { ProxyErrorDefinition } from '../errors.js';
import type { IdFields } from '../imap-id.js';
import type { ParsedCommand } from '../imap-syntax.js';
import type { ProxyRuntime } from '../runtime.js';

export type CommandOutcome = 'continue' | 'pause';

export type Credentials =
  | { readonly kind: 'login'; readonly user: Buffer; readonly password: Buffer }
  /** SASL PLAIN, kept as the client's validated base64 so it is relayed byte for byte. */
  | { readonly kind: 'plain'; readonly user: string; readonly base64: string };

export interface PreLoginSession {
  readonly runtime: ProxyRuntime;
  readonly log: Logger;
  readonly secure: boolean;
  /** Writes complete response lines (CRLF included). */
  reply(text: string): void;
  replyError(tag: string, error: ProxyErrorDefinition, detail?: string): void;
  preLoginCapabilities(): string[];
  setClientId(fields: IdFields): void;
  startTls(tag: string): CommandOutcome;
  beginLogin(tag: string, credentials: Credentials): CommandOutcome;
  /** The next client line is the SASL PLAIN response to a "+" already sent. */
  awaitSaslResponse(tag: string): void;
  logout(tag: string): void;
}

export type PreLoginHandler = (session: PreLoginSession, command: ParsedCommand) => CommandOutcome;
