/**
 * The process's root logger: pino JSON lines on stdout; Fastify adds a child per request (`reqId`).
 * Secrets are never handed to the logger in the first place; the redaction below is the second
 * line of defence for fields that could carry one by mistake. Must never be given a request
 * body or an Authorization header to log.
 */
import { pino, type Logger } from 'pino';

export function createLogger(level: string, service: string): Logger {
  return pino({
    level,
    base: { service, pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: ['req.headers.authorization', 'authorization', 'token', '*.token', 'adminToken', '*.adminToken', 'secretKey', '*.secretKey', 'password', '*.password'],
      censor: '[redacted]',
    },
  });
}
