/**
 * Logs a client in at the upstream: (re)uses the pre-login upstream connection, sends the ID
 * that carries the client's real address, then the client's credentials, and turns the
 * upstream's answer into what the client sees under its own tag, capabilities filtered.
 */
import { rewriteCapabilityLine } from './capabilities.js';
import { formatIdList, type UpstreamId } from './imap-id.js';
import { quoteIfSafe } from './imap-syntax.js';
import { UpstreamError, type HandOver, type UpstreamLink, type UpstreamResponse } from './upstream.js';
import type { Credentials } from './commands/types.js';

export type LoginOutcome =
  | { readonly kind: 'loggedIn'; readonly handOver: HandOver; readonly toClient: Buffer }
  /** The upstream said NO or BAD; its connection stays usable for another attempt. */
  | { readonly kind: 'rejected'; readonly toClient: Buffer; readonly link: UpstreamLink }
  | { readonly kind: 'unavailable'; readonly reason: string };

export async function loginUpstream(
  connect: () => Promise<UpstreamLink>,
  existing: UpstreamLink | null,
  clientTag: string,
  credentials: Credentials,
  id: UpstreamId,
): Promise<LoginOutcome> {
  let link: UpstreamLink | null = existing;
  try {
    link ??= await connect();
    const untagged: Buffer[] = [];
    const keep = (response: UpstreamResponse): void => {
      // The ID answer is ours, not the client's.
      if (/^\* ID /i.test(response.text)) return;
      untagged.push(rewriteCapabilityLine(response.raw, 2) ?? response.raw);
    };
    // ID and the login travel together; the answer to ID is not waited for on its own.
    if (link.has('ID')) link.send(link.nextTag(), `ID ${formatIdList(id.fields)}`);
    const tag = link.nextTag();
    const answer =
      credentials.kind === 'plain'
        ? await link.authenticatePlain(tag, credentials.base64, keep)
        : await link.run(tag, ['LOGIN ', ...astring(credentials.user), ' ', ...astring(credentials.password)], keep, true);
    const toClient = Buffer.concat([...untagged, retag(answer, tag, clientTag)]);
    if (answer.status === 'OK') return { kind: 'loggedIn', handOver: link.handOver(), toClient };
    return { kind: 'rejected', toClient, link };
  } catch (err) {
    link?.close();
    return { kind: 'unavailable', reason: err instanceof UpstreamError ? err.message : String(err) };
  }
}

/** A string argument as a quoted string, or as a literal when it cannot be quoted. */
function astring(value: Buffer): (string | Buffer)[] {
  const quoted = quoteIfSafe(value);
  return quoted === null ? [value] : [quoted];
}

/** The upstream's tagged answer under the client's tag, capability list filtered. */
function retag(answer: UpstreamResponse, upstreamTag: string, clientTag: string): Buffer {
  const rest = answer.raw.subarray(upstreamTag.length);
  const line = Buffer.concat([Buffer.from(clientTag, 'latin1'), rest]);
  return rewriteCapabilityLine(line, clientTag.length + 1) ?? line;
}
