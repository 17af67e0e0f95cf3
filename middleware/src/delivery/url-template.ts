/**
 * Placeholders in a conversion point's URL, as tracking pixels take them (the seed's `ongage`
 * points): {{eventId}}, {{eventType}}, {{campaignId}}, {{userKey}}, {{email}} (the user key: the
 * address, or its hash for a tenant that hashes addresses — the address itself is not stored
 * then), {{messageId}}, {{occurredAt}}. Each value is URL-encoded; an unknown placeholder is left
 * as written so a typo shows in the receiver's log instead of vanishing. Pure.
 */
import type { Delivery } from './delivery-types.js';

const PLACEHOLDER = /\{\{\s*([A-Za-z]+)\s*\}\}/g;

export function placeholderValues(delivery: Delivery): Record<string, string> {
  const text = (key: string): string => {
    const value = delivery.event[key];
    return value === undefined || value === null ? '' : String(value);
  };
  return {
    eventId: delivery.eventId,
    eventType: delivery.eventType,
    campaignId: text('campaignId'),
    userKey: text('userKey'),
    email: text('userKey'),
    messageId: text('messageId'),
    occurredAt: text('occurredAt'),
  };
}

export function fillUrl(template: string, delivery: Delivery): string {
  return fillTemplate(template, delivery, encodeURIComponent);
}

/** The same placeholders with another encoding (an AMQP routing key takes the values as they are). */
export function fillTemplate(template: string, delivery: Delivery, encode: (value: string) => string): string {
  const values = placeholderValues(delivery);
  return template.replace(PLACEHOLDER, (whole, name: string) => (Object.hasOwn(values, name) ? encode(values[name]!) : whole));
}
