// The pure rules of delivery: the retry schedule and its jitter, Retry-After, the outcome of an
// attempt, Standard Webhooks signatures against the reference verifier, URL placeholders, and
// which addresses the guard refuses.
import { describe, expect, test } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { AddressGuard } from './address-guard.js';
import type { Delivery } from './delivery-types.js';
import { decideOutcome } from './outcome.js';
import { applyPointChange, pointHealth } from './point-health.js';
import { DEFAULT_RETRY_SCHEDULE, nextAttemptAt, parseRetryAfter, parseRetrySchedule } from './schedule.js';
import { fillUrl } from './url-template.js';
import { PASSWORD_MASK, pointView, restorePasswords } from './point-view.js';
import { newPointSecret, rotateSecrets, signingSecrets, webhookBody, webhookHeaders } from './webhook.js';

const delivery: Delivery = {
  pointId: 'p',
  eventId: '5f0c1d00-e000-11ee-8000-0123456789ab',
  eventType: 'read',
  event: { eventId: '5f0c1d00-e000-11ee-8000-0123456789ab', type: 'read', userKey: 'a b@example.org', campaignId: 'c/1', messageId: '<m@x>', occurredAt: '2030-01-01T00:00:00.000Z' },
  state: 'pending',
  attempts: 0,
  step: 0,
  dueAtMs: 0,
  createdAtMs: 0,
  updatedAtMs: 0,
};

describe('retry schedule', () => {
  test('the default is 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h; malformed text is a config error', () => {
    expect(parseRetrySchedule(DEFAULT_RETRY_SCHEDULE)).toEqual([5, 300, 1800, 7200, 18_000, 36_000, 36_000].map((s) => s * 1000));
    expect(parseRetrySchedule(' 1, 2 ')).toEqual([1000, 2000]);
    for (const bad of ['', '1,,2', '-1', '1.5', 'a']) expect(() => parseRetrySchedule(bad), bad).toThrow(/INLAY_DELIVERY_RETRY_SCHEDULE/);
  });

  test('jitter stays within ±20 %; after the last step there is none', () => {
    const schedule = parseRetrySchedule('10');
    expect(nextAttemptAt(schedule, 1, 0, undefined, () => 0)).toBe(8000);
    expect(nextAttemptAt(schedule, 1, 0, undefined, () => 1)).toBe(12_000);
    expect(nextAttemptAt(schedule, 2, 0, undefined, () => 0.5)).toBeUndefined();
  });

  test('Retry-After: seconds or a date, bounded to 1 s .. 1 day', () => {
    expect(parseRetryAfter('30', 0)).toBe(30_000);
    expect(parseRetryAfter(new Date(60_000).toUTCString(), 0)).toBe(60_000);
    expect(parseRetryAfter('soon', 0)).toBeUndefined();
    const schedule = parseRetrySchedule('5');
    expect(nextAttemptAt(schedule, 1, 0, 0)).toBe(1000);
    expect(nextAttemptAt(schedule, 1, 0, 10 * 86_400_000)).toBe(86_400_000);
  });
});

describe('attempt outcome', () => {
  const schedule = parseRetrySchedule('5');
  test('2xx delivered, 410 dead and the point disabled, others retried then dead', () => {
    expect(decideOutcome(delivery, { ok: true, latencyMs: 3, status: 204 }, schedule, 100).next).toMatchObject({ state: 'delivered', attempts: 1 });
    const gone = decideOutcome(delivery, { ok: false, latencyMs: 3, status: 410 }, schedule, 100);
    expect(gone.next.state).toBe('dead');
    expect(pointHealth(applyPointChange(undefined, gone.point))).toBe('disabled');
    const first = decideOutcome(delivery, { ok: false, latencyMs: 3, status: 302 }, schedule, 100, () => 0.5);
    expect(first.next).toMatchObject({ state: 'pending', attempts: 1, step: 1, dueAtMs: 5100, lastResult: 'HTTP 302' });
    expect(decideOutcome(first.next, { ok: false, latencyMs: 3, error: 'ECONNREFUSED: x' }, schedule, 6000).next).toMatchObject({ state: 'dead', attempts: 2, lastResult: 'ECONNREFUSED: x' });
  });

  test('five days of failures without a success disable the point; a success makes it healthy', () => {
    const failing = applyPointChange(undefined, { kind: 'failure', atMs: 0, error: 'HTTP 500' });
    expect(pointHealth(failing)).toBe('failing');
    expect(pointHealth(applyPointChange(failing, { kind: 'failure', atMs: 4 * 86_400_000, error: 'HTTP 500' }))).toBe('failing');
    const disabled = applyPointChange(failing, { kind: 'failure', atMs: 5 * 86_400_000, error: 'HTTP 500' });
    expect(disabled.disabled?.reason).toMatch(/5 days/);
    expect(pointHealth(applyPointChange(failing, { kind: 'success', atMs: 1 }))).toBe('healthy');
  });
});

describe('Standard Webhooks', () => {
  test('the reference verifier accepts our signature; the body has type, timestamp and data', () => {
    const secret = newPointSecret(0);
    const body = webhookBody(delivery);
    const headers = webhookHeaders(delivery.eventId, [secret], Date.now(), body);
    expect(new Webhook(secret.secret).verify(body, headers)).toEqual({ type: 'inlay.read', timestamp: '2030-01-01T00:00:00.000Z', data: delivery.event });
    expect(() => new Webhook(newPointSecret(0).secret).verify(body, headers)).toThrow();
  });

  test('after a rotation both secrets sign for 24 h, then only the new one', () => {
    const old = newPointSecret(0);
    const secrets = rotateSecrets([old], 1000);
    expect(signingSecrets(secrets, 1000)).toHaveLength(2);
    expect(signingSecrets(secrets, 1000 + 86_400_000)).toEqual([secrets[1]]);
  });

  test('a body over 20 kB is refused', () => {
    expect(() => webhookBody({ ...delivery, event: { big: 'x'.repeat(20_000) } })).toThrow(/20000/);
  });
});

test('URL placeholders are filled URL-encoded; unknown ones stay', () => {
  expect(fillUrl('https://t.example/p?e={{eventId}}&t={{eventType}}&c={{campaignId}}&u={{email}}&k={{ userKey }}&m={{messageId}}&at={{occurredAt}}&x={{nope}}', delivery)).toBe(
    'https://t.example/p?e=5f0c1d00-e000-11ee-8000-0123456789ab&t=read&c=c%2F1&u=a%20b%40example.org&k=a%20b%40example.org&m=%3Cm%40x%3E&at=2030-01-01T00%3A00%3A00.000Z&x={{nope}}',
  );
});

describe('address guard', () => {
  const guard = new AddressGuard([]);
  test.each(['127.0.0.1', '10.0.0.1', '172.16.5.4', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '::1', '::', 'fe80::1', 'fd00:ec2::254', '::ffff:127.0.0.1', '::ffff:7f00:1', '0:0:0:0:0:ffff:a00:1', '::ffff:10.0.0.1', '224.0.0.1'])('%s is refused', (address) => {
    expect(guard.refusal(address)).toBeDefined();
  });
  test.each(['93.184.216.34', '2606:2800:220:1:248:1893:25c8:1946', '8.8.8.8'])('%s is allowed', (address) => {
    expect(guard.refusal(address)).toBeUndefined();
  });
  test('an allowed network opens only itself; a malformed one is a config error', () => {
    const allowing = new AddressGuard(['127.0.0.0/8']);
    expect(allowing.refusal('127.0.0.1')).toBeUndefined();
    expect(allowing.refusal('::1')).toBeDefined();
    expect(allowing.refusal('10.0.0.1')).toBeDefined();
    expect(() => new AddressGuard(['127.0.0.0/33'])).toThrow(/INLAY_DELIVERY_ALLOWED_NETWORKS/);
  });
});

test('a URL password is masked in views and restored from the stored point for the same host and user only', () => {
  const stored = { id: 'q', type: 'amqp', eventType: 'read' as const, connectionInformation: { url: 'amqp://inlay:s3cret@broker.example:5672/vh', exchange: 'x' } };
  const shown = pointView(stored);
  expect(shown.connectionInformation.url).toBe(`amqp://inlay:${PASSWORD_MASK}@broker.example:5672/vh`);
  expect(restorePasswords([shown], [stored])[0]).toEqual(stored);
  const moved = { ...shown, connectionInformation: { ...shown.connectionInformation, url: `amqp://inlay:${PASSWORD_MASK}@elsewhere.example/vh` } };
  expect(restorePasswords([moved], [stored])[0]).toEqual(moved);
});
