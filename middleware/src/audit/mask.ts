/**
 * Masks secrets in a JSON value before it goes into the audit trail: fields that name a secret
 * (secretKey, password, token, accessKey, the signing secrets of a point, …) and the credential
 * parts of URLs (the password of `amqp://user:password@host`, query parameters such as `?key=` or
 * `?token=`). Pure; the one place the audit trail decides what a secret is.
 *
 * Must never return a secret it was given: when unsure (an unknown field named like a secret, a
 * value too deeply nested to inspect) it masks.
 */

export const SECRET_MASK = '********';
/** Our payloads nest a handful of levels; anything deeper is masked whole rather than walked. */
export const MAX_MASK_DEPTH = 32;

/** Field names (lowercase, without "_" and "-") whose values are secrets. */
const SECRET_FIELDS = new Set([
  'secret',
  'secrets',
  'secretkey',
  'password',
  'passwd',
  'pass',
  'token',
  'tokenhash',
  'accesskey',
  'apikey',
  'authorization',
  'credentials',
  'privatekey',
  'clientsecret',
  'signature',
  'sig',
  'key',
  'accesstoken',
  'auth',
]);
const SECRET_SUFFIXES = ['secret', 'password', 'secretkey', 'apikey', 'token'];

const normalise = (name: string): string => name.toLowerCase().replace(/[_-]/g, '');

/** Whether a field (or URL query parameter) of this name holds a secret. `secretKeySet` and
 *  `tokenId` do not: they say whether there is one, or which. */
export function isSecretField(name: string): boolean {
  const key = normalise(name);
  if (key.endsWith('set') || key.endsWith('id')) return false;
  return SECRET_FIELDS.has(key) || SECRET_SUFFIXES.some((suffix) => key.endsWith(suffix));
}

const URL_START = /^[a-z][a-z0-9+.-]*:\/\//i;
/** scheme://user:password@ — the password is everything between the first ":" of the userinfo
 *  and the last "@" before the path. */
const USERINFO_PASSWORD = /^([a-z][a-z0-9+.-]*:\/\/[^/?#@:]*:)([^/?#]*)@/i;

/** A URL with its password and secret query parameters masked; any other text as it is. URLs
 *  are edited as text, not re-serialised, so placeholders such as {{eventId}} stay readable. */
export function maskUrl(text: string): string {
  if (!URL_START.test(text)) return text;
  let masked = text.replace(USERINFO_PASSWORD, (_whole, head: string, password: string) => (password === '' ? `${head}@` : `${head}${SECRET_MASK}@`));
  const queryAt = masked.indexOf('?');
  if (queryAt < 0) return masked;
  const hashAt = masked.indexOf('#', queryAt);
  const query = masked.slice(queryAt + 1, hashAt < 0 ? undefined : hashAt);
  const maskedQuery = query
    .split('&')
    .map((pair) => {
      const equals = pair.indexOf('=');
      if (equals < 0) return pair;
      let name = pair.slice(0, equals);
      try {
        name = decodeURIComponent(name);
      } catch {
        // A name that is not valid percent-encoding is judged as written.
      }
      return isSecretField(name) ? `${pair.slice(0, equals)}=${SECRET_MASK}` : pair;
    })
    .join('&');
  masked = masked.slice(0, queryAt + 1) + maskedQuery + (hashAt < 0 ? '' : masked.slice(hashAt));
  return masked;
}

/** What stands for a secret value: the mask for anything that was set, null and absence kept
 *  (so "a secret was removed" stays visible). */
function maskedSecret(value: unknown): unknown {
  return value === null || value === undefined ? value : SECRET_MASK;
}

/** A copy of `value` (JSON: objects, arrays, strings, numbers, booleans, null) with every secret
 *  masked. Dates become ISO strings. */
export function maskSecrets(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return maskUrl(value);
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Date) return value.toISOString();
  if (depth >= MAX_MASK_DEPTH) return SECRET_MASK;
  if (Array.isArray(value)) return value.map((item) => maskSecrets(item, depth + 1));
  const masked: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    if (item === undefined) continue;
    masked[key] = isSecretField(key) && typeof item !== 'boolean' ? maskedSecret(item) : maskSecrets(item, depth + 1);
  }
  return masked;
}
