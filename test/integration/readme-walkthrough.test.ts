// The README's "First campaign in five minutes", run exactly as written: the shell block between
// the walkthrough markers is read from README.md and run by bash against a stack started the
// README's way (scripts/start-stack.mjs, no token or engine URL set: injection must be on by
// default) in front of the test Dovecot, on free ports. Then the rest of issue 12's loop with a
// second real client (Python's imaplib, through the proxy): it fetches BODY[] and expunges the
// message; the report says 1/1/1, tracking lists the three events with the client's address and
// IMAP ID name, and the tracked EML is byte for byte what imaplib fetched. Each event then goes,
// refused once and accepted once, to three signed webhook points, and to the seed's `ongage` GET
// points and `amqp` points on the RabbitMQ the test run starts (INLAY_TEST_SERVICES=dovecot,rabbitmq).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { connect, type ConsumeMessage } from 'amqplib';
import { WebhookBodySchema } from '@inlay/schemas';
import { Ajv } from 'ajv';
import { dovecotFromInfo, type DovecotClient, type DovecotUser } from '../services/dovecot.ts';
import { freePort } from '../services/ports.ts';
import { userWithMail } from '../helpers/fixtures.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../../middleware/src/testing/webhook-receiver.ts';

const run = promisify(execFile);
const dovecot: DovecotClient = dovecotFromInfo(inject('dovecot'));
const REPO = fileURLToPath(new URL('../../', import.meta.url));

/** The shell block of the README's walkthrough, as written. */
async function walkthroughScript(): Promise<string> {
  const readme = await readFile(join(REPO, 'README.md'), 'utf8');
  const section = /<!-- walkthrough:start -->\s*```sh\n([\s\S]*?)```\s*<!-- walkthrough:end -->/.exec(readme);
  if (section === null) throw new Error('README.md has no walkthrough block between <!-- walkthrough:start --> and <!-- walkthrough:end -->');
  return section[1]!;
}

let dataDir: string;
let stack: ChildProcess;
let output = '';
let apiPort: number;
let imapPort: number;
let user: DovecotUser;
/** Three signed webhook points' receiver: it refuses each delivery's first attempt. */
let webhooks: WebhookReceiver;
/** The walkthrough's conversion point, on loopback: the URLs of the GETs it received. */
let tracker: Server;
const trackedUrls: string[] = [];

async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${what} did not happen within ${timeoutMs} ms:\n${output}`);
}

const api = async (path: string, headers: Record<string, string> = {}): Promise<Response> => {
  const token = (await readFile(join(dataDir, 'admin-token'), 'utf8')).trim();
  return fetch(`http://127.0.0.1:${apiPort}/api${path}`, { headers: { authorization: `Bearer ${token}`, ...headers } });
};

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'inlay-readme-'));
  user = await userWithMail(dovecot, 2);
  webhooks = await startWebhookReceiver({ answer: (request) => ({ status: request.nth === 1 ? 503 : 204 }) });
  tracker = createServer((request, response) => {
    trackedUrls.push(request.url ?? '');
    response.writeHead(204).end();
  });
  await new Promise<void>((resolve) => tracker.listen(0, '127.0.0.1', resolve));
  apiPort = await freePort();
  imapPort = await freePort();
  // `npm start` is `node scripts/start-stack.mjs`; run it directly so the test owns the process.
  stack = spawn(process.execPath, [join(REPO, 'scripts/start-stack.mjs')], {
    cwd: dataDir,
    env: {
      PATH: process.env['PATH'] ?? '/usr/bin:/bin',
      INLAY_UPSTREAM: `imap://127.0.0.1:${dovecot.port}`,
      INLAY_HTTP_LISTEN: `127.0.0.1:${apiPort}`,
      INLAY_PROXY_LISTEN: `127.0.0.1:${imapPort}`,
      INLAY_DATA_DIR: dataDir,
      // The walkthrough's tracking point is on loopback here, which points may reach only when allowed.
      INLAY_DELIVERY_ALLOWED_NETWORKS: '127.0.0.0/8',
      // Retries two seconds apart (time to bind a queue after an AMQP point's first attempt), not the production 5 s, 5 min, …: the test waits for the retry.
      INLAY_DELIVERY_RETRY_SCHEDULE: '2,2,2,2,2',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  stack.stdout!.setEncoding('utf8').on('data', (text: string) => (output += text));
  stack.stderr!.setEncoding('utf8').on('data', (text: string) => (output += text));
  await waitFor(async () => output.includes('"event":"listening"') && output.includes('inlay-proxy') && (await api('/tenants')).ok, 'the stack starting');
}, 60_000);

afterAll(async () => {
  if (stack && stack.exitCode === null) {
    const exited = new Promise((resolve) => stack.once('exit', resolve));
    stack.kill('SIGTERM');
    await exited;
  }
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
  tracker?.close();
  await webhooks?.close();
});

const send = async (method: string, path: string, body?: unknown): Promise<Response> => {
  const token = (await readFile(join(dataDir, 'admin-token'), 'utf8')).trim();
  return fetch(`http://127.0.0.1:${apiPort}/api${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
};

/** A new user of the tenant through the proxy: SELECT (injected), BODY[] (read), delete and expunge (expunged). */
const readAndExpungeScript = `
import imaplib, sys
m = imaplib.IMAP4('127.0.0.1', int(sys.argv[1]))
m.login(sys.argv[2], sys.argv[3])
m.select('INBOX')
typ, data = m.uid('SEARCH', None, 'SUBJECT', '"Welcome to Inlay"')
uid = data[0].split()[-1]
m.uid('FETCH', uid, '(BODY[])')
m.uid('STORE', uid, '+FLAGS', '(\\\\Deleted)')
m.expunge()
m.logout()
`;

describe('README: first campaign in five minutes', () => {
  let campaignId: string;

  it('runs as written: the tenant, the point, the campaign; curl through the proxy sees it; the report counts it', async () => {
    const script = await walkthroughScript();
    const { stdout } = await run('bash', ['--norc', '--noprofile', '-euo', 'pipefail', '-c', script], {
      cwd: dataDir,
      env: {
        PATH: process.env['PATH'] ?? '/usr/bin:/bin',
        API: `http://127.0.0.1:${apiPort}/api`,
        IMAP: `imap://127.0.0.1:${imapPort}`,
        USER_LOGIN: user.user,
        USER_PASSWORD: user.password,
        INLAY_DATA_DIR: dataDir,
        TRACK_URL: `http://127.0.0.1:${(tracker.address() as AddressInfo).port}/read`,
      },
      timeout: 60_000,
    });
    // The IMAP client (curl) saw the campaign message among the real mail.
    expect(stdout).toContain('Subject: Welcome to Inlay');
    expect(output).not.toMatch(/internal engine API off|injection off/);
    const campaigns = (await (await api('/tenants/default/campaigns')).json()) as { id: string; name: string }[];
    campaignId = campaigns.find((campaign) => campaign.name === 'Welcome')!.id;
    const report = (await (await api(`/tenants/default/campaigns/${campaignId}/report`)).json()) as { totals: Record<string, number> };
    expect(report.totals).toEqual({ injected: 1, reinjected: 0, read: 1, expunged: 0 });
    // The report's output in the walkthrough is that same report.
    expect(stdout).toContain('"totals":{"injected":1,"reinjected":0,"read":1,"expunged":0}');
    // The conversion point got the read: one GET with the event's id filled in.
    const listed = (await (await api(`/tenants/default/events?campaignId=${campaignId}&type=read`)).json()) as { events: { id: string }[] };
    const read = listed.events[0];
    await waitFor(async () => trackedUrls.length > 0, 'the read event reaching the conversion point');
    expect(trackedUrls).toEqual([`/read?event=${encodeURIComponent(read!.id)}`]);
  }, 90_000);

  it("imaplib through the proxy: BODY[] is the tracked EML byte for byte; after its expunge the report says 1/1/1 and tracking lists the three events with the client's address", async () => {
    // imaplib sends an IMAP ID first, so the expunged event names the client.
    const script = `
import imaplib, sys, base64
imaplib.Commands['ID'] = ('NONAUTH', 'AUTH', 'SELECTED')
m = imaplib.IMAP4('127.0.0.1', int(sys.argv[1]))
m._simple_command('ID', '("name" "imaplib-walkthrough" "version" "3.11")')
m.login(sys.argv[2], sys.argv[3])
m.select('INBOX')
typ, data = m.uid('SEARCH', None, 'SUBJECT', '"Welcome to Inlay"')
uid = data[0].split()[-1]
typ, fetched = m.uid('FETCH', uid, '(BODY[])')
body = fetched[0][1]
m.uid('STORE', uid, '+FLAGS', '(\\\\Deleted)')
m.expunge()
m.logout()
print(uid.decode() + ' ' + base64.b64encode(body).decode())
`;
    const { stdout } = await run('python3', ['-c', script, String(imapPort), user.user, user.password], { timeout: 60_000 });
    const [uid, encoded] = stdout.trim().split(' ');
    const fetched = Buffer.from(encoded!, 'base64');

    const report = (await (await api(`/tenants/default/campaigns/${campaignId}/report?bucket=hour`)).json()) as { totals: Record<string, number>; uniqueUsers: Record<string, number>; readRate: number };
    expect(report.totals).toEqual({ injected: 1, reinjected: 0, read: 1, expunged: 1 });
    expect(report.uniqueUsers).toEqual({ injected: 1, read: 1, expunged: 1 });
    expect(report.readRate).toBe(1);

    const tracking = (await (await api(`/tenants/default/tracking?user=${encodeURIComponent(user.user)}`)).json()) as {
      messages: { objectId: string; campaignId: string; uid: number; events: { type: string; clientAddress: string | null; clientName: string | null; node: string | null }[] }[];
    };
    expect(tracking.messages).toHaveLength(1);
    const [message] = tracking.messages;
    expect(message!.campaignId).toBe(campaignId);
    expect(message!.uid).toBe(Number(uid));
    expect(message!.events.map((event) => event.type)).toEqual(['injected', 'read', 'expunged']);
    for (const event of message!.events) {
      expect(event.clientAddress).toBe('127.0.0.1');
      expect(event.node).toBeTruthy();
    }
    expect(message!.events[2]!.clientName).toBe('imaplib-walkthrough');

    const eml = await api(`/tenants/default/tracking/message.eml?user=${encodeURIComponent(user.user)}&objectId=${encodeURIComponent(message!.objectId)}`);
    expect(eml.status).toBe(200);
    expect(eml.headers.get('content-type')).toMatch(/^message\/rfc822/);
    const bytes = Buffer.from(await eml.arrayBuffer());
    expect(bytes.equals(fetched)).toBe(true);

    const events = (await (await api(`/tenants/default/events?campaignId=${campaignId}`)).json()) as { events: { type: string }[] };
    expect(events.events.map((event) => event.type)).toEqual(['expunged', 'read', 'injected']);
    const csv = await api(`/tenants/default/campaigns/${campaignId}/report?bucket=hour`, { accept: 'text/csv' });
    expect(csv.headers.get('content-type')).toMatch(/^text\/csv/);
    const rows = (await csv.text()).trim().split('\r\n');
    expect(rows[0]).toBe('start,injected,reinjected,read,expunged');
    expect(rows.slice(1).map((row) => row.split(',').slice(1).map(Number)).reduce((sum, row) => sum.map((value, i) => value + row[i]!), [0, 0, 0, 0])).toEqual([1, 0, 1, 1]);
  }, 90_000);
  it('three signed webhook points get each event of a new user exactly once, after one refused attempt, verified by the reference verifier', async () => {
    const token = (await readFile(join(dataDir, 'admin-token'), 'utf8')).trim();
    const send = (method: string, path: string, body?: unknown): Promise<Response> =>
      fetch(`http://127.0.0.1:${apiPort}/api${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    const points = (await (await api('/tenants/default/conversionPoints')).json()) as { id: string }[];
    const hooks = ['injected', 'read', 'expunged'].map((eventType) => ({ id: `hook-${eventType}`, type: 'webhook', eventType, connectionInformation: { url: webhooks.url(`/${eventType}`) } }));
    const saved = await send('PUT', '/tenants/default/conversionPoints', [...points, ...hooks]);
    const putAt = new Date().toISOString();
    expect(saved.status, await saved.clone().text()).toBe(200);
    webhooks.secrets = await Promise.all(hooks.map(async (hook) => ((await (await api(`/tenants/default/conversionPoints/${hook.id}/secret`)).json()) as { secret: string }).secret));
    expect(webhooks.secrets.every((secret) => secret.startsWith('whsec_'))).toBe(true);

    const second = await userWithMail(dovecot, 1);
    const script = `
import imaplib, sys
m = imaplib.IMAP4('127.0.0.1', int(sys.argv[1]))
m.login(sys.argv[2], sys.argv[3])
m.select('INBOX')
typ, data = m.uid('SEARCH', None, 'SUBJECT', '"Welcome to Inlay"')
uid = data[0].split()[-1]
m.uid('FETCH', uid, '(BODY[])')
m.uid('STORE', uid, '+FLAGS', '(\\\\Deleted)')
m.expunge()
m.logout()
`;
    await run('python3', ['-c', script, String(imapPort), second.user, second.password], { timeout: 60_000 });
    const events = (await (await api(`/tenants/default/events?user=${encodeURIComponent(second.user)}`)).json()) as { events: { id: string; type: string }[] };
    expect(events.events.map((event) => event.type).sort()).toEqual(['expunged', 'injected', 'read']);

    try {
      await waitFor(async () => events.events.every((event) => webhooks.accepted().get(event.id) === 1), 'each event accepted once by its webhook point', 60_000);
    } catch (error) {
      const health = await Promise.all(hooks.map(async (hook) => (await api(`/tenants/default/conversionPoints/${hook.id}/health`)).text()));
      const listed = await (await api(`/tenants/default/events?user=${encodeURIComponent(second.user)}`)).text();
      throw new Error(`${(error as Error).message}\nputAt: ${putAt}\nevents: ${listed}\nreceived: ${JSON.stringify(webhooks.requests.map((r) => [r.url, r.id, r.status]))}\nhealth: ${health.join('\n')}`);
    }
    for (const event of events.events) {
      const attempts = webhooks.requests.filter((request) => request.id === event.id);
      // Refused once, accepted once, at the point for its type; every attempt signed verifiably.
      expect(attempts.map((request) => [request.url, request.status])).toEqual([[`/${event.type}`, 503], [`/${event.type}`, 204]]);
      expect(attempts.every((request) => request.verified)).toBe(true);
      expect(JSON.parse(attempts[1]!.body)).toMatchObject({ type: `inlay.${event.type}`, data: { id: event.id, type: event.type } });
    }
    expect(webhooks.overlaps.size).toBe(0);
    // The stack's log tells of the refused attempts, and never holds a secret: not the points'
    // signing secrets, not the admin or internal token.
    expect(output).toContain('delivery attempt failed');
    for (const secret of webhooks.secrets) expect(output).not.toContain(secret.slice('whsec_'.length));
    expect(output).not.toContain('whsec_');
    for (const file of ['admin-token', 'internal-token']) expect(output).not.toContain((await readFile(join(dataDir, file), 'utf8')).trim());
  }, 120_000);

  it("the seed's ongage GET points and amqp points on RabbitMQ get each event of a new user exactly once, after one refused attempt, as the REST API lists it", async () => {
    const rabbit = inject('rabbitmq');
    const isWebhookBody = new Ajv({ strict: false, logger: false }).compile(WebhookBodySchema);
    // The ongage receiver: a tracking pixel that refuses the first request of each event.
    const pixels: { path: string; query: URLSearchParams; id: string; status: number }[] = [];
    const pixel = createServer((request, response) => {
      const url = new URL(request.url ?? '/', 'http://pixel');
      const id = url.searchParams.get('id') ?? '';
      const status = pixels.some((seen) => seen.id === id && seen.path === url.pathname) ? 204 : 503;
      pixels.push({ path: url.pathname, query: url.searchParams, id, status });
      response.writeHead(status).end();
    });
    await new Promise<void>((resolve) => pixel.listen(0, '127.0.0.1', resolve));
    // The broker: a topic exchange with no queue bound for an event until its first publish came
    // back unroutable (a failed attempt); then the event's own routing key is bound.
    const model = await connect(rabbit.url);
    const channel = await model.createChannel();
    const exchange = `inlay-walkthrough-${process.pid}`;
    const published: ConsumeMessage[] = [];
    try {
      await channel.assertExchange(exchange, 'topic', { durable: false, autoDelete: false });
      const queue = (await channel.assertQueue('', { exclusive: true })).queue;
      await channel.consume(queue, (message) => message && published.push(message), { noAck: true });

      const types = ['injected', 'read', 'expunged'] as const;
      const pixelUrl = `http://127.0.0.1:${(pixel.address() as AddressInfo).port}`;
      const seedPoints = types.map((eventType) => ({
        id: `ongage-${eventType}`,
        type: 'ongage',
        eventType,
        connectionInformation: { url: `${pixelUrl}/${eventType}?id={{eventId}}&type={{eventType}}&user={{email}}&campaign={{campaignId}}&msg={{messageId}}&at={{occurredAt}}` },
      }));
      const brokerPoints = types.map((eventType) => ({ id: `amqp-${eventType}`, type: 'amqp', eventType, connectionInformation: { url: rabbit.url, exchange, routingKey: 'walk.{{eventType}}.{{eventId}}' } }));
      const current = (await (await api('/tenants/default/conversionPoints')).json()) as unknown[];
      const saved = await send('PUT', '/tenants/default/conversionPoints', [...current, ...seedPoints, ...brokerPoints]);
      expect(saved.status, await saved.clone().text()).toBe(200);

      const third = await userWithMail(dovecot, 1);
      const bound = new Set<string>();
      let binding = true;
      // Bind each event's routing key once its first attempt has failed (retries are 2 s apart here).
      const binder = (async () => {
        while (binding) {
          for (const eventType of types) {
            const listed = (await (await api(`/tenants/default/conversionPoints/amqp-${eventType}/deliveries`)).json()) as { deliveryId: string; attempts: number }[];
            for (const delivery of listed) {
              if (delivery.attempts < 1 || bound.has(delivery.deliveryId)) continue;
              await channel.bindQueue(queue, exchange, `walk.${eventType}.${delivery.deliveryId}`);
              bound.add(delivery.deliveryId);
            }
          }
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      })();
      try {
        await run('python3', ['-c', readAndExpungeScript, String(imapPort), third.user, third.password], { timeout: 60_000 });
        const listed = (await (await api(`/tenants/default/events?user=${encodeURIComponent(third.user)}`)).json()) as { events: { id: string; type: string; campaignId: string; userKey: string; messageId: string; occurredAt: string }[] };
        const events = listed.events;
        expect(events.map((event) => event.type).sort()).toEqual(['expunged', 'injected', 'read']);
        await waitFor(
          async () => events.every((event) => pixels.some((seen) => seen.id === event.id && seen.status === 204) && published.some((message) => message.properties.messageId === event.id)),
          'each event accepted by its ongage and amqp points',
          60_000,
        );

        for (const event of events) {
          // ongage: a GET of the filled URL, refused once, accepted once; placeholders filled.
          const gets = pixels.filter((seen) => seen.id === event.id);
          expect(gets.map((seen) => [seen.path, seen.status])).toEqual([[`/${event.type}`, 503], [`/${event.type}`, 204]]);
          expect(Object.fromEntries(gets[1]!.query)).toEqual({ id: event.id, type: event.type, user: event.userKey, campaign: event.campaignId, msg: event.messageId, at: event.occurredAt });
          // amqp: published once (the first publish came back unroutable), under its routing key,
          // the event id as message id, the body a WebhookBody whose data is the REST event.
          const messages = published.filter((message) => message.properties.messageId === event.id);
          expect(messages).toHaveLength(1);
          expect(messages[0]!.fields.routingKey).toBe(`walk.${event.type}.${event.id}`);
          const body = JSON.parse(messages[0]!.content.toString()) as { data: unknown };
          expect(isWebhookBody(body), JSON.stringify(isWebhookBody.errors)).toBe(true);
          expect(body).toEqual({ type: `inlay.${event.type}`, timestamp: event.occurredAt, data: event });
          await waitFor(async () => ((await (await api(`/tenants/default/conversionPoints/amqp-${event.type}/deliveries/${event.id}`)).json()) as { state: string }).state === 'delivered', 'the publish recorded');
          const log = (await (await api(`/tenants/default/conversionPoints/amqp-${event.type}/deliveries/${event.id}`)).json()) as { attempts: number; log: { ok: boolean; error?: string }[] };
          expect(log.attempts).toBe(2);
          expect(log.log.map((attempt) => attempt.ok)).toEqual([false, true]);
          expect(log.log[0]!.error).toMatch(/^no queue is bound/);
        }
        // The broker's password (in the point's URL) is in no log line.
        expect(output).not.toContain(new URL(rabbit.url).password ? `:${new URL(rabbit.url).password}@` : 'guest:guest@');
      } finally {
        binding = false;
        await binder;
      }
    } finally {
      await channel.deleteExchange(exchange).catch(() => undefined);
      await model.close();
      pixel.close();
    }
  }, 120_000);
});
