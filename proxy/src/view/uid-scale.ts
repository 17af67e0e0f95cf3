/**
 * Which server UIDs the INBOX view can translate, and what happens past them. A client UID is
 * the server's × UID_SCALE (16) and may be at most 2^32 − 1, so server UIDs above 2^28 − 1 have
 * none (proxy/README.md, "UIDs and sequence numbers"). An INBOX whose UIDNEXT is past that is
 * shown untranslated; a session showing it translated that meets such a UID ends.
 */
import type { Logger } from 'pino';
import { UID_SCALE } from '@inlay/schemas';
import { PROXY_ERRORS } from '../errors.js';

/** The highest server UID that still scales to a UID a client may be given: 2^28 − 1. */
export const MAX_SCALABLE_SERVER_UID = Math.floor(0xffff_ffff / UID_SCALE);

/**
 * A server UID past MAX_SCALABLE_SERVER_UID in an INBOX the session shows translated: no UID
 * can stand for it. The session ends (BYE); its next SELECT shows the INBOX untranslated
 * (`scalable`), under the server's own UIDVALIDITY, so the client resyncs once.
 */
export class UidBeyondScaleError extends Error {
  constructor(readonly serverUid: number) {
    super(`server UID ${serverUid} is above ${MAX_SCALABLE_SERVER_UID}, the highest the proxy can translate`);
    this.name = 'UidBeyondScaleError';
  }
}

/** Why such a session ended, in the relay's end-of-session log line. */
export const UID_SCALE_END_REASON = 'INBOX UIDs beyond the translatable range';

/** Whether every UID of an INBOX whose server UIDNEXT is this can be translated. */
export function scalable(serverUidNext: number): boolean {
  return serverUidNext - 1 <= MAX_SCALABLE_SERVER_UID;
}

/**
 * Whether `err` is a UidBeyondScaleError, logged: the caller then ends the session — nothing it
 * could still say of this INBOX would be true. False for any other error.
 */
export function endsSessionForUidScale(log: Logger, err: unknown): boolean {
  if (!(err instanceof UidBeyondScaleError)) return false;
  log.warn(
    { code: PROXY_ERRORS.inboxUidsBeyondScale.code, serverUid: err.serverUid, maxUid: MAX_SCALABLE_SERVER_UID },
    'INBOX UIDs grew past what the proxy translates; ending the session (its next SELECT shows the INBOX untranslated)',
  );
  return true;
}
