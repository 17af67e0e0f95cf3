/** The commands the proxy answers itself before login; anything else gets BAD. */
import { capability, logout, noop } from './basic.js';
import { id } from './id.js';
import { authenticate, login } from './login.js';
import { starttls } from './starttls.js';
import type { PreLoginHandler } from './types.js';

export const PRE_LOGIN_COMMANDS: ReadonlyMap<string, PreLoginHandler> = new Map([
  ['CAPABILITY', capability],
  ['NOOP', noop],
  ['LOGOUT', logout],
  ['ID', id],
  ['STARTTLS', starttls],
  ['LOGIN', login],
  ['AUTHENTICATE', authenticate],
]);

/** Valid after login only: answered "log in first" rather than "unknown command". */
export const AFTER_LOGIN_COMMANDS = new Set([
  'SELECT', 'EXAMINE', 'CREATE', 'DELETE', 'RENAME', 'SUBSCRIBE', 'UNSUBSCRIBE', 'LIST', 'LSUB', 'STATUS',
  'APPEND', 'CHECK', 'CLOSE', 'EXPUNGE', 'SEARCH', 'FETCH', 'STORE', 'COPY', 'MOVE', 'UID', 'IDLE', 'ENABLE',
  'NAMESPACE', 'GETQUOTA', 'GETQUOTAROOT', 'UNSELECT', 'COMPRESS',
]);
