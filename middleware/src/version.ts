/** The middleware's version, as in its package.json; shown in the OpenAPI document and logs.
 *  Must never be hard-coded: package.json is the one place it changes. */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
export const MIDDLEWARE_VERSION: string = (require('../package.json') as { version: string }).version;
