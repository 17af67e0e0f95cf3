import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { compileCheck, renderTemplate } from './render.js';
import { LocalDirectoryTemplateSource, MAX_TEMPLATE_BYTES, S3TemplateSource, checkTemplateKey, localTemplateDirectory, templateSourceFor } from './template-source.js';

describe('LocalDirectoryTemplateSource', () => {
  let dir: string;
  let source: LocalDirectoryTemplateSource;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'inlay-templates-'));
    const root = localTemplateDirectory(dir, 'acme');
    await mkdir(join(root, 'spring'), { recursive: true });
    await writeFile(join(root, 'spring', 'offer.html'), '<p>Hi {{displayName}}</p>');
    await writeFile(join(dir, 'outside.txt'), 'secret');
    await symlink(join(dir, 'outside.txt'), join(root, 'escape.txt'));
    await writeFile(join(root, 'huge.html'), Buffer.alloc(MAX_TEMPLATE_BYTES + 1, 'x'));
    source = new LocalDirectoryTemplateSource(root);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('reads a template under <dataDir>/templates/<tenantId>/', async () => {
    expect(localTemplateDirectory('/var/lib/inlay', 'acme')).toBe('/var/lib/inlay/templates/acme');
    expect(await source.get('spring/offer.html')).toBe('<p>Hi {{displayName}}</p>');
  });

  test('a missing key is TEMPLATE_NOT_FOUND; a directory too', async () => {
    await expect(source.get('spring/none.html')).rejects.toMatchObject({ code: 'INLAY_MW_TEMPLATE_NOT_FOUND', statusCode: 424 });
    await expect(source.get('spring')).rejects.toMatchObject({ code: 'INLAY_MW_TEMPLATE_NOT_FOUND' });
  });

  test.each(['../outside.txt', 'spring/../../outside.txt', '/etc/passwd', 'a\u0000b', '', '..', 'C:\\x', '\\\\server\\share'])('refuses the key %j', async (key) => {
    await expect(source.get(key)).rejects.toMatchObject({ code: 'INLAY_MW_TEMPLATE_KEY_INVALID' });
  });

  test('a symlink that leads out of the directory is refused', async () => {
    await expect(source.get('escape.txt')).rejects.toMatchObject({ code: 'INLAY_MW_TEMPLATE_KEY_INVALID' });
  });

  test('an over-large template is refused, not read', async () => {
    await expect(source.get('huge.html')).rejects.toMatchObject({ code: 'INLAY_MW_TEMPLATE_TOO_LARGE' });
  });

  test('checkTemplateKey accepts plain relative keys', () => {
    expect(() => checkTemplateKey('campaigns/2030/a..b.html')).not.toThrow();
  });
});

describe('renderTemplate', () => {
  const sources = {
    subject: 'Hello {{displayName}} & co',
    from: '"{{brand}}" <news@example.org>',
    html: '<p>Hello {{displayName}}</p>{{#if vip}}<b>VIP</b>{{/if}}',
    text: 'Hello {{displayName}}, plan: {{attributes.plan}}',
  };

  test('escapes HTML in html only', () => {
    const rendered = renderTemplate(sources, { displayName: '<Tom & "Jerry">', brand: 'A&B', vip: true, attributes: { plan: 'gold<1>' } });
    expect(rendered).toEqual({
      subject: 'Hello <Tom & "Jerry"> & co',
      from: '"A&B" <news@example.org>',
      html: '<p>Hello &lt;Tom &amp; &quot;Jerry&quot;&gt;</p><b>VIP</b>',
      text: 'Hello <Tom & "Jerry">, plan: gold<1>',
    });
  });

  test('a missing variable renders empty; a newline cannot start a header', () => {
    const rendered = renderTemplate(sources, { displayName: 'x\r\nBcc: victim@example.org' });
    expect(rendered.subject).toBe('Hello x Bcc: victim@example.org & co');
    expect(rendered.text).toBe('Hello x\r\nBcc: victim@example.org, plan: ');
  });

  test('no prototype access from templates', () => {
    const rendered = renderTemplate({ ...sources, text: '{{constructor.name}}|{{__proto__}}' }, {});
    expect(rendered.text).toBe('|');
  });

  test('an unknown helper is an error, not an empty string', () => {
    expect(() => renderTemplate({ ...sources, html: '{{shout displayName}}' }, {})).toThrow(expect.objectContaining({ code: 'INLAY_MW_TEMPLATE_RENDER' }));
  });
});

describe('compileCheck', () => {
  test('refuses a deeply nested source by the size limits, before Handlebars parses it', () => {
    // 12,000 nested blocks kept Handlebars' parser busy for minutes; a limit's reason shows the
    // scan answered, not the parser.
    const nested = `${'{{#if a}}'.repeat(12_000)}x${'{{/if}}'.repeat(12_000)}`;
    expect(compileCheck(nested, 'html')?.reason).toMatch(/blocks nested more than \d+ deep/);
    expect(() => renderTemplate({ subject: 's', from: 'a@example.org', html: nested, text: 't' }, {})).toThrow(/nested more than/);
  });

  test('a good template passes', () => {
    expect(compileCheck('Hi {{name}} {{#each items}}{{this}}{{/each}} {{lookup a "b"}}', 'html')).toBeUndefined();
  });

  test('a parse error names the line and what was expected', () => {
    const problem = compileCheck('line one\nline two\n{{#if x}}unclosed', 'html');
    expect(problem).toMatchObject({ field: 'html', line: 3 });
    expect(problem?.reason).toMatch(/^parse error: Expecting/);
  });

  test('an unknown helper names line and column', () => {
    expect(compileCheck('a\n  {{shout name}}', 'text')).toEqual({
      field: 'text',
      line: 2,
      column: 2,
      reason: 'You specified knownHelpersOnly, but used the unknown helper shout',
    });
  });

  test('partials and decorators are refused', () => {
    expect(compileCheck('x\n{{> footer}}', 'html')).toMatchObject({ line: 2, reason: expect.stringContaining('partials') });
    expect(compileCheck('{{#> layout}}x{{/layout}}', 'html')).toMatchObject({ reason: expect.stringContaining('partial blocks') });
  });

  test('an unclosed mustache is a parse error with a line', () => {
    expect(compileCheck('ok\n{{name', 'subject')).toMatchObject({ field: 'subject', line: 2 });
  });
});

describe('templateSourceFor', () => {
  const s3DataSource = {
    id: 'main',
    type: 'ongage',
    defaultDataSource: true,
    deleteTemporaryImportFiles: false,
    awsConnectionInformation: { authorizationType: 'aws', accessKey: 'a', secretKey: 's', endpoint: 'http://127.0.0.1:1', bucket: 'b' },
  };

  test('S3 for the named or default data source, the local directory without data sources', () => {
    const withS3 = templateSourceFor({ id: 'acme', dataSources: [s3DataSource] }, { dataDir: '/d' });
    expect(withS3).toBeInstanceOf(S3TemplateSource);
    withS3.close();
    expect(templateSourceFor({ id: 'acme', dataSources: [] }, { dataDir: '/d' })).toBeInstanceOf(LocalDirectoryTemplateSource);
    expect(() => templateSourceFor({ id: 'acme', dataSources: [s3DataSource] }, { dataDir: '/d', dataSourceId: 'nope' })).toThrow(
      expect.objectContaining({ code: 'INLAY_MW_DATA_SOURCE_NOT_FOUND' }),
    );
  });
});
