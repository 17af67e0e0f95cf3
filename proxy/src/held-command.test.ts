import { describe, expect, it } from 'vitest';
import { commandBytes } from './held-command.js';

const b = (text: string): Buffer => Buffer.from(text, 'latin1');

describe('commandBytes', () => {
  it('turns synchronizing literals into LITERAL+ and keeps the rest byte for byte', () => {
    const bytes = commandBytes([b('a STATUS {5}\r\n'), b(' (UIDNEXT)\r\n')], [b('INBOX')]);
    expect(bytes.toString('latin1')).toBe('a STATUS {5+}\r\nINBOX (UIDNEXT)\r\n');
    expect(commandBytes([b('a COPY 1 {5+}\n'), b('\n')], [b('inbox')]).toString('latin1')).toBe('a COPY 1 {5+}\ninbox\n');
    expect(commandBytes([b('a SELECT {0}\r\n'), b('\r\n')], [b('')]).toString('latin1')).toBe('a SELECT {0+}\r\n\r\n');
    expect(commandBytes([b('a APPEND {5}\r\n')], [b('INBOX')]).toString('latin1')).toBe('a APPEND {5+}\r\nINBOX');
  });
});
