/**
 * The process's root logger: pino JSON on stdout, one child per connection (`cid`).
 * Credentials are never handed to the logger in the first place; the redaction below is the
 * second line of defence for fields that could carry one by mistake.
 */
import { pino, type Logger } from 'pino';

export function createLogger(level: string, service: string): Logger {
  return pino({
    level,
    base: { service, pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: ['password', '*.password', 'adminToken', '*.adminToken', 'secretKey', '*.secretKey'], censor: '[redacted]' },
  });
}
