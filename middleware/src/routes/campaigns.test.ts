// Campaigns through app.inject(): the minimal body, defaults, validation naming the field,
// Handlebars errors with their line, the lifecycle with its 409s, If-Match, list filters, unknown
// tenants and campaigns, tenant tokens, and no secret in any answer.
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { startTestApp, type TestApp } from '../testing/test-app.js';

let t: TestApp;
beforeEach(async () => {
  t = await startTestApp();
  expect((await t.createTenant('acme')).statusCode).toBe(201);
});
afterEach(async () => {
  await t.close();
});

type Json = Record<string, any>;

const HOUR_MS = 3_600_000;
const iso = (offsetMs: number): string => new Date(Date.now() + offsetMs).toISOString();

/** The minimal body: name, inline template, audience all, schedule. */
function minimalCampaign(overrides: Json = {}): Json {
  return {
    name: 'Spring sale',
    template: { subject: 'Hello {{displayName}}', from: 'Acme News <news@acme.example>', html: '<p>Hi {{displayName}}</p>', text: 'Hi {{displayName}}' },
    audience: { type: 'all' },
    schedule: { startAt: iso(24 * HOUR_MS), endAt: iso(48 * HOUR_MS) },
    ...overrides,
  };
}

const base = '/api/tenants/acme/campaigns';

async function create(body: Json = minimalCampaign()): Promise<Json> {
  const response = await t.request('POST', base, { body });
  expect(response.statusCode, response.body).toBe(201);
  return response.json() as Json;
}

async function act(id: string, action: string) {
  return t.request('POST', `${base}/${id}/${action}`);
}

describe('POST /api/tenants/{id}/campaigns', { timeout: 30_000 }, () => {
  test('the minimal body creates a draft with every default, and scheduling it succeeds', async () => {
    const body = minimalCampaign();
    const response = await t.request('POST', base, { body });
    expect(response.statusCode, response.body).toBe(201);
    const created = response.json() as Json;
    expect(response.headers['location']).toBe(`${base}/${created['id']}`);
    expect(response.headers['etag']).toBe('"1"');
    expect(created['id']).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-1[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(created).toMatchObject({
      name: 'Spring sale',
      status: 'draft',
      actions: ['schedule', 'end'],
      revision: 1,
      template: body['template'],
      audience: { type: 'all' },
      schedule: { startAt: body['schedule'].startAt, endAt: body['schedule'].endAt, timeZone: 'UTC' },
      position: { type: 'newest' },
      frequency: { maxVisibleUnseen: 1, minDelayMinutes: 0 },
      reinjection: { policy: 'never' },
      priority: 0,
    });
    expect(created).not.toHaveProperty('variants');
    expect(Date.parse(created['createdAt'])).toBeGreaterThan(Date.now() - 60_000);

    const scheduled = await act(created['id'], 'schedule');
    expect(scheduled.statusCode, scheduled.body).toBe(200);
    expect(scheduled.json()).toMatchObject({ id: created['id'], status: 'scheduled', actions: ['pause', 'end'], revision: 2 });
    expect((await t.request('GET', `${base}/${created['id']}`)).json()).toEqual(scheduled.json());
  });

  test('a full campaign keeps every field, with timestamps in UTC and the time zone canonical', async () => {
    const body = minimalCampaign({
      template: { dataSourceId: 'default', objectKey: 'templates/spring.hbs' },
      audience: { type: 'rules', match: 'any', rules: [{ attribute: 'plan', op: 'in', value: ['gold', 'silver'] }, { attribute: 'age', op: 'gt', value: 30 }, { attribute: 'vip', op: 'exists' }] },
      schedule: { startAt: '2031-03-01T08:00:00+01:00', endAt: '2031-03-31T20:00:00.5+02:00', dailyWindow: { from: '22:00', to: '06:00' }, timeZone: 'europe/berlin' },
      position: { type: 'fixedDate', date: '2031-03-01T00:00:00Z' },
      frequency: { maxVisibleUnseen: 2, minDelayMinutes: 90 },
      reinjection: { policy: 'afterExpunge', delayHours: 24 },
      priority: 7,
      variants: [
        { id: 'a', weight: 3, template: { subject: 'A', from: 'a@acme.example', html: '<b>A</b>', text: 'A' } },
        { id: 'b', weight: 1, template: { objectKey: 'templates/b.hbs' } },
      ],
    });
    const created = await create(body);
    expect(created).toMatchObject({
      template: body['template'],
      audience: body['audience'],
      schedule: { startAt: '2031-03-01T07:00:00.000Z', endAt: '2031-03-31T18:00:00.500Z', dailyWindow: { from: '22:00', to: '06:00' }, timeZone: 'Europe/Berlin' },
      position: { type: 'fixedDate', date: '2031-03-01T00:00:00.000Z' },
      frequency: { maxVisibleUnseen: 2, minDelayMinutes: 90 },
      reinjection: { policy: 'afterExpunge', delayHours: 24, maxReinjections: 1 },
      priority: 7,
      variants: body['variants'],
    });
  });

  test('an unknown field, a missing field and a wrong type are 400s naming the field', async () => {
    const cases: [Json, RegExp][] = [
      [minimalCampaign({ colour: 'red' }), /^body has an unknown field "colour"$/],
      [{ ...minimalCampaign(), name: undefined }, /^body\.name is required$/],
      [minimalCampaign({ priority: 'high' }), /^body\.priority must be integer$/],
      [minimalCampaign({ audience: { type: 'list' } }), /^body\.audience\.importId is required$/],
      [minimalCampaign({ audience: { type: 'everyone' } }), /^body\.audience\.type must be one of "all", "list", "rules"$/],
      [minimalCampaign({ audience: { type: 'rules', rules: [{ attribute: 'plan', op: 'eq' }] } }), /^body\.audience\.rules\[0\]\.value is required$/],
      [minimalCampaign({ audience: { type: 'rules', rules: [{ attribute: 'plan', op: 'like', value: 'x' }] } }), /^body\.audience\.rules\[0\]\.op must be one of/],
      [minimalCampaign({ template: { subject: 'x', from: 'a@b.example', html: '' } }), /^body\.template\.text is required$/],
      [minimalCampaign({ template: { objectKey: 'a b' } }), /^body\.template\.objectKey must be a value without whitespace/],
      [minimalCampaign({ schedule: { startAt: 'tomorrow', endAt: iso(HOUR_MS) } }), /^body\.schedule\.startAt must be an RFC 3339 timestamp/],
      [minimalCampaign({ schedule: { startAt: '2031-02-30T00:00:00Z', endAt: '2031-03-30T00:00:00Z' } }), /^body\.schedule\.startAt is not a valid timestamp/],
      [minimalCampaign({ schedule: { startAt: iso(2 * HOUR_MS), endAt: iso(HOUR_MS) } }), /^body\.schedule\.endAt must be after body\.schedule\.startAt$/],
      [minimalCampaign({ schedule: { startAt: iso(HOUR_MS), endAt: iso(2 * HOUR_MS), timeZone: 'Mars/Olympus' } }), /^body\.schedule\.timeZone is not an IANA time zone/],
      [minimalCampaign({ schedule: { startAt: iso(HOUR_MS), endAt: iso(2 * HOUR_MS), dailyWindow: { from: '25:00', to: '06:00' } } }), /^body\.schedule\.dailyWindow\.from must be a time of day/],
      [minimalCampaign({ frequency: { maxVisibleUnseen: 0 } }), /^body\.frequency\.maxVisibleUnseen must be >= 1$/],
      [minimalCampaign({ reinjection: { policy: 'afterExpunge' } }), /^body\.reinjection\.delayHours is required$/],
      [minimalCampaign({ position: { type: 'fixedDate' } }), /^body\.position\.date is required$/],
      [minimalCampaign({ variants: [{ id: 'a', weight: 0, template: { objectKey: 'k' } }] }), /^body\.variants\[0\]\.weight must be >= 1$/],
      [minimalCampaign({ template: { subject: 'x', from: 'not an address', html: '', text: '' } }), /^body\.template\.from must be an address/],
      [minimalCampaign({ template: { objectKey: 'k', dataSourceId: 'nope' } }), /^body\.template\.dataSourceId names no data source of tenant "acme"$/],
    ];
    for (const [body, message] of cases) {
      const response = await t.request('POST', base, { body });
      expect(response.statusCode, JSON.stringify(body)).toBe(400);
      expect(response.json(), JSON.stringify(body)).toEqual({ code: 'INLAY_MW_VALIDATION', message: expect.stringMatching(message) });
    }
    const duplicate = await t.request('POST', base, {
      body: minimalCampaign({ variants: [1, 2].map(() => ({ id: 'same', weight: 1, template: { objectKey: 'k' } })) }),
    });
    expect(duplicate.json()).toMatchObject({ code: 'INLAY_MW_DUPLICATE_ID', message: expect.stringContaining('body.variants[1].id') });
    expect(await t.store.listCampaigns({ id: 'acme', keyspaceName: 'ks_acme' })).toEqual([]);
  });

  test('From may be a bare address or use Handlebars expressions', async () => {
    for (const from of ['news@acme.example', '{{brand}} <news@acme.example>', '"Acme, Inc." <news@{{domain}}>']) {
      await create(minimalCampaign({ template: { subject: 's', from, html: '', text: '' } }));
    }
  });

  test('a template that does not compile is refused with the field, the line and the reason', async () => {
    const broken: [Json, RegExp][] = [
      [{ html: '<p>\nline two\n{{#if vip}}\n{{/each}}' }, /^body\.template\.html is not a valid Handlebars template: line 3.*if doesn't match each/],
      [{ subject: 'Hello {{name}' }, /^body\.template\.subject is not a valid Handlebars template: line 1.*Expecting/],
      [{ text: 'a\nb {{> footer}}' }, /^body\.template\.text is not a valid Handlebars template: line 2.*partials/],
      [{ text: '{{shout name}}' }, /^body\.template\.text is not a valid Handlebars template: line 1/],
    ];
    for (const [parts, message] of broken) {
      const body = minimalCampaign();
      body['template'] = { ...body['template'], ...parts };
      const response = await t.request('POST', base, { body });
      expect(response.statusCode, JSON.stringify(parts)).toBe(400);
      expect(response.json()).toEqual({ code: 'INLAY_MW_TEMPLATE_INVALID', message: expect.stringMatching(message) });
    }
    const variant = await t.request('POST', base, {
      body: minimalCampaign({ variants: [{ id: 'a', weight: 1, template: { subject: 's', from: 'a@b.example', html: 'x\n\n{{#each}}', text: '' } }] }),
    });
    expect(variant.json()).toEqual({ code: 'INLAY_MW_TEMPLATE_INVALID', message: expect.stringMatching(/^body\.variants\[0\]\.template\.html is not a valid Handlebars template: line 3/) });
    expect(await t.store.listCampaigns({ id: 'acme', keyspaceName: 'ks_acme' })).toEqual([]);
  });

  test('a template nested deeper than the compiler can follow is a 400, not a 500', async () => {
    const depth = 12_000;
    const body = minimalCampaign();
    body['template'] = { ...body['template'], html: `${'{{#if a}}'.repeat(depth)}x${'{{/if}}'.repeat(depth)}` };
    const response = await t.request('POST', base, { body });
    expect(response.statusCode, response.body.slice(0, 300)).toBe(400);
    expect(response.json()).toEqual({ code: 'INLAY_MW_TEMPLATE_INVALID', message: 'body.template.html is not a valid Handlebars template: line 1: blocks nested more than 32 deep' });
  });

  test('an unknown tenant is 404; a bad tenant id is 400', async () => {
    expect((await t.request('POST', '/api/tenants/nobody/campaigns', { body: minimalCampaign() })).json()).toMatchObject({ code: 'INLAY_MW_TENANT_NOT_FOUND' });
    expect((await t.request('GET', '/api/tenants/nobody/campaigns')).statusCode).toBe(404);
    expect((await t.request('GET', '/api/tenants/nobody/campaigns/00000000-0000-1000-8000-000000000000')).json()).toMatchObject({ code: 'INLAY_MW_TENANT_NOT_FOUND' });
    expect((await t.request('GET', '/api/tenants/NOPE/campaigns')).json()).toMatchObject({ code: 'INLAY_MW_VALIDATION' });
  });
});

describe('GET /api/tenants/{id}/campaigns', { timeout: 30_000 }, () => {
  test('lists oldest first and filters by effective status', async () => {
    const draft = await create(minimalCampaign({ name: 'draft' }));
    const future = await create(minimalCampaign({ name: 'future' }));
    const now = await create(minimalCampaign({ name: 'now', schedule: { startAt: iso(-HOUR_MS), endAt: iso(HOUR_MS) } }));
    const paused = await create(minimalCampaign({ name: 'paused' }));
    const ended = await create(minimalCampaign({ name: 'ended' }));
    for (const campaign of [future, now, paused]) expect((await act(campaign['id'], 'schedule')).statusCode).toBe(200);
    expect((await act(paused['id'], 'pause')).statusCode).toBe(200);
    expect((await act(ended['id'], 'end')).statusCode).toBe(200);

    const all = (await t.request('GET', base)).json() as Json[];
    expect(all.map((campaign) => [campaign['name'], campaign['status']])).toEqual([
      ['draft', 'draft'],
      ['future', 'scheduled'],
      ['now', 'running'],
      ['paused', 'paused'],
      ['ended', 'ended'],
    ]);
    const names = async (status: string) => ((await t.request('GET', `${base}?status=${status}`)).json() as Json[]).map((campaign) => campaign['name']);
    expect(await names('draft')).toEqual(['draft']);
    expect(await names('scheduled')).toEqual(['future']);
    expect(await names('running')).toEqual(['now']);
    expect(await names('paused')).toEqual(['paused']);
    expect(await names('ended')).toEqual(['ended']);
    expect((await t.request('GET', `${base}?status=live`)).json()).toEqual({ code: 'INLAY_MW_VALIDATION', message: expect.stringMatching(/^querystring\.status must be one of/) });
    expect(draft['id']).not.toBe(future['id']);
  });

  test("another tenant's campaigns are not listed, and its campaign ids are 404 here", async () => {
    expect((await t.createTenant('other')).statusCode).toBe(201);
    const foreign = (await t.request('POST', '/api/tenants/other/campaigns', { body: minimalCampaign() })).json() as Json;
    expect((await t.request('GET', base)).json()).toEqual([]);
    expect((await t.request('GET', `${base}/${foreign['id']}`)).json()).toMatchObject({ code: 'INLAY_MW_CAMPAIGN_NOT_FOUND' });
  });
});

describe('GET/PUT/DELETE /api/tenants/{id}/campaigns/{cid}', { timeout: 30_000 }, () => {
  test('an unknown campaign is 404 on every route; a malformed id is 400', async () => {
    const unknown = `${base}/00000000-0000-1000-8000-000000000000`;
    for (const [method, url, body] of [
      ['GET', unknown],
      ['PUT', unknown, minimalCampaign()],
      ['DELETE', unknown],
      ['POST', `${unknown}/schedule`],
      ['POST', `${unknown}/end`],
    ] as const) {
      const response = await t.request(method, url, body === undefined ? {} : { body });
      expect(response.json(), `${method} ${url}`).toEqual({ code: 'INLAY_MW_CAMPAIGN_NOT_FOUND', message: expect.stringContaining('does not exist') });
      expect(response.statusCode).toBe(404);
    }
    // A v4 UUID is not a campaign id (campaign ids are timeuuids).
    expect((await t.request('GET', `${base}/00000000-0000-4000-8000-000000000000`)).json()).toMatchObject({ code: 'INLAY_MW_VALIDATION', message: expect.stringMatching(/^params\.cid must be/) });
  });

  test('PUT replaces the definition, keeps id, status and createdAt, and raises the revision', async () => {
    const created = await create(minimalCampaign({ variants: [{ id: 'a', weight: 1, template: { objectKey: 'k' } }], priority: 5 }));
    const replacement = minimalCampaign({ name: 'Renamed', audience: { type: 'list', importId: 'import-1' } });
    const response = await t.request('PUT', `${base}/${created['id']}`, { body: replacement });
    expect(response.statusCode, response.body).toBe(200);
    const updated = response.json() as Json;
    expect(updated).toMatchObject({ id: created['id'], name: 'Renamed', status: 'draft', revision: 2, createdAt: created['createdAt'], audience: { type: 'list', importId: 'import-1' }, priority: 0 });
    // Replace, not merge: what the PUT left out is gone.
    expect(updated).not.toHaveProperty('variants');
    expect(response.headers['etag']).toBe('"2"');
    expect((await t.request('GET', `${base}/${created['id']}`)).json()).toEqual(updated);
  });

  test('PUT is refused with 400 before any status check, and changes nothing', async () => {
    const created = await create();
    const bad = await t.request('PUT', `${base}/${created['id']}`, { body: minimalCampaign({ template: { subject: '{{#if}}', from: 'a@b.example', html: '', text: '' } }) });
    expect(bad.json()).toMatchObject({ code: 'INLAY_MW_TEMPLATE_INVALID' });
    expect((await t.request('GET', `${base}/${created['id']}`)).json()).toEqual(created);
  });

  test('If-Match: a stale revision is 412, the current one applies, a malformed one is 400', async () => {
    const created = await create();
    const url = `${base}/${created['id']}`;
    expect((await t.request('PUT', url, { body: minimalCampaign({ name: 'v2' }), headers: { 'if-match': '"1"' } })).statusCode).toBe(200);
    const stale = await t.request('PUT', url, { body: minimalCampaign({ name: 'v3' }), headers: { 'if-match': '"1"' } });
    expect(stale.statusCode).toBe(412);
    expect(stale.json()).toEqual({ code: 'INLAY_MW_CAMPAIGN_MODIFIED', message: expect.stringContaining('revision 2, not 1') });
    expect((await t.request('PUT', url, { body: minimalCampaign({ name: 'x' }), headers: { 'if-match': 'yesterday' } })).json()).toMatchObject({ code: 'INLAY_MW_VALIDATION' });
    expect((await t.request('DELETE', url, { headers: { 'if-match': '"1"' } })).statusCode).toBe(412);
    expect((await t.request('DELETE', url, { headers: { 'if-match': 'W/"2"' } })).statusCode).toBe(204);
  });

  test('a running or ended campaign cannot be edited; a running one cannot be deleted', async () => {
    const running = await create(minimalCampaign({ schedule: { startAt: iso(-HOUR_MS), endAt: iso(HOUR_MS) } }));
    expect((await act(running['id'], 'schedule')).json()).toMatchObject({ status: 'running', actions: ['pause', 'end'] });
    const edit = await t.request('PUT', `${base}/${running['id']}`, { body: minimalCampaign() });
    expect(edit.statusCode).toBe(409);
    expect(edit.json()).toEqual({ code: 'INLAY_MW_CAMPAIGN_STATE', message: `campaign "${running['id']}" is running: cannot edit (allowed: pause, end); pause it first` });
    const remove = await t.request('DELETE', `${base}/${running['id']}`);
    expect(remove.json()).toMatchObject({ code: 'INLAY_MW_CAMPAIGN_STATE', message: expect.stringContaining('is running: cannot delete') });

    // Paused: editable and deletable.
    expect((await act(running['id'], 'pause')).statusCode).toBe(200);
    expect((await t.request('PUT', `${base}/${running['id']}`, { body: minimalCampaign({ name: 'fixed' }) })).json()).toMatchObject({ status: 'paused', name: 'fixed' });

    const ended = await create();
    expect((await act(ended['id'], 'end')).statusCode).toBe(200);
    expect((await t.request('PUT', `${base}/${ended['id']}`, { body: minimalCampaign() })).json()).toMatchObject({ code: 'INLAY_MW_CAMPAIGN_STATE', message: expect.stringContaining('no action is allowed') });
    expect((await t.request('DELETE', `${base}/${ended['id']}`)).statusCode).toBe(204);
    expect((await t.request('DELETE', `${base}/${running['id']}`)).statusCode).toBe(204);
    expect((await t.request('GET', `${base}/${running['id']}`)).statusCode).toBe(404);
    expect((await t.request('DELETE', `${base}/${running['id']}`)).statusCode).toBe(404);
  });
});

describe('POST /api/tenants/{id}/campaigns/{cid}/schedule|pause|resume|end', { timeout: 30_000 }, () => {
  test('walks the state machine; each illegal action is a 409 naming the status and the allowed actions', async () => {
    const { id } = await create();
    const expectIllegal = async (action: string, status: string, allowed: string) => {
      const response = await act(id, action);
      expect(response.statusCode, `${action} while ${status}`).toBe(409);
      expect(response.json()).toEqual({ code: 'INLAY_MW_CAMPAIGN_STATE', message: `campaign "${id}" is ${status}: cannot ${action} (${allowed})` });
    };
    await expectIllegal('pause', 'draft', 'allowed: schedule, end');
    await expectIllegal('resume', 'draft', 'allowed: schedule, end');
    expect((await act(id, 'schedule')).json()).toMatchObject({ status: 'scheduled' });
    await expectIllegal('schedule', 'scheduled', 'allowed: pause, end');
    await expectIllegal('resume', 'scheduled', 'allowed: pause, end');
    expect((await act(id, 'pause')).json()).toMatchObject({ status: 'paused', actions: ['resume', 'end'] });
    await expectIllegal('pause', 'paused', 'allowed: resume, end');
    await expectIllegal('schedule', 'paused', 'allowed: resume, end');
    expect((await act(id, 'resume')).json()).toMatchObject({ status: 'scheduled' });
    expect((await act(id, 'end')).json()).toMatchObject({ status: 'ended', actions: [], revision: 5 });
    for (const action of ['schedule', 'pause', 'resume', 'end']) await expectIllegal(action, 'ended', 'no action is allowed');
  });

  test('a draft whose schedule has passed cannot be scheduled; one past endAt shows as ended', async () => {
    const past = await create(minimalCampaign({ schedule: { startAt: iso(-2 * HOUR_MS), endAt: iso(-HOUR_MS) } }));
    const refused = await act(past['id'], 'schedule');
    expect(refused.statusCode).toBe(409);
    expect(refused.json().message).toContain('schedule.endAt has passed');
  });

  test('two concurrent pauses: exactly one applies', async () => {
    const { id } = await create();
    await act(id, 'schedule');
    const results = await Promise.all([act(id, 'pause'), act(id, 'pause'), act(id, 'pause')]);
    expect(results.map((response) => response.statusCode).sort()).toEqual([200, 409, 409]);
    expect((await t.request('GET', `${base}/${id}`)).json()).toMatchObject({ status: 'paused', revision: 3 });
  });
});

describe('tenant tokens', { timeout: 30_000 }, () => {
  test("a tenant token manages its own tenant's campaigns and gets 403 on another's", async () => {
    expect((await t.createTenant('other')).statusCode).toBe(201);
    const token = await t.tenantToken('acme');
    const created = await t.request('POST', base, { token, body: minimalCampaign() });
    expect(created.statusCode).toBe(201);
    expect((await t.request('POST', `${base}/${created.json().id}/schedule`, { token })).statusCode).toBe(200);
    expect((await t.request('GET', '/api/tenants/other/campaigns', { token })).statusCode).toBe(403);
    expect((await t.request('POST', '/api/tenants/other/campaigns', { token, body: minimalCampaign() })).statusCode).toBe(403);
  });

  test('no answer carries a tenant or S3 secret', async () => {
    const created = await create(minimalCampaign({ template: { objectKey: 'k' } }));
    const answers = [
      JSON.stringify(created),
      (await t.request('GET', base)).body,
      (await t.request('GET', `${base}/${created['id']}`)).body,
      (await act(created['id'], 'schedule')).body,
    ];
    for (const body of answers) {
      expect(body).not.toContain('<secretKey>');
      expect(body).not.toContain('secretKey');
    }
  });
});
