// The operations listeners of both processes, as operators scrape and probe them: /metrics in
// Prometheus text format that promtool accepts, logins counted by result on the real Dovecot,
// /healthz always 200, and /readyz following what each process needs (the proxy: an upstream that
// accepts connections; the middleware: a store that reads).
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { proxyInFrontOf, testDovecot, userWithMail } from '../helpers/fixtures.ts';
import { startMiddleware, type RunningMiddleware } from '../helpers/middleware.ts';
import { startProxy, type RunningProxy } from '../helpers/proxy.ts';
import { RawImap } from '../helpers/raw-imap.ts';
import { ensureDebianPackages } from '../services/install.ts';

const dovecot = testDovecot();
let proxy: RunningProxy;
let middleware: RunningMiddleware;
let dataDir: string;

function listeningField(logs: Record<string, unknown>[], field: string): string {
  const line = logs.find((entry) => entry['event'] === 'listening');
  return String(line?.[field] ?? '');
}

/** `promtool check metrics` reads the exposition from stdin; resolves its exit code and output. */
function promtoolCheck(exposition: string): Promise<{ code: number | null; output: string }> {
  return promtool(['check', 'metrics'], exposition);
}

/** Runs promtool with `input` on stdin; resolves its exit code and output. */
function promtool(args: string[], input = '', cwd?: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('promtool', args, { stdio: ['pipe', 'pipe', 'pipe'], cwd });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
    child.stdin.end(input);
  });
}

/** The value of one sample, e.g. `inlay_proxy_logins_total{result="ok"}`. */
function sample(exposition: string, series: string): number | undefined {
  const line = exposition.split('\n').find((entry) => entry.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

beforeAll(async () => {
  // promtool ships in Debian's prometheus package (the server is not started).
  await ensureDebianPackages(['prometheus']);
  dataDir = await mkdtemp(join(tmpdir(), 'inlay-ops-'));
  // The proxy asks this middleware for INBOX views, so engine figures show on both sides.
  const internalToken = `ops-internal-${'y'.repeat(20)}`;
  middleware = await startMiddleware({ INLAY_DATA_DIR: dataDir, INLAY_ADMIN_TOKEN: `ops-admin-${'x'.repeat(20)}`, INLAY_INTERNAL_TOKEN: internalToken, INLAY_METRICS_LISTEN: '127.0.0.1:0' });
  proxy = await proxyInFrontOf(dovecot, { INLAY_PROXY_METRICS_LISTEN: '127.0.0.1:0', INLAY_PROXY_ENGINE_URL: middleware.baseUrl, INLAY_INTERNAL_TOKEN: internalToken });
});

afterAll(async () => {
  await proxy?.stop();
  await middleware?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

describe('the proxy', () => {
  const ops = (): string => `http://${listeningField(proxy.logs(), 'metrics')}`;

  it('counts logins by result and open connections, in exposition promtool accepts', async () => {
    const user = await userWithMail(dovecot, 1);
    const good = await RawImap.connect(proxy.port);
    await good.greeting();
    expect(await good.command('a', `LOGIN "${user.user}" "${user.password}"`)).toMatch(/^a OK/m);
    const bad = await RawImap.connect(proxy.port);
    await bad.greeting();
    expect(await bad.command('b', `LOGIN "${user.user}" "wrong-password"`)).toMatch(/^b NO/m);

    const response = await fetch(`${ops()}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const exposition = await response.text();
    expect(sample(exposition, 'inlay_proxy_logins_total{result="ok"}')).toBe(1);
    expect(sample(exposition, 'inlay_proxy_logins_total{result="refused"}')).toBe(1);
    expect(sample(exposition, 'inlay_proxy_logins_total{result="failed"}')).toBe(0);
    expect(sample(exposition, 'inlay_proxy_connections{listener="plain",state="authenticated"}')).toBe(1);
    expect(sample(exposition, 'inlay_proxy_connections{listener="plain",state="pre_login"}')).toBe(1);
    expect(sample(exposition, 'inlay_proxy_process_resident_memory_bytes')).toBeGreaterThan(0);
    const checked = await promtoolCheck(exposition);
    expect(checked.code, checked.output).toBe(0);
    good.close();
    bad.close();
  });

  it('counts commands by path, bytes, upstream and engine calls, and limit refusals, as the middleware counts the same engine calls', async () => {
    const user = await userWithMail(dovecot, 2);
    const client = await RawImap.connect(proxy.port);
    await client.greeting();
    // A literal larger than any credential, before login: refused with BAD, the session goes on.
    expect(await client.command('z', 'LOGIN {100000}')).toMatch(/^z BAD \[TOOBIG\]/m);
    expect(await client.command('a', `LOGIN "${user.user}" "${user.password}"`)).toMatch(/^a OK/m);
    expect(await client.command('b', 'LIST "" "*"')).toMatch(/^b OK/m);
    expect(await client.command('c', 'SELECT INBOX')).toMatch(/^c OK/m);
    expect(await client.command('d', 'FETCH 1:* (FLAGS)')).toMatch(/^d OK/m);
    client.close();
    const proxyText = await (await fetch(`${ops()}/metrics`)).text();
    expect(sample(proxyText, 'inlay_proxy_commands_total{command="LIST",path="byte_copy"}')).toBeGreaterThanOrEqual(1);
    expect(sample(proxyText, 'inlay_proxy_commands_total{command="SELECT",path="inbox_view"}')).toBeGreaterThanOrEqual(1);
    expect(sample(proxyText, 'inlay_proxy_commands_total{command="FETCH",path="inbox_view"}')).toBeGreaterThanOrEqual(1);
    expect(sample(proxyText, 'inlay_proxy_limit_refusals_total{kind="literal_size"}')).toBeGreaterThanOrEqual(1);
    expect(sample(proxyText, 'inlay_proxy_relayed_bytes_total{direction="to_client"}')).toBeGreaterThan(100);
    expect(sample(proxyText, 'inlay_proxy_upstream_command_duration_seconds_count')).toBeGreaterThanOrEqual(1);
    expect(sample(proxyText, 'inlay_proxy_upstream_connect_duration_seconds_count{outcome="ok"}')).toBeGreaterThanOrEqual(1);
    const engineCalls = proxyText
      .split('\n')
      .filter((line) => line.startsWith('inlay_proxy_engine_calls_total{'))
      .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
    expect(engineCalls).toBeGreaterThanOrEqual(1);
    const middlewareText = await (await fetch(`http://${String(middleware.listening['metrics'])}/metrics`)).text();
    const viewsAnswered = middlewareText
      .split('\n')
      .filter((line) => line.startsWith('inlay_mw_engine_view_requests_total{'))
      .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
    expect(viewsAnswered).toBeGreaterThanOrEqual(1);
    expect(sample(middlewareText, 'inlay_mw_delivery_backlog')).toBe(0);
    expect(middlewareText).toMatch(/^inlay_mw_store_operation_duration_seconds_count\{store="embedded",operation="[A-Za-z.]+"\} \d+/m);
    for (const text of [proxyText, middlewareText]) {
      const checked = await promtoolCheck(text);
      expect(checked.code, checked.output).toBe(0);
    }
  });

  it('is live, and ready while the upstream accepts connections', async () => {
    expect((await fetch(`${ops()}/healthz`)).status).toBe(200);
    const ready = await fetch(`${ops()}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.text()).toBe('ready\n');
    expect((await fetch(`${ops()}/nothing`)).status).toBe(404);
    expect((await fetch(`${ops()}/metrics`, { method: 'POST', body: 'x' })).status).toBe(405);
  });

  it('is not ready, but still live, when its upstream refuses connections', async () => {
    // A port that was free a moment ago and has nobody listening: connections are refused.
    const closed: Server = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as { port: number }).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const orphan = await startProxy({ env: { INLAY_UPSTREAM: `imap://127.0.0.1:${port}`, INLAY_PROXY_METRICS_LISTEN: '127.0.0.1:0' } });
    try {
      const address = `http://${listeningField(orphan.logs(), 'metrics')}`;
      const ready = await fetch(`${address}/readyz`);
      expect(ready.status).toBe(503);
      expect(await ready.text()).toMatch(/^not ready: upstream IMAP server unreachable \(127\.0\.0\.1:\d+: ECONNREFUSED\)/);
      expect((await fetch(`${address}/healthz`)).status).toBe(200);
    } finally {
      await orphan.stop();
    }
  });
});

describe('the middleware', () => {
  const ops = (): string => `http://${String(middleware.listening['metrics'])}`;

  it('counts requests by route template, never by URL, in exposition promtool accepts', async () => {
    for (const id of ['alpha', 'beta']) {
      const response = await fetch(`${middleware.baseUrl}/api/tenants/${id}`, { headers: { authorization: 'Bearer wrong-token-000000000000' } });
      expect(response.status).toBe(401);
    }
    const exposition = await (await fetch(`${ops()}/metrics`)).text();
    expect(sample(exposition, 'inlay_mw_http_requests_total{method="GET",route="/api/tenants/:id",status="401"}')).toBe(2);
    expect(exposition).not.toContain('alpha');
    const checked = await promtoolCheck(exposition);
    expect(checked.code, checked.output).toBe(0);
  });

  it('answers /healthz and /readyz on the metrics listener and on the API port', async () => {
    for (const base of [ops(), middleware.baseUrl]) {
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      expect((await fetch(`${base}/readyz`)).status).toBe(200);
    }
  });
});

describe('the systemd watchdog probe (systemd/healthz-check.mjs)', () => {
  const probe = fileURLToPath(new URL('../../systemd/healthz-check.mjs', import.meta.url));
  const run = (url: string): Promise<{ code: number | null; output: string }> =>
    new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [probe, url], { stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, output }));
    });

  it('passes on a live process and fails, naming why, where nothing answers', async () => {
    const live = await run(`http://${listeningField(proxy.logs(), 'metrics')}/healthz`);
    expect(live.code, live.output).toBe(0);
    const closed: Server = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as { port: number }).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const dead = await run(`http://127.0.0.1:${port}/healthz`);
    expect(dead.code).toBe(1);
    expect(dead.output).toMatch(/no 200 in 3 attempts \(last: ECONNREFUSED\)/);
  });
});

describe('deploy/monitoring', () => {
  const monitoring = fileURLToPath(new URL('../../deploy/monitoring/', import.meta.url));
  const rulesFile = `${monitoring}inlay-alerts.yml`;

  /** Every inlay_* metric name a PromQL expression mentions (histogram series keep their suffix). */
  const metricNames = (expressions: string[]): Set<string> => new Set(expressions.flatMap((expr) => [...expr.matchAll(/\b(inlay_[a-z0-9_]+)\b/g)].map((match) => match[1]!)));

  /** Sample names in an exposition: `name{...} value` or `name value`. */
  const exposedNames = (exposition: string): Set<string> =>
    new Set(exposition.split('\n').filter((line) => line !== '' && !line.startsWith('#')).map((line) => line.split(/[{ ]/)[0]!));

  it('alert rules pass promtool check rules, and promtool test rules fires each of them', async () => {
    const checked = await promtool(['check', 'rules', rulesFile]);
    expect(checked.code, checked.output).toBe(0);
    const tested = await promtool(['test', 'rules', 'inlay-alerts.test.yml'], '', monitoring);
    expect(tested.code, tested.output).toBe(0);
    // Each alert has at least one test case that expects it to fire.
    const rules = parseYaml(await readFile(rulesFile, 'utf8')) as { groups: { rules: { alert: string }[] }[] };
    const tests = parseYaml(await readFile(`${monitoring}inlay-alerts.test.yml`, 'utf8')) as { tests: { alert_rule_test: { alertname: string; exp_alerts: unknown[] }[] }[] };
    const fired = new Set(tests.tests.flatMap((test) => test.alert_rule_test.filter((check) => check.exp_alerts.length > 0).map((check) => check.alertname)));
    const alerts = rules.groups.flatMap((group) => group.rules.map((rule) => rule.alert));
    expect(alerts).toEqual(expect.arrayContaining(['InlayUpstreamDown', 'InlayEngineFailing', 'InlayDeliveryBacklogGrowing', 'InlayLoginFailureRatioHigh']));
    expect(alerts.filter((alert) => !fired.has(alert))).toEqual([]);
  });

  it('the dashboard and the rules reference only metrics the running proxy and middleware expose', async () => {
    // Some traffic first, so that labelled histograms have their first series.
    const user = await userWithMail(dovecot, 1);
    const client = await RawImap.connect(proxy.port);
    await client.greeting();
    expect(await client.command('a', `LOGIN "${user.user}" "${user.password}"`)).toMatch(/^a OK/m);
    expect(await client.command('b', 'LIST "" "*"')).toMatch(/^b OK/m);
    client.close();
    await fetch(`${middleware.baseUrl}/api/tenants`);
    const proxyExposition = await (await fetch(`http://${listeningField(proxy.logs(), 'metrics')}/metrics`)).text();
    const middlewareExposition = await (await fetch(`http://${String(middleware.listening['metrics'])}/metrics`)).text();
    const exposed = new Set([...exposedNames(proxyExposition), ...exposedNames(middlewareExposition)]);

    const dashboard = JSON.parse(await readFile(`${monitoring}inlay-dashboard.json`, 'utf8')) as {
      panels: { targets?: { expr: string }[] }[];
      templating: { list: { definition?: string }[] };
    };
    const dashboardExpressions = [
      ...dashboard.panels.flatMap((panel) => (panel.targets ?? []).map((target) => target.expr)),
      ...dashboard.templating.list.flatMap((variable) => (variable.definition ? [variable.definition] : [])),
    ];
    const rules = parseYaml(await readFile(rulesFile, 'utf8')) as { groups: { rules: { expr: string }[] }[] };
    const ruleExpressions = rules.groups.flatMap((group) => group.rules.map((rule) => rule.expr));

    const referenced = metricNames([...dashboardExpressions, ...ruleExpressions]);
    expect(referenced.size).toBeGreaterThan(25);
    expect([...referenced].filter((name) => !exposed.has(name)).sort()).toEqual([]);
    // And the other way round: each metric the issue asks for is on the dashboard.
    for (const name of ['inlay_proxy_commands_total', 'inlay_proxy_limit_refusals_total', 'inlay_mw_delivery_backlog', 'inlay_mw_store_operation_duration_seconds_bucket']) expect(referenced).toContain(name);
  });
});
