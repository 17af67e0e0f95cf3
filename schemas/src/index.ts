export * from './config.js';
export * from './config-loader.js';
