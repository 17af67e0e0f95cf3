/**
 * Where the admin token comes from. Set: INLAY_ADMIN_TOKEN (or `adminToken` in the config file).
 * Unset: the token in `<dataDir>/admin-token`, generated on first start (mode 0600, never
 * overwritten), so a fresh `npm start` is usable at once and the token survives restarts.
 *
 * Must never put the token's value into the description of its source: that is what gets logged.
 */
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { generateAdminToken } from './auth/tokens.js';

export const ADMIN_TOKEN_FILE = 'admin-token';
/** The config schema's floor for a configured token; a shorter file content is refused too. */
const MIN_ADMIN_TOKEN_CHARS = 16;

export type AdminTokenSource =
  | { readonly kind: 'environment'; readonly variable: 'INLAY_ADMIN_TOKEN' }
  | { readonly kind: 'config-file' }
  | { readonly kind: 'token-file'; readonly path: string; readonly generated: boolean; readonly warning?: string };

export interface ResolvedAdminToken {
  readonly token: string;
  readonly source: AdminTokenSource;
}

export class AdminTokenError extends Error {
  override readonly name = 'AdminTokenError';
}

export async function resolveAdminToken(
  configured: string | undefined,
  dataDir: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<ResolvedAdminToken> {
  if (configured !== undefined) {
    const fromEnvironment = env['INLAY_ADMIN_TOKEN'] !== undefined;
    return { token: configured, source: fromEnvironment ? { kind: 'environment', variable: 'INLAY_ADMIN_TOKEN' } : { kind: 'config-file' } };
  }
  const path = join(resolve(dataDir), ADMIN_TOKEN_FILE);
  const existing = await readTokenFile(path);
  if (existing !== undefined) return existing;

  await mkdir(resolve(dataDir), { recursive: true, mode: 0o700 });
  const token = generateAdminToken();
  try {
    // wx: never overwrite; if another process won the race, use its token.
    await writeFile(path, `${token}\n`, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      const written = await readTokenFile(path);
      if (written) return written;
    }
    throw new AdminTokenError(`cannot write the admin token file ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  return { token, source: { kind: 'token-file', path, generated: true } };
}

async function readTokenFile(path: string): Promise<ResolvedAdminToken | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new AdminTokenError(`cannot read the admin token file ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  const token = text.trim();
  if (token.length < MIN_ADMIN_TOKEN_CHARS || /\s/.test(token)) {
    throw new AdminTokenError(`the admin token file ${path} must hold one token of at least ${MIN_ADMIN_TOKEN_CHARS} characters; delete it to have a new one generated`);
  }
  const mode = (await stat(path)).mode & 0o777;
  const warning = mode & 0o077 ? `the admin token file ${path} is readable by others (mode ${mode.toString(8)}); chmod 600 it` : undefined;
  return { token, source: { kind: 'token-file', path, generated: false, ...(warning ? { warning } : {}) } };
}

/** A sentence for the start-up log line; never contains the token. */
export function describeAdminTokenSource(source: AdminTokenSource): string {
  switch (source.kind) {
    case 'environment':
      return 'admin token from INLAY_ADMIN_TOKEN';
    case 'config-file':
      return 'admin token from the configuration file (adminToken); prefer INLAY_ADMIN_TOKEN';
    case 'token-file':
      return `${source.generated ? 'admin token generated into' : 'admin token read from'} ${source.path} (INLAY_ADMIN_TOKEN is unset)`;
  }
}
