/**
 * Running CQL for every Cassandra table module: prepared statements, driver errors turned into
 * the store's errors (cassandra-errors.ts), and reading every page of a result. Must never build
 * CQL from values: callers bind them.
 */
import cassandra from 'cassandra-driver';
import { translateDriverError } from './cassandra-errors.js';

/** One prepared statement; a driver error comes back as the store's error. */
export async function runCql(client: cassandra.Client, query: string, params: unknown, options: cassandra.QueryOptions = {}): Promise<cassandra.types.ResultSet> {
  try {
    return await client.execute(query, params as cassandra.ArrayOrObject, { prepare: true, ...options });
  } catch (error) {
    throw translateDriverError(error);
  }
}

/** Every row of a result, page by page (`options.fetchSize` rows a page). */
export async function allCqlRows(client: cassandra.Client, query: string, params: unknown, options: cassandra.QueryOptions = {}): Promise<cassandra.types.Row[]> {
  const rows: cassandra.types.Row[] = [];
  let pageState: string | undefined;
  do {
    const result = await runCql(client, query, params, { ...options, ...(pageState === undefined ? {} : { pageState }) });
    rows.push(...result.rows);
    pageState = result.pageState ?? undefined;
  } while (pageState);
  return rows;
}
