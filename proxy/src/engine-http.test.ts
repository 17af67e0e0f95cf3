// The engine transport against an in-process HTTP server: connections are reused, a call that
// gets no answer ends at its timeout, and a request that meets a kept-alive connection closing
// is sent once more on a new one — only then.
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { EngineHttp } from './engine-http.js';

const servers: Server[] = [];
let transport: EngineHttp | undefined;

afterEach(async () => {
  transport?.close();
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

type Behaviour = (requestOnConnection: number, socket: Socket) => 'answer' | 'hang' | 'cut';

/** Answers `{"n":…}` with the request's number on its connection, unless `behaviour` says otherwise. */
async function middleware(behaviour: Behaviour): Promise<{ url: string; connections: () => number; requests: () => number }> {
  let connections = 0;
  let requests = 0;
  const perSocket = new WeakMap<Socket, number>();
  const server = createServer((request, response) => {
    requests++;
    const socket = request.socket;
    const n = (perSocket.get(socket) ?? 0) + 1;
    perSocket.set(socket, n);
    const what = behaviour(n, socket);
    if (what === 'cut') {
      socket.destroy();
      return;
    }
    let body = '';
    request.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
    request.on('end', () => {
      if (what === 'hang') return;
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ n, echoed: JSON.parse(body) as unknown, authorization: request.headers.authorization }));
    });
  });
  server.on('connection', () => connections++);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, connections: () => connections, requests: () => requests };
}

describe('the engine transport', () => {
  it('sends the body and headers, and reuses one connection for calls made one after another', async () => {
    const fake = await middleware(() => 'answer');
    transport = new EngineHttp(fake.url, { authorization: 'Bearer t0ken' });
    for (let i = 1; i <= 3; i++) {
      const answer = await transport.post('/internal/v1/views', JSON.stringify({ i }), 1000);
      expect(answer.status).toBe(200);
      expect(JSON.parse(answer.body)).toEqual({ n: i, echoed: { i }, authorization: 'Bearer t0ken' });
    }
    expect(fake.connections()).toBe(1);
  });

  it('rejects with a TimeoutError when no answer comes in time', async () => {
    const fake = await middleware(() => 'hang');
    transport = new EngineHttp(fake.url, {});
    await expect(transport.post('/x', '{}', 80)).rejects.toMatchObject({ name: 'TimeoutError', message: 'no answer within 80 ms' });
  });

  it('sends a request once more when a reused connection is cut under it, but not a fresh one', async () => {
    // The second request on any connection finds it cut, as when the middleware closes an idle one.
    const fake = await middleware((n) => (n === 2 ? 'cut' : 'answer'));
    transport = new EngineHttp(fake.url, {});
    expect((await transport.post('/x', '{}', 1000)).status).toBe(200);
    expect(JSON.parse((await transport.post('/x', '{}', 1000)).body)).toMatchObject({ n: 1 });
    expect(fake.requests()).toBe(3);
    expect(fake.connections()).toBe(2);

    const cutting = await middleware(() => 'cut');
    const fresh = new EngineHttp(cutting.url, {});
    await expect(fresh.post('/x', '{}', 1000)).rejects.toMatchObject({ code: 'ECONNRESET' });
    fresh.close();
    expect(cutting.requests()).toBe(1);
  });
});
