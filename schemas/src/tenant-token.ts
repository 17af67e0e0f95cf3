/**
 * API tokens of a tenant: a bearer token that may only touch its own tenant's routes. The token
 * itself is returned once, when it is created; afterwards only its id and creation time are shown.
 */
import { Type, type Static } from '@sinclair/typebox';
import { TenantId } from './tenant.js';
import { SingleLineText } from './text.js';

/** A token's name says whose or what it is ("billing export", "jane@acme"): the audit trail
 *  names the token that made each change by it. */
const TokenName = SingleLineText({ maxLength: 200, description: 'what the token is for or whose it is; shown in the audit trail' });

/** POST …/tokens: the body is optional; without a name the audit trail names the tenant. */
export const TenantTokenCreateSchema = Type.Object({ name: Type.Optional(TokenName) }, { additionalProperties: false });
export type TenantTokenCreate = Static<typeof TenantTokenCreateSchema>;

export const TokenId = Type.String({
  pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$',
  description: 'a lowercase UUID',
});

export const TenantTokenInfoSchema = Type.Object(
  { id: TokenId, name: Type.Optional(TokenName), createdAt: Type.String({ format: 'date-time' }) },
  { additionalProperties: false },
);
export type TenantTokenInfo = Static<typeof TenantTokenInfoSchema>;
export const TenantTokenInfoListSchema = Type.Array(TenantTokenInfoSchema);

export const TenantTokenCreatedSchema = Type.Object(
  {
    id: TokenId,
    name: Type.Optional(TokenName),
    token: Type.String({ description: 'the bearer token; shown only in this response, store it now' }),
    createdAt: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: false },
);
export type TenantTokenCreated = Static<typeof TenantTokenCreatedSchema>;

export const TenantTokenParamsSchema = Type.Object({ id: TenantId, tokenId: TokenId }, { additionalProperties: false });
export type TenantTokenParams = Static<typeof TenantTokenParamsSchema>;
