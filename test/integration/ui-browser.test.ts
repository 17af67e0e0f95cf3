// The campaign web UI in a real browser (Debian's chromium under playwright-core) against the real
// stack: the built middleware serving the UI and the API (embedded store), the real proxy in front
// of the run's Dovecot, a local webhook receiver, and Python's imaplib as the user's mail client.
// Issue 13's "Done means": the end-to-end campaign, axe-core on every screen at 375 and 1280 px
// with screenshots into docs/screenshots/, a keyboard-only campaign creation, and a tenant token
// confined to its tenant in the UI and the API.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { dovecotFromInfo, type DovecotClient, type DovecotUser } from '../services/dovecot.ts';
import { sampleMessage } from '../helpers/fixtures.ts';
import { startInjectionStack, type InjectionStack } from '../helpers/injection-stack.ts';
import { WIDTHS, launchBrowser, screenshot, seriousViolations } from '../helpers/browser.ts';

const run = promisify(execFile);
const dovecot: DovecotClient = dovecotFromInfo(inject('dovecot'));

/** Logs in through the proxy, finds the campaign message by subject, fetches BODY[] (which marks
 *  it read) and prints the fetched bytes as base64. */
const FETCH_CLIENT = `
import imaplib, sys, base64
m = imaplib.IMAP4('127.0.0.1', int(sys.argv[1]))
m.login(sys.argv[2], sys.argv[3])
m.select('INBOX')
typ, data = m.uid('SEARCH', None, 'SUBJECT', sys.argv[4])
uid = data[0].split()[-1]
typ, fetched = m.uid('FETCH', uid, '(BODY[])')
print(base64.b64encode(fetched[0][1]).decode())
m.logout()
`;

let stack: InjectionStack;
let browser: Browser;
let receiver: Server;
let receiverUrl: string;
const received: string[] = [];
let user: DovecotUser;
let campaignId = '';

function localInput(ms: number): string {
  return new Date(ms).toISOString().slice(0, 16);
}

async function signedInPage(context: BrowserContext, token: string): Promise<Page> {
  // A step that cannot happen fails in seconds, naming itself, instead of at the test's timeout.
  context.setDefaultTimeout(15_000);
  const page = await context.newPage();
  await page.goto(`${stack.middleware.baseUrl}/`);
  await page.waitForURL('**/signin');
  await page.fill('#token', token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((url) => url.pathname !== '/signin');
  return page;
}

async function typeInto(page: Page, editorId: string, text: string): Promise<void> {
  await page.locator(`#${editorId}-input`).click();
  // One input event per field (as a paste): per-key typing is slow on a loaded machine.
  await page.keyboard.insertText(text);
}

beforeAll(async () => {
  receiver = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    request.on('end', () => {
      received.push(body);
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  stack = await startInjectionStack({ dovecot, middlewareEnv: { INLAY_DELIVERY_ALLOWED_NETWORKS: '127.0.0.0/8' } });
  browser = await launchBrowser();
  // An address with a domain: the preview, like a real login, names the user by address.
  user = await dovecot.addUser(`ui-${randomBytes(4).toString('hex')}@example.org`);
  await dovecot.appendMessages(user.user, [sampleMessage(1), sampleMessage(2)]);
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  receiver?.close();
});

describe('the campaign UI end to end', () => {
  test('sign in → campaign with two variants, rules audience, schedule → preview equals the bytes imaplib fetches → results, tracking, EML, delivery log', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
    const page = await signedInPage(context, stack.adminToken);
    expect(new URL(page.url()).pathname).toBe('/tenants');

    // A webhook point for "read", added through the UI.
    await page.goto(`${stack.middleware.baseUrl}/t/default/conversion-points`);
    await page.fill('#point-id', 'reads');
    await page.selectOption('#point-event', 'read');
    await page.fill('#point-url', receiverUrl);
    await page.getByRole('button', { name: 'Add point' }).click();
    await page.getByRole('heading', { name: /^reads/ }).waitFor();

    // The campaign.
    await page.goto(`${stack.middleware.baseUrl}/t/default/campaigns/new`);
    await page.fill('#campaign-name', 'UI spring sale');
    await typeInto(page, 'template-subject', 'UI sale A for {{address}}');
    await typeInto(page, 'template-from', 'Offers <offers@example.com>');
    await typeInto(page, 'template-html', '<p>Variant A for {{address}}</p>');
    await typeInto(page, 'template-text', 'Variant A for {{address}}');
    await page.getByRole('button', { name: 'Add variant' }).click();
    await page.getByRole('button', { name: 'Add variant' }).click();
    await typeInto(page, 'variants-1--template-subject', 'UI sale B for {{address}}');
    await typeInto(page, 'variants-1--template-from', 'Offers <offers@example.com>');
    await typeInto(page, 'variants-1--template-html', '<p>Variant B for {{address}}</p>');
    await typeInto(page, 'variants-1--template-text', 'Variant B for {{address}}');
    await page.getByLabel('Users whose attributes match rules').check();
    await page.fill('#rule-0-attribute', 'plan');
    await page.selectOption('#rule-0-op', 'ne');
    await page.fill('#rule-0-value', 'blocked');
    await page.fill('#schedule-zone', 'UTC');
    await page.fill('#schedule-start', localInput(Date.now() - 10 * 60_000));
    await page.fill('#schedule-end', localInput(Date.now() + 86_400_000));
    // A fixed date makes the Date header known before injection, so preview and fetch are equal bytes.
    await page.selectOption('#position', 'fixedDate');
    await page.fill('#position-date', '2026-12-01T10:00');
    await page.getByRole('button', { name: 'Create campaign' }).click();
    await page.getByText(/Saved at .*revision 1/).waitFor();
    campaignId = new URL(page.url()).pathname.split('/')[4] ?? '';
    expect(campaignId).toMatch(/^[0-9a-f-]{36}$/);
    const stored = (await (await stack.api(`/api/tenants/default/campaigns/${campaignId}`)).json()) as Record<string, any>;
    expect(stored['variants'].map((variant: { id: string; weight: number }) => [variant.id, variant.weight])).toEqual([['a', 1], ['b', 1]]);
    expect(stored['audience']).toEqual({ type: 'rules', match: 'all', rules: [{ attribute: 'plan', op: 'ne', value: 'blocked' }] });

    // The preview for this user, as the UI received and shows it.
    await page.fill('#preview-user', user.user);
    const previewResponse = page.waitForResponse((response) => response.url().includes('/preview?'));
    await page.getByRole('button', { name: 'Show preview' }).click();
    const previewBytes = await (await previewResponse).body();
    const variant = (await page.getByTestId('preview-variant').textContent()) ?? '';
    expect(['a', 'b']).toContain(variant);
    await page.getByText(/Raw message/).click();
    const shownRaw = (await page.getByTestId('preview-raw').textContent()) ?? '';
    expect(await page.locator('iframe[sandbox=""]').count()).toBe(1);

    // Schedule it from the list.
    await page.goto(`${stack.middleware.baseUrl}/t/default/campaigns`);
    const row = page.getByRole('row', { name: /UI spring sale/ });
    await row.getByRole('button', { name: 'Schedule' }).click();
    await row.getByText('running').waitFor();

    // The user's mail client through the proxy sees it and reads it: the same bytes as the preview.
    const subject = `UI sale ${variant.toUpperCase()} for ${user.user}`;
    const { stdout } = await run('python3', ['-c', FETCH_CLIENT, String(stack.proxy.port), user.user, user.password, `"${subject}"`]);
    const fetched = Buffer.from(stdout.trim(), 'base64');
    expect(fetched.toString('utf8')).toContain(`Subject: ${subject}`);
    expect(previewBytes.equals(fetched)).toBe(true);
    expect(shownRaw.replace(/\r\n/g, '\n')).toBe(fetched.toString('utf8').replace(/\r\n/g, '\n'));

    // Results: injected and read for that variant.
    await page.goto(`${stack.middleware.baseUrl}/t/default/campaigns/${campaignId}/results`);
    const variantRow = page.locator(`tr[data-variant="${variant}"]`);
    await expect.poll(async () => {
      await page.reload();
      await variantRow.waitFor();
      return (await variantRow.locator('td').allTextContents()).slice(0, 3);
    }, { timeout: 30_000, interval: 1_000 }).toEqual(['1', '0', '1']);

    // Tracking: the user's timeline and the EML they fetched.
    await page.goto(`${stack.middleware.baseUrl}/t/default/tracking`);
    await page.fill('#track-value', user.user);
    await page.getByRole('button', { name: 'Search' }).click();
    const timeline = page.getByRole('list', { name: 'Timeline' });
    await timeline.getByText('injected').waitFor();
    await timeline.getByText('read').waitFor();
    const downloadEvent = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Download EML' }).click();
    const eml = await readFile((await (await downloadEvent).path())!);
    expect(eml.equals(fetched)).toBe(true);

    // The conversion point's delivery log shows the read delivery, delivered.
    await page.goto(`${stack.middleware.baseUrl}/t/default/conversion-points`);
    const log = page.getByRole('table', { name: 'Delivery log of reads' });
    await expect.poll(async () => {
      await page.reload();
      return (await log.count()) > 0 ? await log.locator('tbody tr').first().textContent() : '';
    }, { timeout: 30_000, interval: 1_000 }).toMatch(/read.*delivered/);
    expect(received.some((body) => body.includes('"inlay.read"'))).toBe(true);
    await context.close();
  }, 120_000);
});

describe('every screen: axe-core at 375 and 1280 px, screenshots', () => {
  const screens = (): { name: string; path: string; ready: (page: Page) => Promise<void> }[] => [
    { name: 'sign-in', path: '/signin', ready: async () => undefined },
    { name: 'tenants', path: '/tenants', ready: async () => undefined },
    { name: 'overview', path: '/t/default', ready: async (page) => void (await page.getByRole('heading', { name: 'Last 24 hours' }).waitFor()) },
    { name: 'campaigns', path: '/t/default/campaigns', ready: async (page) => void (await page.getByRole('table').waitFor()) },
    { name: 'campaign-editor', path: `/t/default/campaigns/${campaignId}`, ready: async (page) => void (await page.locator('#campaign-name').waitFor()) },
    { name: 'campaign-new', path: '/t/default/campaigns/new', ready: async (page) => void (await page.locator('#campaign-name').waitFor()) },
    { name: 'results', path: `/t/default/campaigns/${campaignId}/results`, ready: async (page) => void (await page.getByRole('heading', { name: 'By variant' }).waitFor()) },
    {
      name: 'tracking',
      path: '/t/default/tracking',
      ready: async (page) => {
        await page.fill('#track-value', user.user);
        await page.getByRole('button', { name: 'Search' }).click();
        await page.getByRole('list', { name: 'Timeline' }).first().waitFor();
      },
    },
    { name: 'conversion-points', path: '/t/default/conversion-points', ready: async (page) => void (await page.getByRole('heading', { name: 'Delivery log' }).waitFor()) },
    { name: 'data-sources', path: '/t/default/data-sources', ready: async (page) => void (await page.getByRole('table').waitFor()) },
    { name: 'imports', path: '/t/default/imports', ready: async (page) => void (await page.getByRole('heading', { name: 'Start an import' }).waitFor()) },
  ];

  test.each(WIDTHS)('at %i px wide', async (width) => {
    expect(campaignId, 'the end-to-end test made the campaign these screens show').not.toBe('');
    const context = await browser.newContext({ viewport: { width, height: 900 } });
    const page = await signedInPage(context, stack.adminToken);
    const findings: Record<string, unknown> = {};
    for (const screen of screens()) {
      await page.goto(`${stack.middleware.baseUrl}${screen.path}`);
      await page.locator('h1').first().waitFor();
      await screen.ready(page);
      await page.waitForLoadState('networkidle');
      const violations = await seriousViolations(page);
      if (violations.length > 0) findings[screen.name] = violations;
      // Nothing may be wider than the viewport (no sideways scrolling of the page itself).
      expect(await page.evaluate<number>('document.documentElement.scrollWidth'), `${screen.name} fits ${width} px`).toBeLessThanOrEqual(width);
      await screenshot(page, screen.name, width);
    }
    expect(findings).toEqual({});
    await context.close();
  }, 240_000);
});

describe('keyboard only', () => {
  /** Presses Tab until the element matching `selector` has the focus (no mouse anywhere). */
  async function tabTo(page: Page, selector: string): Promise<void> {
    for (let presses = 0; presses < 200; presses++) {
      if (await page.evaluate<boolean>(`document.activeElement?.matches(${JSON.stringify(selector)}) ?? false`)) return;
      await page.keyboard.press('Tab');
    }
    throw new Error(`Tab never reached ${selector}`);
  }

  test('signs in and creates a campaign with the keyboard alone', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    context.setDefaultTimeout(15_000);
    const page = await context.newPage();
    await page.goto(`${stack.middleware.baseUrl}/signin`);
    await tabTo(page, '#token');
    await page.keyboard.insertText(stack.adminToken);
    await page.keyboard.press('Enter');
    await page.waitForURL('**/tenants');
    await page.goto(`${stack.middleware.baseUrl}/t/default/campaigns/new`);
    await page.locator('#campaign-name').waitFor();
    await tabTo(page, '#campaign-name');
    await page.keyboard.insertText('Keyboard campaign');
    for (const [editor, text] of [
      ['template-subject', 'Typed {{address}}'],
      ['template-from', 'Keys <keys@example.com>'],
      ['template-html', '<p>No mouse was used</p>'],
      ['template-text', 'No mouse was used'],
    ] as const) {
      await tabTo(page, `#${editor}-input`);
      await page.keyboard.insertText(text);
    }
    // Audience "rules" by arrow keys in the radio group, then the rule's fields.
    await tabTo(page, 'input[name="audience"]');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowDown');
    await tabTo(page, '#rule-0-attribute');
    await page.keyboard.insertText('plan');
    await tabTo(page, '#rule-0-value');
    await page.keyboard.insertText('gold');
    await tabTo(page, 'button[type="submit"]');
    await page.keyboard.press('Enter');
    await page.getByText(/Saved at .*revision 1/).waitFor();
    const campaigns = (await (await stack.api('/api/tenants/default/campaigns')).json()) as { name: string; template: { subject: string }; audience: unknown }[];
    const created = campaigns.find((campaign) => campaign.name === 'Keyboard campaign');
    expect(created?.template.subject).toBe('Typed {{address}}');
    expect(created?.audience).toEqual({ type: 'rules', match: 'all', rules: [{ attribute: 'plan', op: 'eq', value: 'gold' }] });
    await context.close();
  }, 120_000);
});

describe('a tenant token sees only its tenant', () => {
  test('in the UI another tenant is out of reach, the API answers 403; a revoked token returns to sign-in with the reason', async () => {
    const other = await stack.api('/api/tenants?createDB=true', {
      method: 'POST',
      body: JSON.stringify({ id: 'other', name: 'Other', keyspaceName: `t_other_${randomBytes(3).toString('hex')}`, configuration: { secretKey: 'other-key', hashedEmailAddresses: false, domains: ['other.example'] }, dataSources: [], conversionPoints: [] }),
    });
    expect(other.status, await other.clone().text()).toBe(201);
    const day = 86_400_000;
    const secretCampaign = await stack.api('/api/tenants/other/campaigns', {
      method: 'POST',
      body: JSON.stringify({ name: 'Other tenant secret plan', template: { subject: 's', from: 'a@other.example', html: '<p>x</p>', text: 'x' }, audience: { type: 'all' }, schedule: { startAt: new Date(Date.now() + day).toISOString(), endAt: new Date(Date.now() + 2 * day).toISOString() } }),
    });
    expect(secretCampaign.status).toBe(201);
    const { id: tokenId, token } = (await (await stack.api('/api/tenants/default/tokens', { method: 'POST' })).json()) as { id: string; token: string };

    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await signedInPage(context, token);
    expect(new URL(page.url()).pathname).toBe('/t/default');
    for (const path of ['/t/other/campaigns', '/t/other', '/tenants']) {
      await page.goto(`${stack.middleware.baseUrl}${path}`);
      await page.waitForURL((url) => url.pathname === '/t/default');
      await page.locator('h1').first().waitFor();
      expect(await page.content()).not.toContain('Other tenant secret plan');
    }
    expect(await page.getByRole('link', { name: 'Tenants' }).count()).toBe(0);
    for (const path of ['/api/tenants/other/campaigns', '/api/tenants/other', '/api/tenants']) {
      const response = await fetch(`${stack.middleware.baseUrl}${path}`, { headers: { authorization: `Bearer ${token}` } });
      expect(response.status, path).toBe(403);
    }

    await page.waitForLoadState('networkidle');
    expect((await stack.api(`/api/tenants/default/tokens/${tokenId}`, { method: 'DELETE' })).status).toBe(204);
    await page.goto(`${stack.middleware.baseUrl}/t/default/campaigns`);
    await page.waitForURL('**/signin');
    await page.getByText('Your session ended').waitFor();
    await context.close();
  }, 120_000);
});
