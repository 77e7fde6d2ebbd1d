import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The web console: a React SPA served by the gateway at /console/ (index.html fallback for deep links).
// No @vitejs/plugin-react: Vite 8's built-in oxc transform compiles .tsx with the automatic JSX runtime.
// `vite` / `vite preview` proxy the API to GATEWAY_URL (default the local gateway) so the console can be
// tried before the gateway serves it.
const root = fileURLToPath(new URL('.', import.meta.url));
const gateway = process.env.GATEWAY_URL ?? 'http://127.0.0.1:8080';
const proxy = {
  '/v1': { target: gateway, changeOrigin: true },
  '/admin': { target: gateway, changeOrigin: true },
};

export default defineConfig({
  root,
  base: '/console/',
  oxc: { jsx: { runtime: 'automatic', importSource: 'react' } },
  server: { proxy },
  preview: { proxy },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 600,
    rolldownOptions: {
      // React Query's "use client" directives mean nothing in a SPA bundle
      onwarn(warning, warn) {
        if (warning.code === 'MODULE_LEVEL_DIRECTIVE') return;
        warn(warning);
      },
      output: {
        // recharts goes to its own chunk through the lazy import of src/charts.tsx; React and friends to vendor
        codeSplitting: {
          groups: [
            { name: 'vendor', test: /node_modules[\\/](react|react-dom|scheduler|react-router|react-router-dom|@tanstack|cookie|set-cookie-parser)[\\/]/, priority: 10 },
          ],
        },
      },
    },
  },
});
