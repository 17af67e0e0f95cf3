/**
 * Handlebars for campaign templates: `compileCheck` tells a campaign save which field fails to
 * compile, with the line and the reason; `renderTemplate` renders the four parts of a message for
 * one user. HTML is escaped in `html`; `subject`, `from` and `text` are not HTML and are not
 * escaped.
 *
 * Strict where a typo would otherwise ship: only Handlebars' built-in helpers are known (an
 * unknown helper fails at compile time, not at a user's login); partials and decorators are
 * refused (there is nowhere to register them). A missing *variable* renders as empty, so a user
 * without an attribute still gets the message. Must never give templates prototype access
 * (Handlebars 4.6+ refuses it by default; nothing here turns it back on).
 */
import Handlebars from 'handlebars';
import { MiddlewareError } from '../errors.js';
import { scanTemplateSource } from './template-limits.js';

export type TemplateField = 'subject' | 'from' | 'html' | 'text';
export const TEMPLATE_FIELDS: readonly TemplateField[] = ['subject', 'from', 'html', 'text'];

export type TemplateSources = Readonly<Record<TemplateField, string>>;
export type RenderedTemplate = Record<TemplateField, string>;

export interface TemplateProblem {
  readonly field: string;
  readonly line: number;
  readonly column?: number;
  readonly reason: string;
}

/** Our own environment: helpers registered elsewhere in the process never leak in. */
const handlebars = Handlebars.create();

const COMPILE_OPTIONS = { knownHelpersOnly: true, strict: false } as const;

/** Fields that are plain text, not HTML. */
const UNESCAPED: ReadonlySet<TemplateField> = new Set(['subject', 'from', 'text']);

class NoPartialsVisitor extends Handlebars.Visitor {
  found: { kind: string; line: number; column: number } | undefined;
  private note(kind: string, node: hbs.AST.Node): void {
    this.found ??= { kind, line: node.loc.start.line, column: node.loc.start.column };
  }
  override PartialStatement(node: hbs.AST.PartialStatement): void {
    this.note('partials ({{> …}})', node);
  }
  override PartialBlockStatement(node: hbs.AST.PartialBlockStatement): void {
    this.note('partial blocks ({{#> …}})', node);
  }
  override DecoratorBlock(node: hbs.AST.DecoratorBlock): void {
    this.note('decorators ({{#* …}})', node);
  }
  override Decorator(node: hbs.AST.Decorator): void {
    this.note('decorators ({{* …}})', node);
  }
}

/** Undefined when `source` compiles; else where and why it does not. */
export function compileCheck(source: string, field: string): TemplateProblem | undefined {
  // Handlebars' parser is super-linear in nesting: sources past the limits never reach it.
  const tooBig = scanTemplateSource(source, field, { expressions: 0 });
  if (tooBig) return tooBig;
  let ast: hbs.AST.Program;
  try {
    ast = handlebars.parse(source);
  } catch (error) {
    if (error instanceof RangeError) return { field, line: 1, reason: 'the template is nested too deeply' };
    return problemFrom(error, field);
  }
  const visitor = new NoPartialsVisitor();
  visitor.accept(ast);
  if (visitor.found) {
    return { field, line: visitor.found.line, column: visitor.found.column, reason: `${visitor.found.kind} are not supported in Inlay templates` };
  }
  try {
    handlebars.precompile(ast, COMPILE_OPTIONS);
  } catch (error) {
    return problemFrom(error, field);
  }
  return undefined;
}

function problemFrom(error: unknown, field: string): TemplateProblem {
  const exception = error as { message?: string; lineNumber?: number; column?: number };
  const message = String(exception.message ?? error);
  // Parse errors read "Parse error on line 3:\n<context>\n---^\nExpecting …": keep the line number
  // and the "Expecting …" sentence, not the quoted source.
  const parse = /^Parse error on line (\d+):[\s\S]*?\n(Expecting[^\n]*)/.exec(message);
  if (parse) return { field, line: Number(parse[1]), reason: `parse error: ${parse[2]}` };
  const lexical = /^Parse error on line (\d+):/.exec(message);
  if (lexical) return { field, line: Number(lexical[1]), reason: 'parse error' };
  const reason = message.replace(/ - \d+:\d+$/, '');
  return {
    field,
    line: typeof exception.lineNumber === 'number' ? exception.lineNumber : 1,
    ...(typeof exception.column === 'number' ? { column: exception.column } : {}),
    reason,
  };
}

/** Compiled templates by source text: one campaign is rendered for many users. Bounded, because
 *  sources come from tenants; the oldest entry goes first. */
const COMPILED_CACHE_ENTRIES = 512;
const compiled = new Map<string, HandlebarsTemplateDelegate>();

function compile(source: string, field: TemplateField): HandlebarsTemplateDelegate {
  const cacheKey = `${UNESCAPED.has(field) ? 'text' : 'html'}\u0000${source}`;
  let template = compiled.get(cacheKey);
  if (template === undefined) {
    const problem = compileCheck(source, field);
    if (problem) {
      throw new MiddlewareError('INLAY_MW_TEMPLATE_RENDER', `template field "${field}" does not compile (line ${problem.line}): ${problem.reason}`);
    }
    template = handlebars.compile(source, { ...COMPILE_OPTIONS, noEscape: UNESCAPED.has(field) });
    if (compiled.size >= COMPILED_CACHE_ENTRIES) compiled.delete(compiled.keys().next().value!);
    compiled.set(cacheKey, template);
  }
  return template;
}

/** Header fields are one line: a CR or LF from user data must not start a new header. */
function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, ' ');
}

/** Renders all four parts with `context` (the user's display name, attributes, campaign data). */
export function renderTemplate(sources: TemplateSources, context: Readonly<Record<string, unknown>>): RenderedTemplate {
  const rendered = {} as RenderedTemplate;
  for (const field of TEMPLATE_FIELDS) {
    const template = compile(sources[field], field);
    let output: string;
    try {
      output = template(context);
    } catch (error) {
      throw new MiddlewareError('INLAY_MW_TEMPLATE_RENDER', `template field "${field}" failed to render: ${(error as Error).message}`, {}, { cause: error });
    }
    rendered[field] = field === 'subject' || field === 'from' ? oneLine(output) : output;
  }
  return rendered;
}
