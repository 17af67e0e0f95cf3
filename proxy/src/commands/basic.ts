/** CAPABILITY, NOOP and LOGOUT before login: answered by the proxy itself. */
import type { PreLoginHandler } from './types.js';

export const capability: PreLoginHandler = (session, command) => {
  session.reply(`* CAPABILITY ${session.preLoginCapabilities().join(' ')}\r\n${command.tag} OK CAPABILITY completed\r\n`);
  return 'continue';
};

export const noop: PreLoginHandler = (session, command) => {
  session.reply(`${command.tag} OK NOOP completed\r\n`);
  return 'continue';
};

export const logout: PreLoginHandler = (session, command) => {
  session.logout(command.tag);
  return 'pause';
};
