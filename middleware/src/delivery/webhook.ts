/**
 * Standard Webhooks v1 (https://www.standardwebhooks.com): the body, the three headers and the
 * signature. `webhook-id` is the event id, the same on every attempt; the signature is
 * `v1,` + base64 HMAC-SHA256 over `id.timestamp.body`, keyed with the base64-decoded part of the
 * point's `whsec_` secret, one per live secret (space-separated) so a receiver still holding the
 * rotated-out secret keeps verifying for 24 h. Pure apart from randomness in newPointSecret.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { Delivery, PointSecret } from './delivery-types.js';

const SECRET_PREFIX = 'whsec_';
/** Standard Webhooks: the body of one event stays under 20 kB. */
export const MAX_WEBHOOK_BODY_BYTES = 20_000;
/** A rotated-out secret still signs this long. */
export const SECRET_OVERLAP_MS = 86_400_000;

export function newPointSecret(nowMs: number): PointSecret {
  return { secret: SECRET_PREFIX + randomBytes(32).toString('base64'), createdAtMs: nowMs };
}

/** The secrets that sign at `nowMs`: the current one (last) and any rotated-out one still in its overlap. */
export function signingSecrets(secrets: readonly PointSecret[], nowMs: number): PointSecret[] {
  return secrets.filter((secret) => secret.retiresAtMs === undefined || secret.retiresAtMs > nowMs);
}

/** The new list after a rotation: the old current secret retires in 24 h; expired ones go. */
export function rotateSecrets(secrets: readonly PointSecret[], nowMs: number): PointSecret[] {
  const kept = signingSecrets(secrets, nowMs).map((secret) => (secret.retiresAtMs === undefined ? { ...secret, retiresAtMs: nowMs + SECRET_OVERLAP_MS } : secret));
  return [...kept, newPointSecret(nowMs)];
}

export function webhookBody(delivery: Delivery): string {
  const body = JSON.stringify({ type: `inlay.${delivery.eventType}`, timestamp: String(delivery.event['occurredAt'] ?? new Date(delivery.createdAtMs).toISOString()), data: delivery.event });
  if (Buffer.byteLength(body) > MAX_WEBHOOK_BODY_BYTES) throw new Error(`the webhook body is ${Buffer.byteLength(body)} bytes, more than ${MAX_WEBHOOK_BODY_BYTES}`);
  return body;
}

export function sign(secret: string, id: string, timestampSeconds: number, body: string): string {
  const key = Buffer.from(secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret, 'base64');
  return 'v1,' + createHmac('sha256', key).update(`${id}.${timestampSeconds}.${body}`).digest('base64');
}

export function webhookHeaders(id: string, secrets: readonly PointSecret[], nowMs: number, body: string): Record<string, string> {
  const timestamp = Math.floor(nowMs / 1000);
  return {
    'content-type': 'application/json',
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': secrets.map((secret) => sign(secret.secret, id, timestamp, body)).join(' '),
  };
}
