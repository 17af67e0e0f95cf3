/**
 * The check made when conversion points are saved: a URL whose host is a refused address, or a
 * name that resolves to one, is refused (INLAY_MW_DELIVERY_ADDRESS_REFUSED). A name that does not
 * resolve yet is accepted — its receiver may be set up later — and is checked again on every
 * connect. A URL that does not parse is left to fail its attempts, as the seed's placeholders
 * ("<injectionUrl>") must still be accepted.
 */
import type { ConversionPoint } from '@inlay/schemas';
import { MiddlewareError } from '../errors.js';
import type { AddressGuard } from './address-guard.js';

export async function checkPointAddresses(guard: AddressGuard, points: readonly ConversionPoint[], field: string): Promise<void> {
  for (const [index, point] of points.entries()) {
    let url: URL;
    try {
      url = new URL(point.connectionInformation.url.replace(/\{\{[^}]*\}\}/g, 'x'));
    } catch {
      continue;
    }
    const check = await guard.checkHost(url.hostname);
    if (check.kind === 'refused') throw new MiddlewareError('INLAY_MW_DELIVERY_ADDRESS_REFUSED', `${field}[${index}].connectionInformation.url: ${check.reason}`);
  }
}
