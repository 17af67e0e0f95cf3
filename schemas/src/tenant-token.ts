/**
 * API tokens of a tenant: a bearer token that may only touch its own tenant's routes. The token
 * itself is returned once, when it is created; afterwards only its id and creation time are shown.
 */
import { Type, type Static } from '@sinclair/typebox';
import { TenantId } from './tenant.js';

export const TokenId = Type.String({
  pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$',
  description: 'a lowercase UUID',
});

export const TenantTokenInfoSchema = Type.Object(
  { id: TokenId, createdAt: Type.String({ format: 'date-time' }) },
  { additionalProperties: false },
);
export type TenantTokenInfo = Static<typeof TenantTokenInfoSchema>;
export const TenantTokenInfoListSchema = Type.Array(TenantTokenInfoSchema);

export const TenantTokenCreatedSchema = Type.Object(
  {
    id: TokenId,
    token: Type.String({ description: 'the bearer token; shown only in this response, store it now' }),
    createdAt: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: false },
);
export type TenantTokenCreated = Static<typeof TenantTokenCreatedSchema>;

export const TenantTokenParamsSchema = Type.Object({ id: TenantId, tokenId: TokenId }, { additionalProperties: false });
export type TenantTokenParams = Static<typeof TenantTokenParamsSchema>;
