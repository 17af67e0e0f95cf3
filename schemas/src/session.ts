/** GET /api/session: who a token is, so a client holding only a token (the web UI) knows its tenant. */
import { Type, type Static } from '@sinclair/typebox';

export const SessionSchema = Type.Union([
  Type.Object({ kind: Type.Literal('admin') }, { additionalProperties: false }),
  Type.Object({ kind: Type.Literal('tenant'), tenantId: Type.String() }, { additionalProperties: false }),
]);
export type Session = Static<typeof SessionSchema>;
