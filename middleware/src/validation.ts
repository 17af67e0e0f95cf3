/**
 * How request parts are checked against the route schemas, and how a failure is worded.
 *
 * Bodies are validated strictly: no type coercion (a `"true"` is not a boolean), no silent removal
 * of unknown fields (Fastify's default), so what a client sent is what was checked. Only the
 * query string and path parameters, which are text by nature, are coerced ("?createDB=true").
 *
 * Must never quote the offending value in a message: it names the field and the rule.
 */
import { Ajv, type ErrorObject, type Options, type ValidateFunction } from 'ajv';
import type { FastifySchemaCompiler, FastifySchemaValidationError } from 'fastify';
import { RULE } from '@inlay/schemas';

const SHARED_OPTIONS: Options = {
  // Defaults declared in the schemas (deleteTemporaryImportFiles: false, …) are filled in.
  useDefaults: true,
  removeAdditional: false,
  // The first error is enough to name a field, and stops work early on hostile input.
  allErrors: false,
  // Annotations such as `description` are part of the schemas on purpose (OpenAPI).
  strict: false,
  // Errors carry the failing sub-schema, whose `description` words a pattern for humans.
  verbose: true,
};

const bodyAjv = new Ajv({ ...SHARED_OPTIONS, coerceTypes: false });
const textAjv = new Ajv({ ...SHARED_OPTIONS, coerceTypes: true });

/** Compiles each route's schema once, at start-up, with the Ajv instance its request part needs. */
export const validatorCompiler: FastifySchemaCompiler<unknown> = ({ schema, httpPart }) => {
  const ajv = httpPart === 'querystring' || httpPart === 'params' || httpPart === 'headers' ? textAjv : bodyAjv;
  return ajv.compile(schema as object) as ValidateFunction;
};

/** The longest property name repeated in a message (the name comes from the client). */
const MAX_ECHOED_NAME_CHARS = 64;

function quoteName(name: string): string {
  return JSON.stringify(name.length > MAX_ECHOED_NAME_CHARS ? `${name.slice(0, MAX_ECHOED_NAME_CHARS)}…` : name);
}

/** `/dataSources/0/awsConnectionInformation/bucket` → `dataSources[0].awsConnectionInformation.bucket`. */
export function fieldPath(context: string, instancePath: string, child?: string): string {
  const segments = instancePath
    .split('/')
    .slice(1)
    .map((segment) => segment.replaceAll('~1', '/').replaceAll('~0', '~'));
  if (child !== undefined) segments.push(child);
  let path = context;
  for (const segment of segments) {
    if (/^[0-9]+$/.test(segment)) path += `[${segment}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(segment)) path += `.${segment}`;
    else path += `[${quoteName(segment)}]`;
  }
  return path;
}

export function describeValidationFailure(errors: readonly FastifySchemaValidationError[], context: string): string {
  const error = errors[0] as (ErrorObject & { parentSchema?: { description?: string; [RULE]?: string } }) | undefined;
  if (!error) return `${context} is invalid`;
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'required':
      return `${fieldPath(context, error.instancePath, String(params['missingProperty']))} is required`;
    case 'additionalProperties':
      return `${fieldPath(context, error.instancePath)} has an unknown field ${quoteName(String(params['additionalProperty']))}`;
    case 'pattern':
      return `${fieldPath(context, error.instancePath)} must be ${error.parentSchema?.[RULE] ?? error.parentSchema?.description ?? 'in the documented form'}`;
    case 'enum':
      return `${fieldPath(context, error.instancePath)} must be one of ${(params['allowedValues'] as unknown[]).map((value) => JSON.stringify(value)).join(', ')}`;
    case 'type':
      return `${fieldPath(context, error.instancePath)} must be ${String(params['type'])}`;
    default:
      // Ajv's own wording ("must NOT have more than 200 characters") never includes the value.
      return `${fieldPath(context, error.instancePath)} ${error.message ?? 'is invalid'}`;
  }
}

/** A check of JSON that arrives inside a text part (a query parameter holding JSON) with the
 *  body's strict rules; returns the failure worded as for a body, or undefined when it holds. */
export function compileJsonCheck(schema: object): (value: unknown, context: string) => string | undefined {
  const validate = bodyAjv.compile(schema);
  return (value, context) => (validate(value) ? undefined : describeValidationFailure((validate.errors ?? []) as FastifySchemaValidationError[], context));
}
