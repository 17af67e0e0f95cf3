/**
 * How the Cassandra store reports the driver's failures: a cluster that cannot answer now
 * (no host, timeouts, overload) is STORE_UNAVAILABLE (503, retry later), never a 500. Everything
 * else — a bug in a statement, a missing table — goes on as it is and ends as a logged 500.
 */
import cassandra from 'cassandra-driver';
import { MiddlewareError } from '../../errors.js';
import { storeUnavailable } from '../store-errors.js';

const { responseErrorCodes } = cassandra.types;

/** Server answers that mean "not now" rather than "wrong": the client should retry later. */
const UNAVAILABLE_CODES = new Set<number>([
  responseErrorCodes.unavailableException,
  responseErrorCodes.overloaded,
  responseErrorCodes.isBootstrapping,
  responseErrorCodes.writeTimeout,
  responseErrorCodes.readTimeout,
]);

export function translateDriverError(error: unknown): unknown {
  if (error instanceof MiddlewareError) return error;
  const { NoHostAvailableError, OperationTimedOutError, BusyConnectionError, ResponseError } = cassandra.errors;
  if (error instanceof NoHostAvailableError || error instanceof OperationTimedOutError || error instanceof BusyConnectionError) return storeUnavailable(error);
  if (error instanceof ResponseError && UNAVAILABLE_CODES.has(error.code)) return storeUnavailable(error);
  return error;
}
