/**
 * A conversion point as the API shows it: the password of its URL (amqp://user:password@host)
 * replaced by a mask, so no GET shows it; and the other way, a point PUT back with the mask gets
 * the stored password again, so the "list, modify, PUT back" loop keeps it. Pure.
 */
import type { ConversionPoint } from '@inlay/schemas';

export const PASSWORD_MASK = '********';

function parse(url: string): URL | undefined {
  try {
    return new URL(url);
  } catch {
    return undefined;
  }
}

export function pointView(point: ConversionPoint): ConversionPoint {
  const url = parse(point.connectionInformation.url);
  if (url === undefined || url.password === '') return point;
  url.password = PASSWORD_MASK;
  return { ...point, connectionInformation: { ...point.connectionInformation, url: url.href } };
}

export function restorePasswords(incoming: readonly ConversionPoint[], stored: readonly ConversionPoint[]): ConversionPoint[] {
  return incoming.map((point) => {
    const url = parse(point.connectionInformation.url);
    if (url === undefined || url.password !== PASSWORD_MASK) return point;
    const before = stored.find((candidate) => candidate.id === point.id);
    const storedUrl = before === undefined ? undefined : parse(before.connectionInformation.url);
    // Only for the same server and user: a mask must not carry a password to another host.
    if (storedUrl === undefined || storedUrl.host !== url.host || storedUrl.username !== url.username) return point;
    url.password = storedUrl.password;
    return { ...point, connectionInformation: { ...point.connectionInformation, url: url.href } };
  });
}
