/**
 * JSON POSTs to the middleware over kept-alive connections: the transport of EngineClient.
 *
 * Built on node:http rather than fetch(): a session makes an engine call for every reveal,
 * assignment and uncached view read, and fetch (undici) spent about five times the CPU of
 * http.request per call here (measured: ~460 against ~90 µs for a small POST and its answer),
 * on the cores the proxy shares with the IMAP traffic it relays.
 */
import http from 'node:http';
import https from 'node:https';

export interface PostAnswer {
  readonly status: number;
  readonly body: string;
}

/** Engine calls of one proxy in flight at once; more wait for a free connection (within their timeout). */
const MAX_CONNECTIONS = 64;
/** An idle connection is closed after this; well under the middleware's keep-alive (Fastify: 72 s),
 *  so the proxy is the side that closes and a request never meets a connection closing under it. */
const IDLE_CLOSE_MS = 4000;

export class EngineHttp {
  private readonly agent: http.Agent;
  private readonly request: typeof http.request;

  constructor(
    private readonly baseUrl: string,
    private readonly headers: Readonly<Record<string, string>>,
  ) {
    const secure = baseUrl.startsWith('https:');
    const options = { keepAlive: true, maxSockets: MAX_CONNECTIONS, timeout: IDLE_CLOSE_MS };
    this.agent = secure ? new https.Agent(options) : new http.Agent(options);
    this.request = secure ? https.request : http.request;
  }

  /**
   * POSTs `body` (JSON text) to `path`; rejects on a network error, or with an error named
   * TimeoutError when no whole answer came within `timeoutMs`. An answer of any status resolves.
   */
  post(path: string, body: string, timeoutMs: number): Promise<PostAnswer> {
    return this.attempt(path, body, timeoutMs, Date.now() + timeoutMs, true);
  }

  private attempt(path: string, body: string, timeoutMs: number, deadline: number, mayRetry: boolean): Promise<PostAnswer> {
    return new Promise<PostAnswer>((resolve, reject) => {
      const request = this.request(`${this.baseUrl}${path}`, {
        method: 'POST',
        agent: this.agent,
        headers: { ...this.headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      });
      const timer = setTimeout(() => {
        const error = new Error(`no answer within ${timeoutMs} ms`);
        error.name = 'TimeoutError';
        request.destroy(error);
      }, Math.max(0, deadline - Date.now()));
      request.on('response', (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          clearTimeout(timer);
          resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') });
        });
        response.on('error', (err) => {
          clearTimeout(timer);
          reject(err);
        });
      });
      request.on('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        // A kept-alive connection that closed just as we reused it: the request almost surely
        // never reached the middleware. Sending it once more is safe even if it did: flag changes,
        // expunges and reveals come out the same applied twice, and an assignment carries its epoch.
        if (mayRetry && request.reusedSocket && err.code === 'ECONNRESET' && Date.now() < deadline) {
          resolve(this.attempt(path, body, timeoutMs, deadline, false));
          return;
        }
        reject(err);
      });
      request.end(body);
    });
  }

  /** Closes the kept-alive connections (at shutdown). */
  close(): void {
    this.agent.destroy();
  }
}
