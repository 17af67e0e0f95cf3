// The UI's pure pieces: wall-clock times in a campaign's zone and back (DST edges included), the
// form ⇄ API translation of a campaign, and the small MIME reader the preview uses.
import { describe, expect, test } from 'vitest';
import { utcToZoned, zonedToUtc } from './format.js';
import { audienceOf, inputFromDraft, newDraft } from './campaign-draft.js';
import { parseMessage } from './mime.js';
import { countBlocker, describeCount } from './components/audience-count.js';

describe('times in a campaign zone', () => {
  test.each([
    ['2030-03-01T08:00', 'Europe/Berlin', '2030-03-01T07:00:00.000Z'],
    ['2030-07-01T08:00', 'Europe/Berlin', '2030-07-01T06:00:00.000Z'],
    ['2030-03-31T03:30', 'Europe/Berlin', '2030-03-31T01:30:00.000Z'],
    ['2030-11-03T01:30', 'America/New_York', '2030-11-03T05:30:00.000Z'],
    ['2030-01-01T00:00', 'UTC', '2030-01-01T00:00:00.000Z'],
  ])('%s in %s is %s, and back', (local, zone, utc) => {
    expect(zonedToUtc(local, zone)).toBe(utc);
    expect(utcToZoned(utc, zone)).toBe(local);
  });

  test('an unreadable time says what to enter', () => {
    expect(() => zonedToUtc('tomorrow', 'UTC')).toThrow(/date and a time/);
  });
});

describe('the campaign form', () => {
  test('rules become typed audience rules; numbers stay numbers for gt/lt', () => {
    const draft = { ...newDraft(), audienceType: 'rules' as const, match: 'any' as const, rules: [
      { attribute: 'plan', op: 'in' as const, value: 'gold, silver' },
      { attribute: 'age', op: 'gt' as const, value: '30' },
      { attribute: 'vip', op: 'exists' as const, value: 'ignored' },
    ] };
    expect(audienceOf(draft)).toEqual({ type: 'rules', match: 'any', rules: [
      { attribute: 'plan', op: 'in', value: ['gold', 'silver'] },
      { attribute: 'age', op: 'gt', value: 30 },
      { attribute: 'vip', op: 'exists' },
    ] });
  });

  test('schedule and window in the zone, variants and reinjection as the API takes them', () => {
    const draft = { ...newDraft(), name: 'x', timeZone: 'Europe/Berlin', startLocal: '2030-03-01T08:00', endLocal: '2030-03-02T08:00', windowOn: true, reinjection: 'afterExpunge' as const, delayHours: 2, maxReinjections: 3, variants: [{ id: 'a', weight: 3, template: { subject: 's', from: 'f@x.example', html: 'h', text: 't' } }] };
    const input = inputFromDraft(draft);
    expect(input.schedule).toEqual({ startAt: '2030-03-01T07:00:00.000Z', endAt: '2030-03-02T07:00:00.000Z', timeZone: 'Europe/Berlin', dailyWindow: { from: '09:00', to: '18:00' } });
    expect(input.reinjection).toEqual({ policy: 'afterExpunge', delayHours: 2, maxReinjections: 3 });
    expect(input.variants).toEqual([{ id: 'a', weight: 3, template: { subject: 's', from: 'f@x.example', html: 'h', text: 't' } }]);
  });
});

describe('the preview MIME reader', () => {
  test('headers unfolded and decoded; quoted-printable and base64 parts as UTF-8', () => {
    const raw = [
      'Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?= for',
      ' you',
      'Content-Type: multipart/alternative; boundary="--b1"',
      '',
      '----b1',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: quoted-printable',
      '',
      'Gr=C3=BC=C3=9Fe, a long line that is soft=',
      ' broken',
      '----b1',
      'Content-Type: text/html; charset=utf-8',
      'Content-Transfer-Encoding: base64',
      '',
      Buffer.from('<p>Grüße</p>').toString('base64'),
      '----b1--',
      '',
    ].join('\r\n');
    const parsed = parseMessage(Buffer.from(raw, 'utf8').toString('latin1'));
    expect(parsed.headers.get('subject')).toBe('Grüße for you');
    expect(parsed.text).toBe('Grüße, a long line that is soft broken');
    expect(parsed.html).toBe('<p>Grüße</p>');
  });
});

describe('the audience count line', () => {
  test('exact, one, and a lower bound', () => {
    expect(describeCount({ matching: 1234, scanned: 5000, exact: true })).toBe('1,234 matching users');
    expect(describeCount({ matching: 1, scanned: 1, exact: true })).toBe('1 matching user');
    expect(describeCount({ matching: 7, scanned: 200000, exact: false })).toMatch(/^at least 7 matching users of 200,000 scanned/);
  });

  test('an empty import or rule attribute is not sent, and says what to fill in', () => {
    expect(countBlocker({ type: 'list', importId: '' })).toMatch(/Choose an import/);
    expect(countBlocker({ type: 'rules', rules: [{ attribute: '', op: 'exists' }] })).toMatch(/attribute/);
    expect(countBlocker({ type: 'rules', rules: [{ attribute: 'plan', op: 'exists' }] })).toBeUndefined();
    expect(countBlocker({ type: 'all' })).toBeUndefined();
  });
});
