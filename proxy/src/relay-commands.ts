/**
 * The client commands the relay looks at after login, one rule per command name. Everything
 * not listed here goes to the upstream untouched. A rule sees only the first segment of a
 * command without a literal; commands that carry literals are never intercepted.
 */
import { PROXY_ERRORS, imapErrorLine, type ProxyErrorDefinition } from './errors.js';
import { DROP, PASS, type LineVerdict } from './framer.js';
import { isAllowedCapability } from './capabilities.js';
import { ImapSyntaxError, parseCommand } from './imap-syntax.js';

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
const enable: RelayCommandRule = (control, tag, line) => {
  const words = capabilityNames(line);
  // Not a list of atoms: the server refuses it as it would without us.
  if (words === null) return PASS;
  const kept = words.filter(isAllowedCapability);
  if (kept.length === words.length) return PASS;
  if (kept.length === 0) {
    control.sendToClient(Buffer.from(`* ENABLED\r\n${tag} OK ENABLE completed\r\n`, 'latin1'));
    return DROP;
  }
  return Buffer.from(`${tag} ENABLE ${kept.join(' ')}\r\n`, 'latin1');
};

/** ENABLE's arguments, each a capability name (an atom); null when they are anything else. */
function capabilityNames(line: Buffer): string[] | null {
  let args;
  try {
    args = parseCommand({ segments: [line], literals: [] }).args;
  } catch (err) {
    if (err instanceof ImapSyntaxError) return null;
    throw err;
  }
  const names: string[] = [];
  for (const arg of args) {
    if (arg.kind !== 'atom') return null;
    names.push(arg.value);
  }
  return names;
}

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

/** The line that ends IDLE: "DONE" in any case, alone on its line (RFC 2177). */
export function isDone(line: Buffer): boolean {
  const end = line[line.length - 2] === 0x0d ? line.length - 2 : line.length - 1;
  return end === 4 && line.toString('latin1', 0, 4).toUpperCase() === 'DONE';
}
