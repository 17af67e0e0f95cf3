/**
 * Test support: a webhook receiver on a loopback port, as a customer would run one. It records
 * every request (method, URL, headers, body), verifies Standard Webhooks signatures with the
 * reference verifier (npm `standardwebhooks`) when given the secrets, answers what `answer`
 * says, and notes when two requests with the same webhook-id overlap (a delivery attempted twice
 * at once). Nothing in the running middleware imports this module.
 */
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

export interface ReceivedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  readonly id: string;
  /** Which request this is for its webhook-id at its path (1 = first). */
  readonly nth: number;
  /** Whether the reference verifier accepted the signature with one of the secrets given. */
  readonly verified: boolean;
  status: number;
}

export interface Answer {
  readonly status: number;
  readonly headers?: Record<string, string>;
  readonly body?: string;
  readonly delayMs?: number;
}

export interface WebhookReceiver {
  readonly port: number;
  url(path?: string): string;
  readonly requests: ReceivedRequest[];
  /** Webhook-ids with an accepted (2xx) answer, with how many (kept as requests come: cheap to read). */
  accepted(): Map<string, number>;
  /** Webhook-ids that had two requests in flight at once. */
  readonly overlaps: Set<string>;
  /** Secrets the verifier tries (`whsec_…`); set after the points exist. */
  secrets: string[];
  answer: (request: ReceivedRequest) => Answer;
  close(): Promise<void>;
}

export async function startWebhookReceiver(options: { port?: number; answer?: (request: ReceivedRequest) => Answer } = {}): Promise<WebhookReceiver> {
  const requests: ReceivedRequest[] = [];
  const seen = new Map<string, number>();
  const inFlight = new Set<string>();
  const overlaps = new Set<string>();
  const acceptedCounts = new Map<string, number>();
  const receiver: Omit<WebhookReceiver, 'port' | 'url' | 'close'> = {
    requests,
    overlaps,
    secrets: [],
    answer: options.answer ?? (() => ({ status: 204 })),
    accepted: () => acceptedCounts,
  };
  const server: Server = createServer((req, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const id = String(req.headers['webhook-id'] ?? '');
      // Per receiving path: one event goes to several points under the same webhook-id.
      const key = `${req.url ?? ''} ${id}`;
      const nth = (seen.get(key) ?? 0) + 1;
      seen.set(key, nth);
      if (inFlight.has(key)) overlaps.add(id);
      inFlight.add(key);
      const verified = receiver.secrets.some((secret) => {
        try {
          new Webhook(secret).verify(body, req.headers as Record<string, string>);
          return true;
        } catch {
          return false;
        }
      });
      const request: ReceivedRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body, id, nth, verified, status: 0 };
      requests.push(request);
      const answer = receiver.answer(request);
      request.status = answer.status;
      if (answer.status >= 200 && answer.status < 300) acceptedCounts.set(id, (acceptedCounts.get(id) ?? 0) + 1);
      const send = (): void => {
        inFlight.delete(key);
        res.writeHead(answer.status, answer.headers).end(answer.body ?? '');
      };
      if (answer.delayMs) setTimeout(send, answer.delayMs);
      else send();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return Object.assign(receiver, {
    port,
    url: (path = '/hook') => `http://127.0.0.1:${port}${path}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  }) as WebhookReceiver;
}
