import { createRequire } from 'node:module';

/** The package version, reported in IMAP ID and logs. */
export const PROXY_VERSION: string = (createRequire(import.meta.url)('../package.json') as { version: string }).version;
