/** STARTTLS (RFC 3501 §6.2.1): only before login, only once, only with a certificate configured. */
import { PROXY_ERRORS } from '../errors.js';
import type { PreLoginHandler } from './types.js';

export const starttls: PreLoginHandler = (session, command) => {
  if (session.secure) {
    session.replyError(command.tag, PROXY_ERRORS.tlsAlreadyActive);
    return 'continue';
  }
  if (!session.runtime.secureContext) {
    session.replyError(command.tag, PROXY_ERRORS.tlsUnavailable);
    return 'continue';
  }
  return session.startTls(command.tag);
};
