/**
 * Commands counted by name and path without touching prom-client on the hot path: a relay adds 1
 * to a slot of a typed array (no allocation, no label hashing), and the scrape turns the slots into
 * `inlay_proxy_commands_total{command,path}`.
 *
 * The label set is bounded: a name outside COUNTED_COMMANDS counts as `other`, so a client that
 * sends made-up command names cannot grow the series (two paths × 40 names at most).
 */

/** IMAP commands a client sends after login (RFC 9051, RFC 3501 and the extensions servers offer). */
export const COUNTED_COMMANDS = [
  'APPEND', 'AUTHENTICATE', 'CAPABILITY', 'CHECK', 'CLOSE', 'COMPRESS', 'COPY', 'CREATE', 'DELETE', 'ENABLE',
  'EXAMINE', 'EXPUNGE', 'FETCH', 'GETACL', 'GETMETADATA', 'GETQUOTA', 'GETQUOTAROOT', 'ID', 'IDLE', 'LIST',
  'LOGIN', 'LOGOUT', 'LSUB', 'MOVE', 'MYRIGHTS', 'NAMESPACE', 'NOOP', 'RENAME', 'SEARCH', 'SELECT',
  'SETMETADATA', 'STATUS', 'STORE', 'SUBSCRIBE', 'UID', 'UNSELECT', 'UNSUBSCRIBE', 'XLIST',
] as const;

/** byte_copy: relayed as it came (any mailbox but an injected INBOX); inbox_view: run by the INBOX view. */
export type CommandPath = 'byte_copy' | 'inbox_view';
export const COMMAND_PATHS: readonly CommandPath[] = ['byte_copy', 'inbox_view'];

const OTHER = COUNTED_COMMANDS.length;
const INDEX = new Map<string, number>(COUNTED_COMMANDS.map((name, index) => [name, index]));

export class CommandCounts {
  /** Slot (command index × 2 + path index); the last pair is `other`. Doubles count exactly to 2^53. */
  private readonly counts = new Float64Array((COUNTED_COMMANDS.length + 1) * 2);

  /** `name` is upper case, as the framer's peek gives it. */
  count(name: string, path: CommandPath): void {
    const index = INDEX.get(name) ?? OTHER;
    this.counts[index * 2 + (path === 'byte_copy' ? 0 : 1)]! += 1;
  }

  /** Every (command, path, count) with a count above 0, for the scrape. */
  *entries(): Generator<{ command: string; path: CommandPath; value: number }> {
    for (let index = 0; index <= OTHER; index++) {
      for (let path = 0; path < 2; path++) {
        const value = this.counts[index * 2 + path]!;
        if (value > 0) yield { command: index === OTHER ? 'other' : COUNTED_COMMANDS[index]!, path: COMMAND_PATHS[path]!, value };
      }
    }
  }
}

/**
 * Times one byte-copy command per session at a time, from the moment it goes upstream to the
 * server's tagged completion. One at a time keeps it to two fields and one comparison per tagged
 * server line; with pipelining the others go untimed, which a latency distribution can afford.
 * IDLE is never timed: its duration is the user's, not the server's.
 */
export class UpstreamCommandTimer {
  private tag: string | null = null;
  private startedAt = 0;

  constructor(private readonly observe: (seconds: number) => void) {}

  started(tag: string, name: string): void {
    if (this.tag !== null || name === 'IDLE') return;
    this.tag = tag;
    this.startedAt = performance.now();
  }

  /** Called with the first line of each server response. */
  serverLine(line: Buffer): void {
    const tag = this.tag;
    if (tag === null || line.length <= tag.length || line[tag.length] !== 0x20) return;
    for (let i = 0; i < tag.length; i++) if (line[i] !== tag.charCodeAt(i)) return;
    this.tag = null;
    this.observe((performance.now() - this.startedAt) / 1000);
  }
}
