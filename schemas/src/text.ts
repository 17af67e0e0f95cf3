/**
 * String shapes shared by the REST schemas: free text that is safe to store and show, opaque
 * tokens without whitespace, identifiers. Every one bounds its length, so no field can make a
 * store row or a log line arbitrarily large.
 *
 * Patterns run with Ajv's default `u` flag: there `[\uD800-\uDFFF]` matches only *unpaired*
 * surrogates (a well-formed pair is one code point above U+FFFF), which cannot be encoded as
 * UTF-8 and would silently turn into U+FFFD in Cassandra or LMDB. Must never be loosened to
 * accept control characters in single-line fields: they end up in logs, headers and MIME.
 */
import { Type, type StringOptions, type TString, type TUnsafe } from '@sinclair/typebox';

/**
 * The rule a `pattern` enforces, in words, for error messages (`description` says what the value
 * is for; where a schema has no rule, error messages fall back to the description). An `x-`
 * name, so OpenAPI documents carry it as a legal extension.
 */
export const RULE = 'x-rule';

/** C0 and C1 controls, DEL and unpaired surrogates. */
const NOT_SAFE = '\\u0000-\\u001F\\u007F-\\u009F\\uD800-\\uDFFF';
/** The same, but tab, line feed and carriage return are allowed. */
const NOT_SAFE_MULTILINE = '\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\u007F-\\u009F\\uD800-\\uDFFF';

/** One line of human text (a name): no control characters, no unpaired surrogates. */
export function SingleLineText(options: StringOptions & { maxLength: number }): TString {
  return Type.String({
    minLength: 1,
    pattern: `^[^${NOT_SAFE}]*$`,
    [RULE]: 'text without control characters or unpaired surrogates',
    ...options,
  });
}

/** Human text that may span lines (a description). */
export function MultiLineText(options: StringOptions & { maxLength: number }): TString {
  return Type.String({
    pattern: `^[^${NOT_SAFE_MULTILINE}]*$`,
    [RULE]: 'text without control characters (other than tab and line breaks) or unpaired surrogates',
    ...options,
  });
}

/**
 * Something a machine reads: a URL, an endpoint, a key. No whitespace. Deliberately not checked
 * for URL syntax: the OX Engage examples post placeholders such as "<endpoint>" and must be
 * accepted verbatim; whatever uses the value later reports it if it does not work.
 */
export function OpaqueToken(options: StringOptions & { maxLength: number }): TString {
  return Type.String({
    minLength: 1,
    pattern: `^[^\\s${NOT_SAFE}]+$`,
    [RULE]: 'a value without whitespace or control characters',
    ...options,
  });
}

/** A short machine name (`ongage`, `rados`, `us-east-1`). */
export function ShortName(description: string): TString {
  return Type.String({
    pattern: '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$',
    [RULE]: 'a letter or digit, then up to 63 letters, digits, "_", ".", ":" or "-"',
    description,
  });
}

/** A string restricted to the given values; one `enum` keyword, so an error lists them all. */
export function StringEnum<const Values extends readonly string[]>(
  values: Values,
  options: { description?: string; default?: Values[number] } = {},
): TUnsafe<Values[number]> {
  return Type.Unsafe<Values[number]>({ type: 'string', enum: [...values], ...options });
}
