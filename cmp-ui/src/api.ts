/**
 * The one way the UI talks to the middleware: fetch with the signed-in token, JSON in and out,
 * `{code, message}` errors turned into ApiError. A 401 on any call ends the session and sends
 * the user back to sign-in with the reason (an expired or revoked token). The token lives in
 * sessionStorage: it is gone when the tab closes and never lands in a URL or a log.
 *
 * Must never put the token anywhere but the Authorization header.
 */
import type { ErrorBody, Session } from '@inlay/schemas';

const TOKEN_KEY = 'inlay.token';
const SESSION_KEY = 'inlay.session';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface SignedIn {
  readonly token: string;
  readonly session: Session;
}

let signedOutListener: (reason: string) => void = () => undefined;

/** Called with a message when the API refuses the token; the app shows sign-in. */
export function onSignedOut(listener: (reason: string) => void): void {
  signedOutListener = listener;
}

export function currentSignIn(): SignedIn | null {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const session = sessionStorage.getItem(SESSION_KEY);
  if (token === null || session === null) return null;
  try {
    return { token, session: JSON.parse(session) as Session };
  } catch {
    return null;
  }
}

const NOTICE_KEY = 'inlay.signedOutBecause';

export function signOut(reason = ''): void {
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(SESSION_KEY);
  // Kept for the sign-in screen, so the reason survives a reload or a link opened meanwhile.
  if (reason !== '') sessionStorage.setItem(NOTICE_KEY, reason);
  signedOutListener(reason);
}

/** Why the last session ended, once. */
export function takeSignOutReason(): string {
  const reason = sessionStorage.getItem(NOTICE_KEY) ?? '';
  sessionStorage.removeItem(NOTICE_KEY);
  return reason;
}

/** Checks the token with GET /api/session and keeps it for this tab. */
export async function signIn(token: string): Promise<SignedIn> {
  const response = await fetch('/api/session', { headers: { authorization: `Bearer ${token}` } });
  if (response.status === 401) throw new ApiError(401, 'INLAY_MW_UNAUTHENTICATED', 'This token is unknown or was revoked. Ask your administrator for a new one.');
  if (!response.ok) throw await asError(response);
  const session = (await response.json()) as Session;
  sessionStorage.setItem(TOKEN_KEY, token);
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
  return { token, session };
}

async function asError(response: Response): Promise<ApiError> {
  let body: Partial<ErrorBody> = {};
  try {
    body = (await response.json()) as ErrorBody;
  } catch {
    // not JSON: a proxy in between, or the middleware down
  }
  const message = body.message ?? `The server answered ${response.status} ${response.statusText}. Try again; if it persists, check that the middleware runs.`;
  return new ApiError(response.status, body.code ?? `HTTP_${response.status}`, message);
}

export interface RawResponse {
  readonly response: Response;
}

/** A call that returns the Response (for ETags, bytes and CSV); throws ApiError unless 2xx. */
export async function call(path: string, init: RequestInit & { json?: unknown } = {}): Promise<Response> {
  const signedIn = currentSignIn();
  const headers = new Headers(init.headers);
  if (signedIn) headers.set('authorization', `Bearer ${signedIn.token}`);
  let body = init.body;
  if (init.json !== undefined) {
    headers.set('content-type', 'application/json');
    body = JSON.stringify(init.json);
  }
  let response: Response;
  try {
    response = await fetch(`/api${path}`, { ...init, headers, body: body ?? null });
  } catch {
    throw new ApiError(0, 'NETWORK', 'The middleware cannot be reached. Check your connection and that the service runs, then try again.');
  }
  if (response.status === 401) {
    signOut('Your session ended: the token expired or was revoked. Sign in again.');
    throw await asError(response);
  }
  if (!response.ok) throw await asError(response);
  return response;
}

export async function getJson<T>(path: string): Promise<T> {
  return (await (await call(path)).json()) as T;
}

export async function sendJson<T>(method: 'POST' | 'PUT' | 'DELETE', path: string, json?: unknown, headers?: Record<string, string>): Promise<T> {
  const response = await call(path, { method, ...(json === undefined ? {} : { json }), ...(headers ? { headers } : {}) });
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  return (text === '' ? undefined : JSON.parse(text)) as T;
}

/** Path of a tenant's resource, every segment encoded. */
export function tenantPath(tenantId: string, ...parts: string[]): string {
  return ['/tenants', tenantId, ...parts].map((part, index) => (index === 0 ? part : encodeURIComponent(part))).join('/');
}

/** Offers `blob` as a file download. */
export function download(blob: Blob, filename: string): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
