/**
 * The process's root logger: pino JSON on stdout, one child per connection (`cid`).
 * Credentials are never handed to the logger in the first place; the redaction below is the
 * second line of defence for fields that could carry one by mistake.
 *
 * Lines are batched: one write() per line cost about a third of the proxy's CPU per login.
 * They leave when 8 KiB have gathered or after at most FLUSH_INTERVAL_MS, and flushLogs()
 * writes out the rest before the process exits.
 */
import { pino, type Logger } from 'pino';

/** How stale a log line may get before it is written, at the quietest. */
const FLUSH_INTERVAL_MS = 100;
const destination = pino.destination({ dest: 1, sync: false, minLength: 8192 });
setInterval(() => destination.flush(), FLUSH_INTERVAL_MS).unref();

export function createLogger(level: string, service: string): Logger {
  return pino(
    {
      level,
      base: { service, pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: ['password', '*.password', 'adminToken', '*.adminToken', 'secretKey', '*.secretKey'], censor: '[redacted]' },
    },
    destination,
  );
}

/** Writes out what is buffered; call before process.exit(). */
export function flushLogs(): void {
  try {
    destination.flushSync();
  } catch {
    // Nothing written yet (the destination opens on first write): nothing to flush.
  }
}
