export * from './config.js';
export * from './config-loader.js';
export * from './text.js';
export * from './tenant.js';
export * from './tenant-token.js';
export * from './api-error.js';
export * from './campaign.js';
export * from './import.js';
