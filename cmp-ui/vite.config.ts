// Vite builds the UI into dist/ (served by the middleware at /); `npm run dev -w cmp-ui` serves it
// with hot reload and sends /api to a running middleware (INLAY_API, default 127.0.0.1:8080).
import { defineConfig } from 'vite';

export default defineConfig({
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022', sourcemap: false, reportCompressedSize: false, modulePreload: { polyfill: false } },
  server: { proxy: { '/api': process.env['INLAY_API'] ?? 'http://127.0.0.1:8080' } },
});
