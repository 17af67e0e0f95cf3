/**
 * The client commands the relay looks at after login, one rule per command name. Everything
 * not listed here goes to the upstream untouched. A rule sees only the first segment of a
 * command without a literal; commands that carry literals are never intercepted.
 */
import { PROXY_ERRORS, imapErrorLine, type ProxyErrorDefinition } from './errors.js';
import { DROP, PASS, type LineVerdict } from './framer.js';
import { isAllowedCapability } from './capabilities.js';

/** What a rule may do besides returning a verdict. */
export interface RelayControl {
  /** Sends our own response lines to the client at the next response boundary. */
  sendToClient(bytes: Buffer): void;
  /** The client entered IDLE: the idle timer applies until DONE. */
  enterIdle(): void;
}

export type RelayCommandRule = (control: RelayControl, tag: string, line: Buffer, nameEnd: number) => LineVerdict;

const refuse =
  (error: ProxyErrorDefinition): RelayCommandRule =>
  (control, tag) => {
    control.sendToClient(imapErrorLine(tag, error));
    return DROP;
  };

/** ENABLE (RFC 5161): extensions not on the allowlist are dropped from the request, as a server ignores unknown ones. */
const enable: RelayCommandRule = (control, tag, line, nameEnd) => {
  const words = line.toString('latin1', nameEnd).trim().split(/\s+/).filter(Boolean);
  const kept = words.filter(isAllowedCapability);
  if (kept.length === words.length) return PASS;
  if (kept.length === 0) {
    control.sendToClient(Buffer.from(`* ENABLED\r\n${tag} OK ENABLE completed\r\n`, 'latin1'));
    return DROP;
  }
  return Buffer.from(`${tag} ENABLE ${kept.join(' ')}\r\n`, 'latin1');
};

const idle: RelayCommandRule = (control) => {
  control.enterIdle();
  return PASS;
};

export const RELAY_COMMAND_RULES: ReadonlyMap<string, RelayCommandRule> = new Map([
  ['STARTTLS', refuse(PROXY_ERRORS.starttlsAfterLogin)],
  ['COMPRESS', refuse(PROXY_ERRORS.compressUnavailable)],
  ['ENABLE', enable],
  ['IDLE', idle],
]);
