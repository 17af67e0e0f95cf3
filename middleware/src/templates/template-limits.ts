/**
 * Size limits a Handlebars source must meet before Handlebars parses it. Every path that
 * compiles a template goes through them (compileCheck in render.ts), whether the source came
 * in a campaign body or from a template object in S3 or the local directory.
 *
 * Must never let a source reach the Handlebars parser unchecked: a few kilobytes of nesting
 * block the event loop for minutes.
 */
import type { TemplateProblem } from './render.js';

/**
 * Limits checked before Handlebars sees a source. Its parser and compiler are recursive and
 * super-linear in nesting: 1,000 nested blocks take ~1 s, 12,000 took over two minutes of a
 * blocked event loop before overflowing the stack, and 30,000 flat expressions take ~2 s. Real
 * newsletters nest a handful of blocks and hold a few hundred expressions.
 */
export const TEMPLATE_SCAN_LIMITS = {
  /** `{{#…}}` / `{{^…}}` blocks open at once. */
  maxBlockDepth: 32,
  /** `{{else}}` / `{{else if …}}` per source: each else-if nests one level in Handlebars' AST. */
  maxElses: 200,
  /** `{{…}}` expressions per source, and in all sources of one campaign together. */
  maxExpressionsPerSource: 2_000,
  maxExpressionsPerCampaign: 5_000,
  /** Opening parentheses (sub-expressions) inside {{…}} per source, nested or not. */
  maxParentheses: 1_000,
} as const;

const MUSTACHE = /\{\{~?\s*(#|\^(?!\s*~?\}\})|\/|else\b)?/g;

function lineAt(source: string, index: number): number {
  let line = 1;
  for (let at = source.indexOf('\n'); at !== -1 && at < index; at = source.indexOf('\n', at + 1)) line += 1;
  return line;
}

/** The first limit a source breaks, or undefined; counts its expressions into `budget`. */
export function scanTemplateSource(source: string, field: string, budget: { expressions: number }): TemplateProblem | undefined {
  const limits = TEMPLATE_SCAN_LIMITS;
  let depth = 0;
  let elses = 0;
  let expressions = 0;
  let parentheses = 0;
  let nextClose = -2;
  let parenScanned = 0;
  let nextParen = -2;
  for (const match of source.matchAll(MUSTACHE)) {
    expressions += 1;
    budget.expressions += 1;
    const at = match.index;
    if (expressions > limits.maxExpressionsPerSource) return { field, line: lineAt(source, at), reason: `more than ${limits.maxExpressionsPerSource} {{…}} expressions` };
    if (budget.expressions > limits.maxExpressionsPerCampaign) {
      return { field, line: lineAt(source, at), reason: `the campaign's templates hold more than ${limits.maxExpressionsPerCampaign} {{…}} expressions together` };
    }
    // Sub-expressions: "(" between this "{{" and its "}}" (text outside mustaches is not counted).
    // Each character is searched once: `at` only grows, and so do nextClose and parenScanned.
    if (nextClose !== -1 && nextClose < at) nextClose = source.indexOf('}}', at);
    const end = nextClose === -1 ? source.length : nextClose;
    for (let from = Math.max(at, parenScanned); ; from = nextParen + 1) {
      if (nextParen !== -1 && nextParen < from) nextParen = source.indexOf('(', from);
      if (nextParen === -1 || nextParen >= end) break;
      parentheses += 1;
      if (parentheses > limits.maxParentheses) return { field, line: lineAt(source, nextParen), reason: `more than ${limits.maxParentheses} sub-expressions "("` };
    }
    parenScanned = Math.max(parenScanned, end);
    switch (match[1]) {
      case '#':
      case '^':
        depth += 1;
        if (depth > limits.maxBlockDepth) return { field, line: lineAt(source, at), reason: `blocks nested more than ${limits.maxBlockDepth} deep` };
        break;
      case '/':
        depth = Math.max(0, depth - 1);
        break;
      case 'else':
        elses += 1;
        if (elses > limits.maxElses) return { field, line: lineAt(source, at), reason: `more than ${limits.maxElses} {{else}} branches` };
        break;
    }
  }
  return undefined;
}

