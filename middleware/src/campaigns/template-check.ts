/**
 * Checks every Handlebars source of a campaign when it is saved — the template's subject, from,
 * html and text, and each variant's — so a template that cannot compile is refused with its field,
 * line and reason (400 INLAY_MW_TEMPLATE_INVALID) instead of failing later for every user.
 *
 * The compiling itself is templates/render.ts's `compileCheck` (the same options rendering uses,
 * so what passes here renders); the size limits are templates/template-limits.ts's, applied here
 * with one budget across all of a campaign's sources. Templates named by an object key are checked when they are
 * fetched, not here. Must never render, and never put a submitted source into a message.
 */
import type { CampaignInput, CampaignTemplate, InlineTemplate } from '@inlay/schemas';
import { MiddlewareError } from '../errors.js';
import { TEMPLATE_FIELDS, compileCheck, type TemplateProblem } from '../templates/render.js';
import { scanTemplateSource } from '../templates/template-limits.js';

export function isInlineTemplate(template: CampaignTemplate): template is InlineTemplate {
  return !('objectKey' in template);
}

/** Every inline source of a campaign with the field that names it in messages. */
export function* templateSources(campaign: Pick<CampaignInput, 'template' | 'variants'>, field = 'body'): Generator<readonly [field: string, source: string]> {
  const templates: [string, CampaignTemplate][] = [[`${field}.template`, campaign.template]];
  campaign.variants?.forEach((variant, index) => templates.push([`${field}.variants[${index}].template`, variant.template]));
  for (const [path, template] of templates) {
    if (!isInlineTemplate(template)) continue;
    for (const part of TEMPLATE_FIELDS) yield [`${path}.${part}`, template[part]];
  }
}

/** Throws INLAY_MW_TEMPLATE_INVALID for the first source that breaks a limit or does not compile. */
export function checkCampaignTemplates(campaign: Pick<CampaignInput, 'template' | 'variants'>, field = 'body'): void {
  const budget = { expressions: 0 };
  // All limits first: a source that breaks one is never handed to Handlebars.
  for (const [path, source] of templateSources(campaign, field)) {
    const problem = scanTemplateSource(source, path, budget);
    if (problem) throw templateInvalid(problem);
  }
  for (const [path, source] of templateSources(campaign, field)) {
    let problem: TemplateProblem | undefined;
    try {
      problem = compileCheck(source, path);
    } catch (error) {
      // Only a source nested deeper than the stack allows gets here (a RangeError from the walk).
      problem = { field: path, line: 1, reason: error instanceof RangeError ? 'the template is nested too deeply' : 'the template cannot be compiled' };
    }
    if (problem) throw templateInvalid(problem);
  }
}

export function templateInvalid(problem: TemplateProblem): MiddlewareError {
  // Handlebars counts columns from 0; people count from 1.
  const column = problem.column === undefined ? '' : `, column ${problem.column + 1}`;
  return new MiddlewareError('INLAY_MW_TEMPLATE_INVALID', `${problem.field} is not a valid Handlebars template: line ${problem.line}${column}: ${problem.reason}`);
}
