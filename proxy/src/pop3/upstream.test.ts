import { describe, expect, it } from 'vitest';
import { parsePop3Upstream } from './upstream.js';

describe('parsePop3Upstream', () => {
  it('reads the three forms, with default ports', () => {
    expect(parsePop3Upstream('pop3://mail.example.org')).toEqual({ protocol: 'pop3', host: 'mail.example.org', port: 110 });
    expect(parsePop3Upstream('pop3+stls://10.0.0.1:1110')).toEqual({ protocol: 'pop3+stls', host: '10.0.0.1', port: 1110 });
    expect(parsePop3Upstream('pop3s://[::1]')).toEqual({ protocol: 'pop3s', host: '::1', port: 995 });
  });

  it('refuses anything else with a line naming the key', () => {
    expect(() => parsePop3Upstream('imap://mail')).toThrow(/proxy\.pop3\.upstream/);
    expect(() => parsePop3Upstream('pop3://mail:0')).toThrow(/out of range/);
  });
});
