// The engine client against an in-process HTTP server that stops answering: after three calls in
// a row get no answer, no call reaches the server for engine.suspendMs, then one probes again. An
// HTTP error is one request's and suspends nothing. (The real middleware going away mid-session
// is test/integration/injection-clients.test.ts.)
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { EngineClient } from './engine-client.js';
import { ENGINE_LOG_CODES } from './errors.js';

const key = { login: 'u@example.org', mailbox: 'INBOX', serverUidValidity: 7 };
const view = { known: true, epoch: 1, messages: [], pending: 0, ttlMs: 0 };
let server: Server | undefined;

afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  server = undefined;
});

/** A middleware whose behaviour the test switches; counts the requests that reach it. */
async function middleware(): Promise<{ url: string; requests: () => number; mode: { now: 'answer' | 'hang' | 'error' } }> {
  let requests = 0;
  const mode = { now: 'answer' as 'answer' | 'hang' | 'error' };
  server = createServer((request: IncomingMessage, response: ServerResponse) => {
    requests++;
    request.resume();
    if (mode.now === 'hang') return; // never answers: the client's timeout ends the call
    response.writeHead(mode.now === 'error' ? 500 : 200, { 'content-type': 'application/json' });
    response.end(mode.now === 'error' ? '{"error":"broken"}' : JSON.stringify(view));
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests: () => requests, mode };
}

/** `timeoutMs` is short where the fake hangs; where it answers, long enough that a loaded
 *  machine never turns an answer into a timeout (which would suspend the client). */
function client(url: string, suspendMs: number, timeoutMs = 50): { engine: EngineClient; logged: () => string[] } {
  const lines: string[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
  const engine = new EngineClient({ url, timeoutMs, viewCacheMs: 0, suspendMs }, 'token', log);
  return { engine, logged: () => lines.map((line) => String((JSON.parse(line) as { code?: string }).code)) };
}

describe('the engine client when the middleware stops answering', () => {
  it('stops asking after three unanswered calls, then probes again and resumes', async () => {
    const fake = await middleware();
    const { engine, logged } = client(fake.url, 300);
    fake.mode.now = 'hang';
    for (let i = 0; i < 3; i++) expect(await engine.view(key)).toBeUndefined();
    expect(fake.requests()).toBe(3);
    for (let i = 0; i < 20; i++) expect(await engine.view(key)).toBeUndefined();
    expect(fake.requests()).toBe(3); // suspended: none reached the server
    expect(engine.stats.suspendedCalls).toBe(20);
    expect(logged()).toContain(ENGINE_LOG_CODES.suspended);

    fake.mode.now = 'answer';
    await new Promise((resolve) => setTimeout(resolve, 350));
    expect(await engine.view(key)).toMatchObject({ known: true, epoch: 1 });
    expect(fake.requests()).toBe(4);
    expect(logged()).toContain(ENGINE_LOG_CODES.resumed);
  });

  it('keeps asking after HTTP errors, and when suspension is off', async () => {
    const fake = await middleware();
    fake.mode.now = 'error';
    const { engine } = client(fake.url, 300, 10_000);
    for (let i = 0; i < 10; i++) await engine.view(key);
    expect(fake.requests()).toBe(10);

    fake.mode.now = 'hang';
    const { engine: never } = client(fake.url, 0);
    for (let i = 0; i < 5; i++) await never.view(key);
    expect(fake.requests()).toBe(15);
  });
});
