/**
 * The internal token the proxy and the middleware share, and where the proxy finds the
 * middleware, so that `npm start` with no setting injects (issue 12, §1).
 *
 * Token: INLAY_INTERNAL_TOKEN (config `internalToken`) when set; else `<dataDir>/internal-token`,
 * generated on first start by whichever process starts first (mode 0600, created with O_EXCL so
 * two processes starting together end up with the same token), read by the other. Engine URL:
 * `proxy.engine.url` when set (an empty string turns injection off); else the middleware's own
 * `http.listen` on loopback. Lives here because both processes need it and this package is the
 * one both import.
 *
 * Must never put the token's value into an error message or a description: those get logged.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { InlayConfig } from './config.js';

export const INTERNAL_TOKEN_FILE = 'internal-token';
/** 32 random bytes in base64url: a bearer token (RFC 6750 token68) of 43 characters. */
const TOKEN_RANDOM_BYTES = 32;
const MIN_TOKEN_CHARS = 16;
/** How long a process waits for the other one to finish writing a token file it just created:
 *  one short write, so 2 s is ample even on a loaded machine. */
const WRITER_WAIT_ATTEMPTS = 40;
const WRITER_WAIT_MS = 50;

export type InternalTokenSource = { readonly kind: 'configured' } | { readonly kind: 'token-file'; readonly path: string; readonly generated: boolean; readonly warning?: string };

export class InternalTokenError extends Error {
  override readonly name = 'InternalTokenError';
}

export async function resolveInternalToken(configured: string | undefined, dataDir: string): Promise<{ token: string; source: InternalTokenSource }> {
  if (configured !== undefined) return { token: configured, source: { kind: 'configured' } };
  const path = join(resolve(dataDir), INTERNAL_TOKEN_FILE);
  const existing = await readTokenFile(path);
  if (existing !== undefined) return existing;
  await mkdir(resolve(dataDir), { recursive: true, mode: 0o700 });
  const token = randomBytes(TOKEN_RANDOM_BYTES).toString('base64url');
  try {
    await writeFile(path, `${token}\n`, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      // The other process created it first and may still be writing it: read until it is whole.
      for (let attempt = 0; attempt < WRITER_WAIT_ATTEMPTS; attempt++) {
        const written = await readTokenFile(path);
        if (written !== undefined) return written;
        await new Promise((resolve) => setTimeout(resolve, WRITER_WAIT_MS));
      }
    }
    throw new InternalTokenError(`cannot write the internal token file ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  return { token, source: { kind: 'token-file', path, generated: true } };
}

async function readTokenFile(path: string): Promise<{ token: string; source: InternalTokenSource } | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new InternalTokenError(`cannot read the internal token file ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  const token = text.trim();
  // A file the other process is writing right now is empty for a moment: treat it as not there yet.
  if (token.length === 0) return undefined;
  if (token.length < MIN_TOKEN_CHARS || !/^[A-Za-z0-9._~+/-]+=*$/.test(token)) {
    throw new InternalTokenError(`the internal token file ${path} must hold one token of at least ${MIN_TOKEN_CHARS} characters; delete it to have a new one generated`);
  }
  const mode = (await stat(path)).mode & 0o777;
  const warning = mode & 0o077 ? `the internal token file ${path} is readable by others (mode ${mode.toString(8)}); chmod 600 it` : undefined;
  return { token, source: { kind: 'token-file', path, generated: false, ...(warning ? { warning } : {}) } };
}

/** A sentence for a start-up log line; never contains the token. */
export function describeInternalTokenSource(source: InternalTokenSource): string {
  return source.kind === 'configured' ? 'internal token from INLAY_INTERNAL_TOKEN' : `internal token ${source.generated ? 'generated into' : 'read from'} ${source.path}`;
}

/** Where the proxy reaches the middleware: proxy.engine.url when set ('' = nowhere: no
 *  injection), else http.listen with a wildcard host replaced by loopback. */
export function proxyEngineUrl(config: Pick<InlayConfig, 'proxy' | 'http'>): string {
  const configured = config.proxy.engine.url;
  if (configured !== undefined) return configured;
  const listen = config.http.listen;
  if (listen === '') return '';
  const colon = listen.lastIndexOf(':');
  const host = listen.slice(0, colon);
  const reachable = host === '0.0.0.0' || host === '' ? '127.0.0.1' : host === '[::]' ? '[::1]' : host;
  return `http://${reachable}:${listen.slice(colon + 1)}`;
}
