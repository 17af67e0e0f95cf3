/**
 * ID before login (RFC 2971): remember what the client says about itself, to pass on to the
 * upstream with the login, and answer with the proxy's own configurable name.
 */
import { formatIdList, parseIdArguments } from '../imap-id.js';
import type { PreLoginHandler } from './types.js';

export const id: PreLoginHandler = (session, command) => {
  session.setClientId(parseIdArguments(command.args));
  const { idName, idVersion } = session.runtime;
  session.reply(`* ID ${formatIdList([['name', idName], ['version', idVersion]])}\r\n${command.tag} OK ID completed\r\n`);
  return 'continue';
};
