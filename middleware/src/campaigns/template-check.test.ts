// Save-time template checks on their own: limits that keep hostile sources away from Handlebars'
// super-linear parser, in linear time, and the field/line/reason of each refusal.
import { describe, expect, test } from 'vitest';
import type { CampaignInput } from '@inlay/schemas';
import { TEMPLATE_SCAN_LIMITS, scanTemplateSource } from '../templates/template-limits.js';
import { checkCampaignTemplates } from './template-check.js';

const inline = (html: string, text = 'plain') => ({ subject: 'Hi', from: 'a@b.example', html, text });
const campaign = (html: string, variants: CampaignInput['variants'] = undefined) =>
  ({ template: inline(html), ...(variants ? { variants } : {}) }) as Pick<CampaignInput, 'template' | 'variants'>;

function refusal(input: Pick<CampaignInput, 'template' | 'variants'>): string {
  try {
    checkCampaignTemplates(input);
  } catch (error) {
    expect(error).toMatchObject({ code: 'INLAY_MW_TEMPLATE_INVALID' });
    return (error as Error).message;
  }
  throw new Error('expected a refusal');
}

describe('limits', () => {
  // No timings here (they flake on shared machines): a limit's own reason in the refusal shows
  // the scan answered before Handlebars' parser, which is what takes minutes on such input.
  test('blocks nested deeper than the limit are refused before parsing', () => {
    const depth = 12_000;
    const message = refusal(campaign(`line one\n${'{{#if a}}'.repeat(depth)}x${'{{/if}}'.repeat(depth)}`));
    expect(message).toBe(`body.template.html is not a valid Handlebars template: line 2: blocks nested more than ${TEMPLATE_SCAN_LIMITS.maxBlockDepth} deep`);
  });

  test('nesting at the limit, and closed blocks in sequence, pass', () => {
    const depth = TEMPLATE_SCAN_LIMITS.maxBlockDepth;
    expect(() => checkCampaignTemplates(campaign(`${'{{#if a}}'.repeat(depth)}x${'{{/if}}'.repeat(depth)}`))).not.toThrow();
    expect(() => checkCampaignTemplates(campaign('{{#if a}}x{{/if}}'.repeat(500)))).not.toThrow();
    expect(() => checkCampaignTemplates(campaign('{{^if a}}x{{^}}y{{/if}}{{#each xs}}{{this}}{{else}}none{{/each}}'))).not.toThrow();
  });

  test('too many expressions, else branches or sub-expressions are refused', () => {
    expect(refusal(campaign('{{a}}'.repeat(TEMPLATE_SCAN_LIMITS.maxExpressionsPerSource + 1)))).toMatch(/more than 2000 \{\{…\}\} expressions/);
    expect(refusal(campaign(`{{#if a}}${'x{{else if b}}'.repeat(TEMPLATE_SCAN_LIMITS.maxElses + 1)}{{/if}}`))).toMatch(/else\}\} branches/);
    expect(refusal(campaign(`{{if ${'(if '.repeat(1_001)}b${')'.repeat(1_001)}}}`))).toMatch(/sub-expressions/);
    const variants = Array.from({ length: 3 }, (_, index) => ({ id: `v${index}`, weight: 1, template: inline('{{a}}'.repeat(1_500)) }));
    expect(refusal(campaign('{{a}}'.repeat(1_000), variants))).toMatch(/^body\.variants\[2\]\.template\.html .*more than 5000 \{\{…\}\} expressions together/);
  });

  test('parentheses in text outside {{…}} do not count', () => {
    expect(() => checkCampaignTemplates(campaign(`<style>${'a{color:rgb(1,2,3)}'.repeat(5_000)}</style>{{name}}`))).not.toThrow();
  });

  test('hostile 200 kB sources are judged by the scan alone', () => {
    const refused = ['{{'.repeat(100_000), `${'{{('.repeat(60_000)}}}`, `${'{{ a '.repeat(40_000)}(`];
    for (const source of refused) expect(scanTemplateSource(source, 'body.template.html', { expressions: 0 }), source.slice(0, 20)).toBeDefined();
    // Parentheses outside {{…}} are text.
    expect(scanTemplateSource('('.repeat(200_000), 'body.template.html', { expressions: 0 })).toBeUndefined();
  });

  test('the largest campaign the limits accept compiles (measured ~0.3 s warm, ~1.7 s cold)', () => {
    // 1,990 + 990 + 1,990 of the 5,000 expressions (closing tags count) a campaign may hold.
    expect(() =>
      checkCampaignTemplates({
        template: inline('<p>{{name}}</p>\n'.repeat(1_990), 'x {{a}}'.repeat(990)),
        variants: [{ id: 'b', weight: 1, template: inline('{{#if a}}{{#each b}}{{c}}{{/each}}{{/if}}\n'.repeat(398)) }],
      }),
    ).not.toThrow();
  });
});
