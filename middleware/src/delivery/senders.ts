/**
 * How each conversion point type sends one delivery:
 * - `webhook` (the default): Standard Webhooks v1 — signed JSON POST to the (filled) URL;
 * - `ongage` (the seed's points, tracking pixels): GET of the filled URL, no body;
 * - `amqp`: publish to an AMQP 0-9-1 exchange (amqp-sender.ts).
 * Every sender returns an AttemptResult and never throws.
 */
import type { ConversionPoint } from '@inlay/schemas';
import type { Delivery, PointSecret } from './delivery-types.js';
import type { AttemptResult, HttpSender } from './http-attempt.js';
import { fillUrl } from './url-template.js';
import { webhookBody, webhookHeaders } from './webhook.js';

export type PointKind = 'webhook' | 'ongage' | 'amqp';

export function pointKind(point: ConversionPoint): PointKind | undefined {
  const type = point.type.toLowerCase();
  return type === 'webhook' || type === 'ongage' || type === 'amqp' ? type : undefined;
}

export interface Senders {
  readonly http: HttpSender;
  readonly amqp?: { send(point: ConversionPoint, delivery: Delivery): Promise<AttemptResult> };
}

export async function sendDelivery(senders: Senders, point: ConversionPoint, delivery: Delivery, secrets: readonly PointSecret[], nowMs: number): Promise<AttemptResult> {
  const kind = pointKind(point);
  switch (kind) {
    case 'webhook': {
      let body: string;
      try {
        body = webhookBody(delivery);
      } catch (error) {
        return { ok: false, latencyMs: 0, error: (error as Error).message };
      }
      return senders.http.send({ method: 'POST', url: fillUrl(point.connectionInformation.url, delivery), headers: webhookHeaders(delivery.eventId, secrets, nowMs, body), body });
    }
    case 'ongage':
      return senders.http.send({ method: 'GET', url: fillUrl(point.connectionInformation.url, delivery), headers: { 'webhook-id': delivery.eventId } });
    case 'amqp':
      return senders.amqp ? senders.amqp.send(point, delivery) : { ok: false, latencyMs: 0, error: 'amqp delivery is not available in this middleware' };
    case undefined:
      return { ok: false, latencyMs: 0, error: `conversion point type "${point.type}" is not one of webhook, ongage, amqp` };
    default: {
      const never: never = kind;
      return never;
    }
  }
}
