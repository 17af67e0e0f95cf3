/**
 * Reads the node's configuration once: the JSON file (if any), then environment overrides,
 * validated against InlayConfigSchema with defaults applied, and frozen.
 *
 * A bad value stops start-up with one line that names the key and where it came from;
 * the value of a secret key is never repeated in that line.
 */
import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject } from 'ajv';
import { InlayConfigSchema, SECRET_CONFIG_KEYS, type InlayConfig } from './config.js';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export interface LoadedConfig {
  readonly config: Readonly<InlayConfig>;
  /** Things worth a log line that do not stop start-up (an INLAY_ variable nobody reads). */
  readonly warnings: readonly string[];
}

export interface LoadConfigOptions {
  /** Path of the JSON file; falls back to INLAY_CONFIG; no file means defaults + environment. */
  readonly file?: string | undefined;
  readonly env?: NodeJS.ProcessEnv;
}

type JsonSchemaNode = {
  type?: string;
  properties?: Record<string, JsonSchemaNode>;
  anyOf?: JsonSchemaNode[];
  items?: JsonSchemaNode;
  const?: unknown;
};

/** `proxy.limits.maxLineBytes` → `INLAY_PROXY_LIMITS_MAX_LINE_BYTES`. */
export function envNameFor(path: readonly string[]): string {
  const words = path.map((key) => key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase());
  return `INLAY_${words.join('_')}`;
}

/** Variables that are read elsewhere and must not be reported as unknown. */
const NON_CONFIG_VARIABLES = new Set(['INLAY_CONFIG']);

export function loadConfig(options: LoadConfigOptions = {}): LoadedConfig {
  const env = options.env ?? process.env;
  const file = options.file ?? env['INLAY_CONFIG'];
  const document: Record<string, unknown> = file ? readConfigFile(file) : {};
  const origins = new Map<string, string>();
  const knownVariables = new Set(NON_CONFIG_VARIABLES);

  for (const leaf of leavesOf(InlayConfigSchema as unknown as JsonSchemaNode, [])) {
    const name = envNameFor(leaf.path);
    knownVariables.add(name);
    const raw = env[name];
    if (raw === undefined) continue;
    setPath(document, leaf.path, convertEnvValue(raw, leaf.schema, leaf.path, name));
    origins.set(leaf.path.join('.'), name);
  }

  // verbose: errors carry the offending value and sub-schema, so the message can show both.
  const validate = new Ajv({ useDefaults: true, allErrors: false, strict: false, verbose: true }).compile(InlayConfigSchema);
  if (!validate(document)) {
    // A union reports each failed branch and then itself; the union's error reads best.
    const errors = validate.errors ?? [];
    const error = errors.find((candidate) => candidate.keyword === 'anyOf') ?? errors[0];
    throw new ConfigError(describeError(error, origins, file));
  }
  const config = document as InlayConfig;
  checkCombinations(config);

  const warnings = Object.keys(env)
    .filter((name) => name.startsWith('INLAY_') && !knownVariables.has(name) && !name.startsWith('INLAY_TEST_'))
    .map((name) => `environment variable ${name} is not a configuration key and is ignored`);
  return { config: deepFreeze(config), warnings };
}

function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`config file ${file} cannot be read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`config file ${file} is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError(`config file ${file} must hold a JSON object`);
  }
  return parsed as Record<string, unknown>;
}

interface Leaf {
  readonly path: string[];
  readonly schema: JsonSchemaNode;
}

function* leavesOf(schema: JsonSchemaNode, path: string[]): Generator<Leaf> {
  if (schema.type === 'object' && schema.properties) {
    for (const [key, child] of Object.entries(schema.properties)) yield* leavesOf(child, [...path, key]);
    return;
  }
  yield { path, schema };
}

function convertEnvValue(raw: string, schema: JsonSchemaNode, path: readonly string[], name: string): unknown {
  const kind = schema.type ?? (schema.anyOf ? 'string' : undefined);
  switch (kind) {
    case 'integer':
    case 'number': {
      const value = raw.trim() === '' ? Number.NaN : Number(raw.replaceAll('_', ''));
      if (!Number.isFinite(value)) throw new ConfigError(`${path.join('.')} (from ${name}) must be a number`);
      return value;
    }
    case 'boolean': {
      const lowered = raw.trim().toLowerCase();
      if (['1', 'true', 'yes', 'on'].includes(lowered)) return true;
      if (['0', 'false', 'no', 'off'].includes(lowered)) return false;
      throw new ConfigError(`${path.join('.')} (from ${name}) must be true or false`);
    }
    case 'array':
      return raw.split(',').map((item) => item.trim()).filter((item) => item !== '');
    default:
      return raw;
  }
}

function setPath(target: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1]!] = value;
}

function describeError(error: ErrorObject | undefined, origins: Map<string, string>, file: string | undefined): string {
  if (!error) return 'configuration is invalid';
  const segments = error.instancePath.split('/').filter(Boolean);
  if (error.keyword === 'additionalProperties') {
    const extra = String((error.params as { additionalProperty: string }).additionalProperty);
    return `unknown configuration key ${[...segments, extra].join('.')}${file ? ` in ${file}` : ''}`;
  }
  const key = segments.join('.') || '(root)';
  const origin = origins.get(key) ?? (file ? file : 'defaults');
  const secret = SECRET_CONFIG_KEYS.includes(key);
  const shown = secret || error.data === undefined ? '' : ` (got ${JSON.stringify(error.data)})`;
  return `${key} ${reasonFor(error)}${shown}; set in ${origin}`;
}

function reasonFor(error: ErrorObject): string {
  switch (error.keyword) {
    case 'pattern':
      return `has the wrong form: ${(error.parentSchema as { description?: string } | undefined)?.description ?? `expected ${String(error.schema)}`}`;
    case 'anyOf': {
      const choices = ((error.schema as JsonSchemaNode[] | undefined) ?? [])
        .map((branch) => (branch.const !== undefined ? JSON.stringify(branch.const) : (branch as { description?: string }).description ?? branch.type))
        .filter(Boolean);
      return `must be one of: ${choices.join(', ')}`;
    }
    default:
      return error.message ?? 'is invalid';
  }
}

/**
 * Rules a schema cannot say on its own that hold for every process. Rules of one process
 * (the proxy needs a certificate for its TLS listener) are checked by that process, so a
 * shared configuration file does not stop the others.
 */
function checkCombinations(config: InlayConfig): void {
  if (Boolean(config.tlsCert) !== Boolean(config.tlsKey)) {
    throw new ConfigError('tlsCert and tlsKey go together: set both (INLAY_TLS_CERT, INLAY_TLS_KEY) or neither');
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
