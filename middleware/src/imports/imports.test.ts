import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import type { ImportRecord, ImportRowError, Store, TenantRef, UserUpsert } from '../store/store.js';
import { IMPORT_BATCH_ROWS, IMPORT_WRITES_IN_FLIGHT, ImportWriter, MAX_STORED_ROW_ERRORS, PROGRESS_INTERVAL_MS } from './import-writer.js';
import { hashAddress } from '../users/user-key.js';
import { startTestApp, type TestApp } from '../testing/test-app.js';
import { formatFromKey } from './import-runner.js';
import { mapRow } from './row-mapping.js';
import { ImportFileError, MAX_ROW_BYTES, readRows, type RawRow, type ReadRow } from './row-reader.js';

/** Rows as plain records (CSV values by header name), so expectations read like the file. */
type Shown = { kind: 'row'; rowNumber: number; fields: Record<string, unknown> } | { kind: 'problem'; rowNumber: number; reason: string };

async function read(text: string | Buffer[], format: 'csv' | 'jsonl'): Promise<Shown[]> {
  const chunks = typeof text === 'string' ? [Buffer.from(text)] : text;
  const rows: Shown[] = [];
  for await (const batch of readRows(Readable.from(chunks), format)) rows.push(...batch.map(show));
  return rows;
}

function show(row: ReadRow): Shown {
  switch (row.kind) {
    case 'problem':
      return row;
    case 'json':
      return { kind: 'row', rowNumber: row.rowNumber, fields: { ...row.fields } };
    case 'csv':
      return { kind: 'row', rowNumber: row.rowNumber, fields: Object.fromEntries(row.header.map((name, index) => [name, row.values[index]])) };
  }
}

const plain = { configuration: { secretKey: 'k', hashedEmailAddresses: false } };
const hashing = { configuration: { secretKey: 'k', hashedEmailAddresses: true } };

describe('readRows: CSV', () => {
  test('rows with their line numbers; wrong field counts are row problems; quoted newlines kept', async () => {
    const rows = await read('\ufeffaddress,displayName,plan\r\na@x.org,A,gold\r\nb@x.org\n\n"c@x.org","C ""the"" one\nsecond line",silver\nd@x.org,D,x,extra\n', 'csv');
    expect(rows).toEqual([
      { kind: 'row', rowNumber: 2, fields: { address: 'a@x.org', displayName: 'A', plan: 'gold' } },
      { kind: 'problem', rowNumber: 3, reason: 'the row does not have as many fields as the header' },
      { kind: 'row', rowNumber: 6, fields: { address: 'c@x.org', displayName: 'C "the" one\nsecond line', plan: 'silver' } },
      { kind: 'problem', rowNumber: 7, reason: 'the row does not have as many fields as the header' },
    ]);
  });

  test('the same rows however the bytes are split into chunks (quotes, CRLF, UTF-8 across a boundary)', async () => {
    const text = 'address,displayName,city\r\na@x.org,"Zoë ""Z"", Jr.",Köln\r\n"b@x.org","two\r\nlines",\r\n\r\nc@x.org,C,😀\n"d@x.org",D,"end"';
    const whole = await read(text, 'csv');
    expect(whole).toEqual([
      { kind: 'row', rowNumber: 2, fields: { address: 'a@x.org', displayName: 'Zoë "Z", Jr.', city: 'Köln' } },
      { kind: 'row', rowNumber: 4, fields: { address: 'b@x.org', displayName: 'two\r\nlines', city: '' } },
      { kind: 'row', rowNumber: 6, fields: { address: 'c@x.org', displayName: 'C', city: '😀' } },
      { kind: 'row', rowNumber: 7, fields: { address: 'd@x.org', displayName: 'D', city: 'end' } },
    ]);
    const bytes = Buffer.from(text);
    for (let cut = 1; cut < bytes.length; cut++) {
      expect(await read([bytes.subarray(0, cut), bytes.subarray(cut)], 'csv')).toEqual(whole);
    }
    expect(await read(Array.from(bytes, (byte) => Buffer.from([byte])), 'csv')).toEqual(whole);
  });

  test('a header without an address column fails the file', async () => {
    await expect(read('email,name\na@x,A\n', 'csv')).rejects.toThrow(ImportFileError);
    await expect(read('address,address\na@x,A\n', 'csv')).rejects.toThrow(/twice/);
  });

  test('broken quoting and an over-long row fail the file with the line, not the text', async () => {
    await expect(read('address\n"a@x"oops\n', 'csv')).rejects.toThrow('after line 2: text after a closing quote');
    await expect(read('address\nab"c@x\n', 'csv')).rejects.toThrow('after line 2: a quote inside an unquoted field');
    await expect(read('address\na@x\n"b@x\n', 'csv')).rejects.toThrow('after line 3: a quoted field is never closed');
    await expect(read(`address\n${'x'.repeat(MAX_ROW_BYTES + 10)}\n`, 'csv')).rejects.toThrow(`after line 2: a row over ${MAX_ROW_BYTES} characters`);
    await expect(read([Buffer.from('address\n"'), ...Array.from({ length: 10 }, () => Buffer.alloc(MAX_ROW_BYTES / 4, 'x'))], 'csv')).rejects.toThrow(ImportFileError);
  });
});

describe('readRows: JSON lines', () => {
  test('objects per line, split across chunks, with problems per line', async () => {
    const chunks = ['{"address":"a@x.org"}\r\n{"addr', 'ess":"b@x.org","displayName":"B"}\n\n[1]\nnot json\n', '{"address":"c@x.org"}'].map((text) => Buffer.from(text));
    chunks.splice(2, 0, Buffer.from([0xff, 0xfe, 0x0a]));
    expect(await read(chunks, 'jsonl')).toEqual([
      { kind: 'row', rowNumber: 1, fields: { address: 'a@x.org' } },
      { kind: 'row', rowNumber: 2, fields: { address: 'b@x.org', displayName: 'B' } },
      { kind: 'problem', rowNumber: 4, reason: 'the line is not a JSON object' },
      { kind: 'problem', rowNumber: 5, reason: 'the line is not valid JSON' },
      { kind: 'problem', rowNumber: 6, reason: 'the line is not valid UTF-8' },
      { kind: 'row', rowNumber: 7, fields: { address: 'c@x.org' } },
    ]);
  });

  test('an over-long line is skipped without being kept, and reading goes on', async () => {
    const huge = Array.from({ length: 20 }, () => Buffer.alloc(MAX_ROW_BYTES / 4, 'x'));
    const rows = await read([...huge, Buffer.from('\n{"address":"after@x.org"}\n')], 'jsonl');
    expect(rows).toEqual([
      { kind: 'problem', rowNumber: 1, reason: `the line is longer than ${MAX_ROW_BYTES} bytes` },
      { kind: 'row', rowNumber: 2, fields: { address: 'after@x.org' } },
    ]);
  });
});

describe('mapRow', () => {
  const row = (fields: Record<string, unknown>): RawRow => ({ kind: 'csv', rowNumber: 2, header: Object.keys(fields), values: Object.values(fields) as string[] });
  const json = (fields: Record<string, unknown>): RawRow => ({ kind: 'json', rowNumber: 2, fields });

  test('CSV: address normalized, other non-empty columns become attributes', () => {
    expect(mapRow(plain, row({ address: ' A@X.org ', displayName: 'A', plan: 'gold', city: '' }))).toEqual({
      kind: 'user',
      user: { userKey: 'a@x.org', displayName: 'A', attributes: { plan: 'gold' } },
    });
  });

  test('a hashing tenant stores the HMAC, never the address', () => {
    const mapped = mapRow(hashing, row({ address: 'A@x.org' }));
    expect(mapped).toEqual({ kind: 'user', user: { userKey: hashAddress('k', 'a@x.org'), attributes: {} } });
  });

  test('hashedAddress: accepted (lower-cased) for a hashing tenant, refused otherwise', () => {
    const hash = hashAddress('k', 'a@x.org');
    expect(mapRow(hashing, row({ hashedAddress: hash.toUpperCase() }))).toMatchObject({ kind: 'user', user: { userKey: hash } });
    expect(mapRow(plain, row({ hashedAddress: hash }))).toMatchObject({ kind: 'problem', reason: expect.stringContaining('does not hash') });
  });

  test('JSON lines: attributes of scalars; unknown fields and nested values refused', () => {
    expect(mapRow(plain, json({ address: 'a@x.org', attributes: { n: 3, vip: true, s: 'x' } }))).toEqual({
      kind: 'user',
      user: { userKey: 'a@x.org', attributes: { n: '3', vip: 'true', s: 'x' } },
    });
    expect(mapRow(plain, json({ address: 'a@x.org', extra: 1 }))).toMatchObject({ kind: 'problem', reason: expect.stringContaining('unknown field') });
    expect(mapRow(plain, json({ address: 'a@x.org', attributes: { deep: {} } }))).toMatchObject({ kind: 'problem' });
    expect(mapRow(plain, json({ address: 'a@x.org', attributes: [] }))).toMatchObject({ kind: 'problem' });
    expect(mapRow(plain, json({ address: 42 }))).toMatchObject({ kind: 'problem', reason: 'address must be a string' });
  });

  test('addresses beyond printable ASCII go through the full rule (Unicode whitespace refused, Unicode letters kept)', () => {
    expect(mapRow(plain, row({ address: 'Jörg@Bücher.de' }))).toMatchObject({ kind: 'user', user: { userKey: 'jörg@bücher.de' } });
    expect(mapRow(plain, row({ address: 'a\u2003b@x.org' }))).toMatchObject({ kind: 'problem', reason: expect.stringContaining('whitespace') });
    expect(mapRow(plain, row({ address: '@x.org' }))).toMatchObject({ kind: 'problem', reason: expect.stringContaining('local part') });
    expect(mapRow(plain, row({ address: 'a@x.org', displayName: 'tab\tok', note: 'two\nlines' }))).toMatchObject({ kind: 'user' });
    expect(mapRow(plain, row({ address: 'a@x.org', note: 'bell\u0007' }))).toMatchObject({ kind: 'problem', reason: expect.stringContaining('control') });
  });

  test.each([
    [{}, 'neither'],
    [{ address: 'a@x.org', hashedAddress: 'ab' }, 'both'],
    [{ address: 'nope' }, 'local part'],
    [{ address: 'a@x.org', displayName: 'two\nlines' }, 'line breaks'],
    [{ address: 'a@x.org', 'bad name': 'v' }, 'attribute names'],
    [{ address: 'a@x.org', a: 'x'.repeat(5000) }, 'longer than'],
  ])('CSV row %j is refused (%s)', (fields, reason) => {
    expect(mapRow(plain, row(fields as Record<string, unknown>))).toMatchObject({ kind: 'problem', reason: expect.stringContaining(reason) });
  });

  test('format from the key', () => {
    expect([formatFromKey('a/B.CSV'), formatFromKey('x.jsonl'), formatFromKey('x.ndjson'), formatFromKey('x.csv.gz'), formatFromKey('x')]).toEqual(['csv', 'jsonl', 'jsonl', undefined, undefined]);
  });
});

describe('import routes (embedded store, no S3)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
    expect((await t.createTenant('importer')).statusCode).toBe(201);
  });
  afterAll(async () => {
    await t.close();
  });

  test('POST answers 202 with the queued import; a data source that is no URL fails it, visibly', async () => {
    const response = await t.request('POST', '/api/tenants/importer/imports', { body: { objectKey: 'lists/users.csv' } });
    expect(response.statusCode).toBe(202);
    const created = response.json();
    expect(created).toMatchObject({ dataSourceId: 'default', objectKey: 'lists/users.csv', format: 'csv', status: 'queued', rowsRead: 0 });
    expect(response.headers['location']).toBe(`/api/tenants/importer/imports/${created.id}`);

    let shown;
    for (let attempt = 0; attempt < 100; attempt++) {
      shown = (await t.request('GET', `/api/tenants/importer/imports/${created.id}`)).json();
      if (shown.status === 'failed') break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    // The seed tenant's data source has the guide's placeholder "<endpoint>".
    expect(shown).toMatchObject({ status: 'failed', error: expect.stringContaining('endpoint is not a URL'), errors: [], errorsOmitted: 0 });
    expect(JSON.stringify(shown)).not.toContain('<secretKey>');
    const list = (await t.request('GET', '/api/tenants/importer/imports')).json();
    expect(list.map((entry: { id: string }) => entry.id)).toContain(created.id);
    expect(list[0].errors).toBeUndefined();
  });

  test('refusals: unknown data source 404, no format 400, unknown import 404, bad id 400, unknown field 400', async () => {
    const post = (body: unknown) => t.request('POST', '/api/tenants/importer/imports', { body });
    expect((await post({ objectKey: 'a.csv', dataSourceId: 'nope' })).json()).toMatchObject({ code: 'INLAY_MW_DATA_SOURCE_NOT_FOUND' });
    expect((await post({ objectKey: 'a.txt' })).json()).toMatchObject({ code: 'INLAY_MW_IMPORT_FORMAT' });
    expect((await post({ objectKey: 'a.txt', format: 'xml' })).statusCode).toBe(400);
    expect((await post({ objectKey: 'a.csv', bucket: 'x' })).statusCode).toBe(400);
    expect((await post({ objectKey: '' })).statusCode).toBe(400);
    expect((await t.request('GET', '/api/tenants/importer/imports/00000000-0000-1000-8000-000000000001')).json()).toMatchObject({ code: 'INLAY_MW_IMPORT_NOT_FOUND' });
    expect((await t.request('GET', '/api/tenants/importer/imports/not-a-uuid')).statusCode).toBe(400);
    expect((await t.request('GET', '/api/tenants/nobody/imports')).statusCode).toBe(404);
  });
});

describe('ImportWriter (a store whose writes the test finishes by hand)', () => {
  const tenant = { id: 't', keyspaceName: 't' } as TenantRef;
  const record = { importId: 'i', dataSourceId: 'default', objectKey: 'k.csv', format: 'csv', status: 'running', rowsRead: 0, rowsImported: 0, rowsFailed: 0, createdAt: new Date(0) } as const;

  function handStore() {
    const writes: { users: number; finish: (error?: Error) => void }[] = [];
    const saved: ImportRecord[] = [];
    const errorRows: number[] = [];
    const store = {
      upsertUsers: (_tenant: TenantRef, users: readonly UserUpsert[]) =>
        new Promise<void>((resolve, reject) => writes.push({ users: users.length, finish: (error) => (error ? reject(error) : resolve()) })),
      recordImportErrors: async (_tenant: TenantRef, _id: string, errors: readonly ImportRowError[]) => void errorRows.push(...errors.map((error) => error.rowNumber)),
      saveImport: async (_tenant: TenantRef, saving: ImportRecord) => void saved.push(saving),
    } as unknown as Store;
    return { store, writes, saved, errorRows };
  }
  const user = (index: number): UserUpsert => ({ userKey: `u${index}@x.org`, attributes: {} });

  test('at most two batches in flight: the reader waits for the oldest; progress is saved at most once per interval', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      const { store, writes, saved } = handStore();
      const writer = new ImportWriter(store, tenant, 'i', (counts) => ({ ...record, ...counts }));
      for (let index = 0; index < IMPORT_BATCH_ROWS; index++) await writer.addUser(user(index));
      expect(writes.map((write) => write.users)).toEqual([IMPORT_BATCH_ROWS]);
      for (let index = 0; index < IMPORT_BATCH_ROWS - 1; index++) await writer.addUser(user(index));
      let third = false;
      const blocked = writer.addUser(user(0)).then(() => (third = true));
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect([writes.length, third]).toEqual([IMPORT_WRITES_IN_FLIGHT, false]);

      vi.setSystemTime(Date.now() + PROGRESS_INTERVAL_MS + 1);
      writes[0]!.finish();
      await blocked;
      expect(third).toBe(true);
      await vi.waitFor(() => expect(saved.at(-1)).toMatchObject({ status: 'running', rowsImported: IMPORT_BATCH_ROWS, rowsRead: 2 * IMPORT_BATCH_ROWS }));
      writes[1]!.finish();
      const draining = writer.drain();
      await new Promise((resolve) => setTimeout(resolve, 20));
      // Finished within the interval: no second save.
      expect(saved).toHaveLength(1);
      await draining;
      expect(writer.counts).toEqual({ rowsRead: 2 * IMPORT_BATCH_ROWS, rowsImported: 2 * IMPORT_BATCH_ROWS, rowsFailed: 0 });
    } finally {
      vi.useRealTimers();
    }
  });

  test('a failed write fails the import at the next row or at drain; row errors are capped but counted', async () => {
    const { store, writes, errorRows } = handStore();
    const writer = new ImportWriter(store, tenant, 'i', (counts) => ({ ...record, ...counts }));
    for (let row = 2; row < MAX_STORED_ROW_ERRORS + 12; row++) await writer.addProblem(row, 'bad');
    for (let index = 0; index < IMPORT_BATCH_ROWS; index++) await writer.addUser(user(index));
    writes[0]!.finish(new Error('store down'));
    await expect(writer.drain()).rejects.toThrow('store down');
    expect(errorRows).toHaveLength(MAX_STORED_ROW_ERRORS);
    expect(writer.counts).toMatchObject({ rowsFailed: MAX_STORED_ROW_ERRORS + 10, rowsImported: 0 });
    await expect(writer.addUser(user(1))).rejects.toThrow('store down');
  });
});
