/**
 * One HTTP attempt of a delivery: a request with a hard time limit, no redirect followed (a 3xx
 * is a failure like any non-2xx: following it would let a receiver point us anywhere), the
 * connection made only to addresses the guard allows (checked after DNS, at connect time), and
 * the first 1 KB of the answer kept for the operator. Never throws: every way it can go wrong is
 * an AttemptResult.
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressGuard } from './address-guard.js';

/** Kept of a response for the delivery log. */
const RESPONSE_KEEP_BYTES = 1024;
/** Sockets kept open per receiver: enough for thousands of deliveries a second to one host. */
const MAX_SOCKETS_PER_HOST = 128;

export interface AttemptResult {
  readonly ok: boolean;
  readonly latencyMs: number;
  readonly status?: number;
  readonly retryAfter?: string;
  readonly response?: string;
  readonly error?: string;
}

export interface HttpRequestSpec {
  readonly method: 'GET' | 'POST';
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly body?: string;
}

export class HttpSender {
  private readonly httpAgent = new http.Agent({ keepAlive: true, maxSockets: MAX_SOCKETS_PER_HOST });
  private readonly httpsAgent = new https.Agent({ keepAlive: true, maxSockets: MAX_SOCKETS_PER_HOST });

  constructor(
    private readonly guard: AddressGuard,
    private readonly timeoutMs: number,
  ) {}

  async send(spec: HttpRequestSpec): Promise<AttemptResult> {
    const started = Date.now();
    const elapsed = (): number => Date.now() - started;
    let url: URL;
    try {
      url = new URL(spec.url);
    } catch {
      return { ok: false, latencyMs: 0, error: 'the URL is not valid' };
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return { ok: false, latencyMs: 0, error: `${url.protocol} URLs are not delivered to` };
    // Literal addresses never reach `lookup`, so they are judged here.
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const literalRefusal = /^[\d.]+$|:/.test(host) ? this.guard.refusal(host) : undefined;
    if (literalRefusal !== undefined) return { ok: false, latencyMs: 0, error: `refused: ${literalRefusal}` };

    return new Promise<AttemptResult>((resolve) => {
      let settled = false;
      const finish = (result: AttemptResult): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(result);
      };
      const client = url.protocol === 'https:' ? https : http;
      const request = client.request(
        url,
        {
          method: spec.method,
          headers: { 'user-agent': 'Inlay-Delivery/1', ...spec.headers, ...(spec.body === undefined ? {} : { 'content-length': String(Buffer.byteLength(spec.body)) }) },
          agent: url.protocol === 'https:' ? this.httpsAgent : this.httpAgent,
          lookup: this.guard.lookup,
        },
        (response) => {
          const chunks: Buffer[] = [];
          let kept = 0;
          response.on('data', (chunk: Buffer) => {
            if (kept < RESPONSE_KEEP_BYTES) {
              chunks.push(chunk.subarray(0, RESPONSE_KEEP_BYTES - kept));
              kept += Math.min(chunk.length, RESPONSE_KEEP_BYTES - kept);
            }
          });
          const done = (): void => {
            const status = response.statusCode ?? 0;
            const retryAfter = response.headers['retry-after'];
            finish({
              ok: status >= 200 && status < 300,
              latencyMs: elapsed(),
              status,
              response: Buffer.concat(chunks).toString('utf8'),
              ...(retryAfter === undefined ? {} : { retryAfter }),
            });
          };
          response.on('end', done);
          response.on('error', (error) => finish({ ok: false, latencyMs: elapsed(), status: response.statusCode ?? 0, error: error.message }));
        },
      );
      const timer = setTimeout(() => {
        request.destroy(new Error(`no answer within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      request.on('error', (error: NodeJS.ErrnoException) => finish({ ok: false, latencyMs: elapsed(), error: error.code === 'INLAY_ADDRESS_REFUSED' ? error.message : `${error.code ?? 'error'}: ${error.message}` }));
      request.end(spec.body);
    });
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}
