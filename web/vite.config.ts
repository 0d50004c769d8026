// Build of the Drover web app: `npx vite build web` writes static files to web/dist, which the
// coordinator serves at `/`. Relative asset URLs (base './') keep it working behind a path prefix.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import preact from '@preact/preset-vite';

const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root,
  base: './',
  plugins: [preact({ prefreshEnabled: false, devToolsEnabled: false })],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2020',
    assetsInlineLimit: 0,
    sourcemap: false,
    reportCompressedSize: false,
  },
  server: {
    // `npx vite web` for development: proxy the API to a coordinator on the default port.
    proxy: { '/api': { target: process.env.DROVER_URL ?? 'http://127.0.0.1:8686', changeOrigin: true } },
  },
});
