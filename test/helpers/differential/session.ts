/**
 * One IMAP session of the differential harness: a connection from a target, logged in, with
 * the invariant checker tapped on it. It runs one command at a time and hands back every
 * response from the moment the command was sent up to its tagged completion — unsolicited
 * responses included, since those are part of what is compared — as parsed by the checker.
 *
 * The wait for an answer has a generous safety limit so a hung server fails the test with the
 * command named instead of hanging it; no assertion depends on how long anything took.
 */
import type { Socket } from 'node:net';
import { ImapInvariantChecker, type MessageHistory } from '../imap-invariants.ts';
import { tapSocket } from '../imap-invariants-tap.ts';
import type { ImapResponse } from '../imap-invariants-wire.ts';
import type { RenderedCommand } from './commands.ts';

/** A server that says nothing for this long is hung, not slow. */
const NO_ANSWER_LIMIT_MS = 30_000;

export interface CommandOutcome {
  /** Every response received for the command, the tagged completion last; "+" excluded. */
  readonly responses: readonly ImapResponse[];
  /** What was received, as text, for reports. */
  readonly raw: string;
  /** What was sent. */
  readonly sent: string;
}

export interface SessionEndpoint {
  connect(): Promise<Socket>;
  readonly credentials: { readonly user: string; readonly password: string };
}

function quote(text: string): string {
  return `"${text.replace(/[\\"]/g, '\\$&')}"`;
}

export class HarnessSession {
  private readonly queue: { response: ImapResponse; frame: Buffer }[] = [];
  private wake: (() => void) | null = null;
  private closed = false;

  private constructor(readonly name: string, private readonly socket: Socket, readonly checker: ImapInvariantChecker) {
    checker.onResponse((response, frame) => {
      this.queue.push({ response, frame });
      this.wake?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake?.();
    });
    socket.on('error', () => {});
  }

  /** Connects, reads the greeting and logs in; the checker sees all of it. */
  static async open(endpoint: SessionEndpoint, name: string, history: MessageHistory): Promise<HarnessSession> {
    const socket = await endpoint.connect();
    const checker = new ImapInvariantChecker({ name, history });
    tapSocket(socket, checker);
    const session = new HarnessSession(name, socket, checker);
    const greeting = await session.next(`${name}: greeting`);
    if (greeting.response.kind !== 'status' || greeting.response.status !== 'OK') throw new Error(`${name}: greeting ${greeting.frame.toString('latin1')}`);
    const { user, password } = endpoint.credentials;
    const login = await session.command('login', { line: `LOGIN ${quote(user)} ${quote(password)}`, literal: null });
    const tagged = login.responses.at(-1);
    if (tagged?.kind !== 'tagged' || tagged.status !== 'OK') throw new Error(`${name}: login as ${user} failed: ${login.raw}`);
    return session;
  }

  private async next(waitingFor: string): Promise<{ response: ImapResponse; frame: Buffer }> {
    const deadline = Date.now() + NO_ANSWER_LIMIT_MS;
    for (;;) {
      const first = this.queue.shift();
      if (first) return first;
      if (this.closed) throw new Error(`${this.name}: connection closed while waiting for ${waitingFor}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.name}: no answer to ${waitingFor} within ${NO_ANSWER_LIMIT_MS} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          this.wake = null;
          resolve();
        };
      });
    }
  }

  /** Sends a command (a literal after the "+" continuation) and collects its responses. */
  async command(tag: string, command: RenderedCommand): Promise<CommandOutcome> {
    const sent = command.literal ? `${tag} ${command.line}{${command.literal.length}}` : `${tag} ${command.line}`;
    this.socket.write(`${sent}\r\n`);
    return this.collect(tag, sent, () => {
      if (command.literal) this.socket.write(Buffer.concat([command.literal, Buffer.from('\r\n')]));
    });
  }

  /** IDLE, left at once: DONE goes out as soon as the server says "+ idling". */
  async idle(tag: string): Promise<CommandOutcome> {
    this.socket.write(`${tag} IDLE\r\n`);
    return this.collect(tag, `${tag} IDLE / DONE`, () => this.socket.write('DONE\r\n'));
  }

  private async collect(tag: string, sent: string, onContinuation: () => void): Promise<CommandOutcome> {
    const responses: ImapResponse[] = [];
    let raw = '';
    for (;;) {
      const { response, frame } = await this.next(sent);
      raw += frame.toString('latin1');
      if (response.kind === 'continuation') {
        onContinuation();
        continue;
      }
      responses.push(response);
      if (response.kind === 'tagged' && response.tag === tag) return { responses, raw, sent };
    }
  }

  async logout(): Promise<void> {
    if (!this.closed) {
      try {
        await this.command('bye', { line: 'LOGOUT', literal: null });
      } catch {
        // Closing anyway.
      }
    }
    this.socket.destroy();
  }
}
