/**
 * The delivery outbox on Cassandra. Not written yet: every call refuses with STORE_UNAVAILABLE so
 * a Cassandra middleware records events as before and delivers nothing.
 */
import { MiddlewareError } from '../../errors.js';
import type { DeliveryStore } from '../../delivery/delivery-types.js';

const refuse = (): Promise<never> => Promise.reject(new MiddlewareError('INLAY_MW_STORE_UNAVAILABLE', 'deliveries are not kept on Cassandra yet'));

export class CassandraDeliveries implements DeliveryStore {
  leaseShard = refuse;
  dueDeliveries = refuse;
  recordAttempt = refuse;
  getDelivery = refuse;
  listDeliveries = refuse;
  listAttempts = refuse;
  requeue = refuse;
  recover = refuse;
  backlog = refuse;
  getPointState = refuse;
  changePointState = refuse;
  sweep = refuse;
}
