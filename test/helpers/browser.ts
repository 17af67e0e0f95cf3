/**
 * The browser the web UI's tests drive: Debian's chromium (installed by the harness through apt,
 * like the mail servers) under playwright-core, which downloads no browser of its own. Also the
 * checks every screen gets: axe-core with no serious or critical violation, and a screenshot into
 * docs/screenshots/ for reviewers.
 */
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { AxeBuilder } from '@axe-core/playwright';
import { ensureDebianPackages } from '../services/install.ts';

export const CHROMIUM = '/usr/bin/chromium';
export const SCREENSHOT_DIR = fileURLToPath(new URL('../../docs/screenshots/', import.meta.url));
/** The two widths every screen is checked and pictured at: a phone and a desktop. */
export const WIDTHS = [375, 1280] as const;

export async function launchBrowser(): Promise<Browser> {
  await ensureDebianPackages(['chromium']);
  // --no-sandbox: the tests run as root (CI, the harness's apt), where Chromium's sandbox refuses to start.
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
}

export interface AxeFinding {
  readonly id: string;
  readonly impact: string | null | undefined;
  readonly help: string;
  readonly targets: string[];
}

/** Serious and critical WCAG 2.1 A/AA violations on the page as it is now. */
export async function seriousViolations(page: Page): Promise<AxeFinding[]> {
  const result = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
  return result.violations
    .filter((violation) => violation.impact === 'serious' || violation.impact === 'critical')
    .map((violation) => ({ id: violation.id, impact: violation.impact, help: violation.help, targets: violation.nodes.map((node) => node.target.join(' ')) }));
}

export async function screenshot(page: Page, name: string, width: number): Promise<void> {
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  await page.screenshot({ path: `${SCREENSHOT_DIR}${name}-${width}.png`, fullPage: true, animations: 'disabled' });
}
