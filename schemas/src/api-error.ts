/**
 * The one error body every REST endpoint returns: a stable code (`INLAY_MW_…`, never reused) and
 * a sentence for humans. Must never carry a request's values: messages name fields, not contents.
 */
import { Type, type Static } from '@sinclair/typebox';

export const ErrorBodySchema = Type.Object(
  {
    code: Type.String({ pattern: '^INLAY_[A-Z0-9_]+$', description: 'stable machine-readable code' }),
    message: Type.String({ description: 'what went wrong and, where possible, how to fix it' }),
  },
  { additionalProperties: false },
);
export type ErrorBody = Static<typeof ErrorBodySchema>;
