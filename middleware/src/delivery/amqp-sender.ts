/**
 * Delivery to `amqp` points: the webhook body published to an AMQP 0-9-1 exchange
 * (`connectionInformation`: `url` amqp:// or amqps://, `exchange`, `routingKey` with the URL's
 * placeholders) on a confirm channel, persistent, `mandatory`: the attempt succeeds when the
 * broker confirms it and did not return it as unroutable; a nack, a return, a refused address, a
 * connection or channel error or no confirm within the attempt timeout fail it, under the same
 * retry rules as HTTP. The message id is the event id (the same on every attempt), so consumers
 * de-duplicate on it.
 *
 * One connection and confirm channel per broker URL, shared by the attempts in flight, opened on
 * first use and dropped on any error but a return (the next attempt opens a new one). A returned
 * message says nothing about the channel, and dropping it would fail every other attempt still
 * waiting for its confirm on it. The connect goes through the address guard's lookup,
 * like HTTP. Must never log the URL: it may hold a password.
 */
import { connect, type ChannelModel, type ConfirmChannel, type Message, type SocketOptions } from 'amqplib';
import type { ConversionPoint } from '@inlay/schemas';
import type { AddressGuard } from './address-guard.js';
import type { Delivery } from './delivery-types.js';
import type { AttemptResult } from './http-attempt.js';
import { fillTemplate } from './url-template.js';
import { webhookBody } from './webhook.js';

/** The broker confirmed the message after returning it: nobody took it, the channel is fine. */
class UnroutableError extends Error {}

interface Link {
  readonly model: ChannelModel;
  readonly channel: ConfirmChannel;
  /** Message ids the broker returned as unroutable; checked when their confirm arrives. */
  readonly returned: Set<string>;
}

export class AmqpSender {
  private readonly links = new Map<string, Promise<Link>>();

  constructor(
    private readonly guard: AddressGuard,
    private readonly timeoutMs: number,
  ) {}

  async send(point: ConversionPoint, delivery: Delivery): Promise<AttemptResult> {
    const started = Date.now();
    const failed = (error: string): AttemptResult => ({ ok: false, latencyMs: Date.now() - started, error });
    const { url, exchange, routingKey } = point.connectionInformation;
    if (exchange === undefined) return failed('an amqp point needs connectionInformation.exchange');
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return failed('the URL is not valid');
    }
    if (parsed.protocol !== 'amqp:' && parsed.protocol !== 'amqps:') return failed(`${parsed.protocol} URLs are not AMQP`);
    const host = parsed.hostname.replace(/^\[|\]$/g, '');
    const check = await this.guard.checkHost(host);
    if (check.kind !== 'allowed') return failed(`refused: ${check.reason}`);

    let body: string;
    try {
      body = webhookBody(delivery);
    } catch (error) {
      return failed((error as Error).message);
    }
    let timer: NodeJS.Timeout | undefined;
    try {
      const link = await this.withTimeout(this.link(url), (t) => (timer = t));
      clearTimeout(timer);
      const key = fillTemplate(routingKey ?? '{{eventType}}', delivery, (value) => value);
      await this.withTimeout(
        new Promise<void>((resolve, reject) => {
          link.channel.publish(
            exchange,
            key,
            Buffer.from(body),
            {
              messageId: delivery.eventId,
              type: `inlay.${delivery.eventType}`,
              contentType: 'application/json',
              timestamp: Math.floor(Date.now() / 1000),
              persistent: true,
              mandatory: true,
            },
            (error: unknown) => {
              if (error) reject(new Error(`the broker did not confirm the message (${error instanceof Error ? error.message : 'nack'})`));
              else if (link.returned.delete(delivery.eventId)) reject(new UnroutableError(`no queue is bound to exchange "${exchange}" for routing key "${key}"`));
              else resolve();
            },
          );
        }),
        (t) => (timer = t),
      );
      return { ok: true, latencyMs: Date.now() - started };
    } catch (error) {
      if (!(error instanceof UnroutableError)) this.drop(url);
      return failed((error as Error).message);
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    const links = [...this.links.values()];
    this.links.clear();
    await Promise.allSettled(links.map(async (link) => (await link).model.close()));
  }

  private link(url: string): Promise<Link> {
    const existing = this.links.get(url);
    if (existing !== undefined) return existing;
    // net.connect's `lookup` makes the address check on the address actually connected to.
    const socketOptions: SocketOptions = { timeout: this.timeoutMs, lookup: this.guard.lookup };
    const link = (async (): Promise<Link> => {
      const model = await connect(url, socketOptions);
      model.on('error', () => this.drop(url, link));
      model.on('close', () => this.drop(url, link));
      const channel = await model.createConfirmChannel();
      const returned = new Set<string>();
      channel.on('return', (message: Message) => {
        if (typeof message.properties.messageId === 'string') returned.add(message.properties.messageId);
      });
      channel.on('error', () => this.drop(url, link));
      channel.on('close', () => this.drop(url, link));
      return { model, channel, returned };
    })();
    link.catch(() => this.drop(url, link));
    this.links.set(url, link);
    return link;
  }

  /** Forgets the link to `url` (only `which`, when given: a late close of an old link must not
   *  drop its successor) and closes it. */
  private drop(url: string, which?: Promise<Link>): void {
    const link = this.links.get(url);
    if (link === undefined || (which !== undefined && link !== which)) return;
    this.links.delete(url);
    link.then((open) => open.model.close()).catch(() => undefined);
  }

  private withTimeout<T>(work: Promise<T>, keep: (timer: NodeJS.Timeout) => void): Promise<T> {
    return Promise.race([work, new Promise<never>((_, reject) => keep(setTimeout(() => reject(new Error(`no answer from the broker within ${this.timeoutMs} ms`)), this.timeoutMs)))]);
  }
}
