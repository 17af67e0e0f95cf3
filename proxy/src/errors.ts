/**
 * Every way the proxy refuses or ends something, with a stable code for logs and metrics
 * and the IMAP answer the client gets. Codes are never reused or renamed: operators alert on them.
 */

export type ImapReplyKind = 'BAD' | 'NO' | 'BYE';

export interface ProxyErrorDefinition {
  readonly code: `INLAY_PROXY_${string}`;
  readonly reply: ImapReplyKind;
  /** RFC 5530 response code, when one fits. */
  readonly responseCode?: string;
  readonly text: string;
}

export const PROXY_ERRORS = {
  lineTooLong: { code: 'INLAY_PROXY_LINE_TOO_LONG', reply: 'BYE', responseCode: 'LIMIT', text: 'Command line too long' },
  literalTooLarge: { code: 'INLAY_PROXY_LITERAL_TOO_LARGE', reply: 'BAD', responseCode: 'TOOBIG', text: 'Literal too large before login' },
  tooManyBadCommands: { code: 'INLAY_PROXY_TOO_MANY_BAD_COMMANDS', reply: 'BYE', text: 'Too many invalid commands' },
  badSyntax: { code: 'INLAY_PROXY_BAD_SYNTAX', reply: 'BAD', responseCode: 'CLIENTBUG', text: 'Invalid command syntax' },
  unknownCommand: { code: 'INLAY_PROXY_UNKNOWN_COMMAND', reply: 'BAD', text: 'Unknown command or not valid before login' },
  loginFirst: { code: 'INLAY_PROXY_LOGIN_FIRST', reply: 'BAD', text: 'Log in first' },
  preAuthTimeout: { code: 'INLAY_PROXY_PREAUTH_TIMEOUT', reply: 'BYE', text: 'Timed out waiting for login' },
  idleTimeout: { code: 'INLAY_PROXY_IDLE_TIMEOUT', reply: 'BYE', text: 'Autologout; idle for too long' },
  tooManyConnections: { code: 'INLAY_PROXY_TOO_MANY_CONNECTIONS', reply: 'BYE', responseCode: 'UNAVAILABLE', text: 'Too many connections, try again later' },
  tooManyFromAddress: { code: 'INLAY_PROXY_TOO_MANY_FROM_ADDRESS', reply: 'BYE', responseCode: 'UNAVAILABLE', text: 'Too many connections from your address' },
  /** Dovecot's words for its mail_max_userip_connections refusal, on purpose: clients and log
   *  tools recognise them, and the connection stays open for another login, as Dovecot's does. */
  tooManyForUserAddress: { code: 'INLAY_PROXY_TOO_MANY_FOR_USER_ADDRESS', reply: 'NO', responseCode: 'UNAVAILABLE', text: 'Maximum number of connections from user+IP exceeded' },
  privacyRequired: { code: 'INLAY_PROXY_PRIVACY_REQUIRED', reply: 'NO', responseCode: 'PRIVACYREQUIRED', text: 'Start TLS before logging in' },
  tlsUnavailable: { code: 'INLAY_PROXY_TLS_UNAVAILABLE', reply: 'BAD', text: 'STARTTLS is not available' },
  tlsAlreadyActive: { code: 'INLAY_PROXY_TLS_ACTIVE', reply: 'BAD', text: 'TLS is already active' },
  starttlsInjection: { code: 'INLAY_PROXY_STARTTLS_INJECTION', reply: 'BYE', text: 'Data sent after STARTTLS before the TLS handshake; refused' },
  starttlsAfterLogin: { code: 'INLAY_PROXY_STARTTLS_AFTER_LOGIN', reply: 'BAD', text: 'STARTTLS is only valid before login' },
  compressUnavailable: { code: 'INLAY_PROXY_COMPRESS_UNAVAILABLE', reply: 'BAD', text: 'COMPRESS is not available through this server' },
  mechanismUnsupported: { code: 'INLAY_PROXY_MECHANISM_UNSUPPORTED', reply: 'NO', responseCode: 'CANNOT', text: 'Unsupported authentication mechanism' },
  authCancelled: { code: 'INLAY_PROXY_AUTH_CANCELLED', reply: 'BAD', text: 'Authentication cancelled' },
  authMalformed: { code: 'INLAY_PROXY_AUTH_MALFORMED', reply: 'BAD', text: 'Invalid SASL PLAIN response' },
  alreadyAuthenticating: { code: 'INLAY_PROXY_LOGIN_IN_PROGRESS', reply: 'BAD', text: 'A login is already in progress' },
  upstreamUnavailable: { code: 'INLAY_PROXY_UPSTREAM_UNAVAILABLE', reply: 'NO', responseCode: 'UNAVAILABLE', text: 'Mail server temporarily unavailable, try again later' },
  upstreamLost: { code: 'INLAY_PROXY_UPSTREAM_LOST', reply: 'BYE', responseCode: 'UNAVAILABLE', text: 'Connection to the mail server lost' },
  proxyLoop: { code: 'INLAY_PROXY_LOOP', reply: 'NO', responseCode: 'UNAVAILABLE', text: 'Proxy loop detected' },
  shuttingDown: { code: 'INLAY_PROXY_SHUTDOWN', reply: 'BYE', responseCode: 'UNAVAILABLE', text: 'Server shutting down, reconnect shortly' },
  /** The server's INBOX UIDs grew past 2^28 − 1 while shown translated (inbox-map.ts,
   *  UidBeyondScaleError): the session ends; the client's next SELECT shows the INBOX untranslated. */
  inboxUidsBeyondScale: {
    code: 'INLAY_PROXY_INBOX_UIDS_BEYOND_SCALE',
    reply: 'BYE',
    responseCode: 'UNAVAILABLE',
    text: 'INBOX UIDs grew past what this server translates; please reconnect',
  },
  /**
   * After login, a literal on a command the proxy does not know to read literals (NOOP {5}):
   * servers disagree on whether its bytes are data or the next command, so it never goes upstream
   * (imap/literal-rules.ts).
   */
  unexpectedLiteral: { code: 'INLAY_PROXY_UNEXPECTED_LITERAL', reply: 'BAD', responseCode: 'CLIENTBUG', text: 'Error in IMAP command: no literal expected here' },
  /** "{}" after the first line of a command: part of it is upstream already, so the session ends. */
  malformedLiteral: { code: 'INLAY_PROXY_MALFORMED_LITERAL', reply: 'BYE', responseCode: 'CLIENTBUG', text: 'Malformed literal in a command under way' },
  /** After login, a literal larger than the server would take; Dovecot disconnects the same way. */
  literalBeyondLimit: { code: 'INLAY_PROXY_LITERAL_BEYOND_LIMIT', reply: 'BYE', responseCode: 'TOOBIG', text: 'Literal size too large' },
  /** A change to a campaign message (flags, expunge) the middleware did not confirm: refused rather
   *  than acknowledged and lost (proxy/README.md, "When the middleware fails"). The session goes on. */
  campaignStateUnavailable: {
    code: 'INLAY_PROXY_CAMPAIGN_STATE_UNAVAILABLE',
    reply: 'NO',
    responseCode: 'UNAVAILABLE',
    text: 'Campaign message could not be updated right now; try again later',
  },
  /** The view state behind a selected INBOX began again (InboxView.stateEpoch moved: tenant
   *  dropped and re-created): its UIDs now name other messages, so the session ends and the
   *  client's next SELECT resyncs under the new UIDVALIDITY. */
  viewStateLost: {
    code: 'INLAY_PROXY_VIEW_STATE_LOST',
    reply: 'BYE',
    responseCode: 'UNAVAILABLE',
    text: 'INBOX state was reset; please reconnect',
  },
  /** A command the INBOX view does not know, while INBOX is selected: it may carry sequence
   *  numbers or UIDs in the client's numbering, which the server would take for its own
   *  (issue 11, item 10: Cyrus' UID XMOVE moved another message). Refused, never passed on. */
  commandNotInInbox: { code: 'INLAY_PROXY_COMMAND_NOT_IN_INBOX', reply: 'BAD', text: 'Command not supported in INBOX through this proxy' },
  /** SELECT/EXAMINE INBOX with parameters (CONDSTORE, QRESYNC …): extensions the proxy hides. */
  selectParametersRefused: { code: 'INLAY_PROXY_SELECT_PARAMETERS', reply: 'BAD', text: 'SELECT/EXAMINE parameters are not supported for INBOX through this proxy' },
  /** A bug in the proxy while relaying one session: that session ends, every other goes on. */
  internalError: { code: 'INLAY_PROXY_INTERNAL_ERROR', reply: 'BYE', responseCode: 'SERVERBUG', text: 'Internal error in the proxy; please reconnect' },
} as const satisfies Record<string, ProxyErrorDefinition>;

export type ProxyErrorName = keyof typeof PROXY_ERRORS;

/** The IMAP line for an error; `tag` is "*" for untagged BYE/BAD. */
export function imapErrorLine(tag: string, error: ProxyErrorDefinition, detail?: string): Buffer {
  const code = error.responseCode ? `[${error.responseCode}] ` : '';
  const text = detail ? `${error.text}: ${detail}` : error.text;
  const effectiveTag = error.reply === 'BYE' ? '*' : tag;
  return Buffer.from(`${effectiveTag} ${error.reply} ${code}${text}\r\n`, 'latin1');
}

/** How the POP3 listener (pop3/) refuses or ends something: `-ERR`, with an RFC 2449 / RFC 3206
 *  response code where one fits. `closes`: the connection ends after the line. */
export interface Pop3ErrorDefinition {
  readonly code: `INLAY_PROXY_POP3_${string}`;
  readonly responseCode?: 'SYS/TEMP' | 'SYS/PERM' | 'AUTH' | 'IN-USE' | 'LOGIN-DELAY';
  readonly text: string;
  readonly closes?: true;
}

export const POP3_ERRORS = {
  lineTooLong: { code: 'INLAY_PROXY_POP3_LINE_TOO_LONG', text: 'Command line too long' },
  unknownCommand: { code: 'INLAY_PROXY_POP3_UNKNOWN_COMMAND', text: 'Unknown command' },
  badArguments: { code: 'INLAY_PROXY_POP3_BAD_ARGUMENTS', text: 'Invalid arguments' },
  wrongState: { code: 'INLAY_PROXY_POP3_WRONG_STATE', text: 'Command not valid in this state' },
  noSuchMessage: { code: 'INLAY_PROXY_POP3_NO_SUCH_MESSAGE', text: 'No such message' },
  messageDeleted: { code: 'INLAY_PROXY_POP3_MESSAGE_DELETED', text: 'Message is deleted' },
  userFirst: { code: 'INLAY_PROXY_POP3_USER_FIRST', text: 'USER first' },
  tooManyBadCommands: { code: 'INLAY_PROXY_POP3_TOO_MANY_BAD_COMMANDS', text: 'Too many invalid commands', closes: true },
  privacyRequired: { code: 'INLAY_PROXY_POP3_PRIVACY_REQUIRED', responseCode: 'AUTH', text: 'Start TLS (STLS) before logging in' },
  tlsUnavailable: { code: 'INLAY_PROXY_POP3_TLS_UNAVAILABLE', text: 'STLS is not available' },
  tlsAlreadyActive: { code: 'INLAY_PROXY_POP3_TLS_ACTIVE', text: 'TLS is already active' },
  /** Bytes pipelined behind STLS would be read as if they came over TLS (CVE-2011-0411 class). */
  stlsInjection: { code: 'INLAY_PROXY_POP3_STLS_INJECTION', text: 'Data sent after STLS before the TLS handshake; refused', closes: true },
  mechanismUnsupported: { code: 'INLAY_PROXY_POP3_MECHANISM_UNSUPPORTED', text: 'Unsupported authentication mechanism' },
  authCancelled: { code: 'INLAY_PROXY_POP3_AUTH_CANCELLED', text: 'Authentication cancelled' },
  authMalformed: { code: 'INLAY_PROXY_POP3_AUTH_MALFORMED', text: 'Invalid SASL PLAIN response' },
  upstreamUnavailable: { code: 'INLAY_PROXY_POP3_UPSTREAM_UNAVAILABLE', responseCode: 'SYS/TEMP', text: 'Mail server temporarily unavailable, try again later' },
  upstreamLost: { code: 'INLAY_PROXY_POP3_UPSTREAM_LOST', responseCode: 'SYS/TEMP', text: 'Connection to the mail server lost', closes: true },
  preAuthTimeout: { code: 'INLAY_PROXY_POP3_PREAUTH_TIMEOUT', text: 'Timed out waiting for login', closes: true },
  idleTimeout: { code: 'INLAY_PROXY_POP3_IDLE_TIMEOUT', text: 'Autologout; idle for too long', closes: true },
  tooManyConnections: { code: 'INLAY_PROXY_POP3_TOO_MANY_CONNECTIONS', responseCode: 'SYS/TEMP', text: 'Too many connections, try again later', closes: true },
  shuttingDown: { code: 'INLAY_PROXY_POP3_SHUTDOWN', responseCode: 'SYS/TEMP', text: 'Server shutting down, reconnect shortly', closes: true },
  /** QUIT committed the server's deletions but the middleware did not confirm a campaign
   *  message's: RFC 1939 §6 answers -ERR "some deleted messages not removed". */
  campaignDeleteUnconfirmed: { code: 'INLAY_PROXY_POP3_CAMPAIGN_DELETE_UNCONFIRMED', responseCode: 'SYS/TEMP', text: 'Some deleted messages not removed', closes: true },
  internalError: { code: 'INLAY_PROXY_POP3_INTERNAL_ERROR', responseCode: 'SYS/TEMP', text: 'Internal error in the proxy; please reconnect', closes: true },
} as const satisfies Record<string, Pop3ErrorDefinition>;

/** The POP3 line for an error. */
export function pop3ErrorLine(error: Pop3ErrorDefinition, detail?: string): string {
  const code = error.responseCode ? `[${error.responseCode}] ` : '';
  return `-ERR ${code}${detail ? `${error.text}: ${detail}` : error.text}\r\n`;
}

/**
 * Codes of things the proxy logs but never tells a client: the campaign side failing must not
 * change what the user sees beyond the missing campaign messages.
 */
export const ENGINE_LOG_CODES = {
  /** The middleware did not answer in time, or answered with an error: no injection meanwhile. */
  unavailable: 'INLAY_PROXY_ENGINE_UNAVAILABLE',
  /** Calls in a row got no answer: none is made for engine.suspendMs (logged once per suspension). */
  suspended: 'INLAY_PROXY_ENGINE_SUSPENDED',
  /** The first call after a suspension or an outage was answered: injection resumes. */
  resumed: 'INLAY_PROXY_ENGINE_RESUMED',
  /** A COPY/MOVE of a virtual message could not be materialised in the destination. */
  materialiseFailed: 'INLAY_PROXY_MATERIALISE_FAILED',
  /** No internal token configured and none readable or writable in the data directory: the
   *  proxy runs without injection. */
  noInternalToken: 'INLAY_PROXY_NO_INTERNAL_TOKEN',
} as const;

/** Codes of the client-facing TLS certificate reload (SIGHUP); nothing a mail client sees. */
export const TLS_LOG_CODES = {
  /** The new certificate and key are in use for new handshakes. */
  reloaded: 'INLAY_PROXY_TLS_RELOADED',
  /** The new pair could not be used; the old one stays. */
  reloadRefused: 'INLAY_PROXY_TLS_RELOAD_REFUSED',
} as const;

/** Codes the operations listener (ops/ops-server.ts) logs; nothing a mail client sees. */
export const OPS_LOG_CODES = {
  /** A readiness probe found the upstream IMAP server not accepting connections: /readyz is 503. */
  notReady: 'INLAY_PROXY_NOT_READY',
} as const;
