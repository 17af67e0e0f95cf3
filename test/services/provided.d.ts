// Types for what global-setup.ts hands to test files via `inject(...)`.
import type { DovecotInfo } from './dovecot.ts';
import type { CyrusInfo } from './cyrus.ts';
import type { CassandraInfo } from './cassandra.ts';
import type { S3Info } from './s3proxy.ts';
import type { RabbitMqInfo } from './rabbitmq.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    dovecot: DovecotInfo;
    cyrus: CyrusInfo;
    cassandra: CassandraInfo;
    s3: S3Info;
    rabbitmq: RabbitMqInfo;
  }
}
