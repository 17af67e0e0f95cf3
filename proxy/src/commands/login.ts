/**
 * LOGIN and AUTHENTICATE PLAIN (with SASL-IR, RFC 4959). The proxy only checks the form;
 * the upstream's answer decides. Credentials never reach a log line.
 */
import { PROXY_ERRORS } from '../errors.js';
import { ImapSyntaxError, tokenText } from '../imap-syntax.js';
import type { Credentials, PreLoginHandler, PreLoginSession } from './types.js';

export const login: PreLoginHandler = (session, command) => {
  if (!mayLogIn(session, command.tag)) return 'continue';
  if (command.args.length !== 2) throw new ImapSyntaxError('LOGIN takes a user name and a password');
  const user = tokenText(command.args[0], 'a user name');
  const password = tokenText(command.args[1], 'a password');
  return session.beginLogin(command.tag, { kind: 'login', user, password });
};

export const authenticate: PreLoginHandler = (session, command) => {
  const [mechanism, initial, ...extra] = command.args;
  if (mechanism?.kind !== 'atom' || extra.length > 0) throw new ImapSyntaxError('AUTHENTICATE takes a mechanism and an optional initial response');
  if (!mayLogIn(session, command.tag)) return 'continue';
  if (mechanism.value.toUpperCase() !== 'PLAIN') {
    session.replyError(command.tag, PROXY_ERRORS.mechanismUnsupported, mechanism.value);
    return 'continue';
  }
  if (initial === undefined) {
    session.reply('+ \r\n');
    session.awaitSaslResponse(command.tag);
    return 'continue';
  }
  if (initial.kind !== 'atom') throw new ImapSyntaxError('The initial response must be base64 or "="');
  return continuePlain(session, command.tag, initial.value);
};

/** The client's PLAIN response, from SASL-IR or the line after "+". */
export function continuePlain(session: PreLoginSession, tag: string, response: string): 'continue' | 'pause' {
  if (response === '*') {
    session.replyError(tag, PROXY_ERRORS.authCancelled);
    return 'continue';
  }
  const credentials = decodePlain(response === '=' ? '' : response);
  if (!credentials) {
    session.replyError(tag, PROXY_ERRORS.authMalformed);
    return 'continue';
  }
  return session.beginLogin(tag, credentials);
}

/** authzid NUL authcid NUL passwd (RFC 4616), from strict base64. */
export function decodePlain(base64: string): Credentials | null {
  if (base64.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(base64)) return null;
  const parts = Buffer.from(base64, 'base64').toString('utf8').split('\0');
  if (parts.length !== 3 || !parts[1] || !parts[2]) return null;
  return { kind: 'plain', user: parts[1], base64 };
}

function mayLogIn(session: PreLoginSession, tag: string): boolean {
  if (session.runtime.loginRequiresTls && !session.secure) {
    session.replyError(tag, PROXY_ERRORS.privacyRequired);
    return false;
  }
  return true;
}
