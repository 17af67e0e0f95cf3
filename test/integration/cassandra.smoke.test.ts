// Proves the harness's Cassandra accepts CQL through the same driver the
// middleware uses: schema changes, a prepared write and a read back.
import { afterAll, beforeAll, expect, inject, test } from 'vitest';
import { randomBytes } from 'node:crypto';
import cassandra from 'cassandra-driver';

const info = inject('cassandra');
let client: cassandra.Client;

beforeAll(async () => {
  client = new cassandra.Client({ contactPoints: [`${info.host}:${info.port}`], localDataCenter: info.localDataCenter });
  await client.connect();
});

afterAll(async () => {
  await client.shutdown();
});

test('creates a keyspace and table, writes a row and reads it back', async () => {
  // A keyspace per run of this test, so parallel files never share tables.
  const keyspace = `smoke_${randomBytes(4).toString('hex')}`;
  await client.execute(
    `CREATE KEYSPACE ${keyspace} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`,
  );
  await client.execute(`CREATE TABLE ${keyspace}.campaign (id uuid PRIMARY KEY, subject text, starts_at timestamp)`);

  const id = cassandra.types.Uuid.random();
  const startsAt = new Date('2030-01-02T03:04:05.000Z');
  await client.execute(`INSERT INTO ${keyspace}.campaign (id, subject, starts_at) VALUES (?, ?, ?)`, [id, 'Hello from Inlay', startsAt], {
    prepare: true,
  });

  const result = await client.execute(`SELECT id, subject, starts_at FROM ${keyspace}.campaign WHERE id = ?`, [id], {
    prepare: true,
  });
  expect(result.rowLength).toBe(1);
  const row = result.first();
  expect(row.get('id').toString()).toBe(id.toString());
  expect(row.get('subject')).toBe('Hello from Inlay');
  expect((row.get('starts_at') as Date).toISOString()).toBe(startsAt.toISOString());

  await client.execute(`DROP KEYSPACE ${keyspace}`);
});
