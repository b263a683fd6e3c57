import { defineConfig, type Plugin } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// The live job writes the canister ids here; `npm run dev` serves it as /config.json, as the frontend
// canister does.
const liveConfig = fileURLToPath(new URL('../.icp/data/frontend-config.json', import.meta.url));
const replica = 'http://127.0.0.1:4943';

function devConfig(): Plugin {
  return {
    name: 'neuranft-dev-config',
    configureServer(server) {
      server.middlewares.use('/config.json', (_req, res) => {
        if (!existsSync(liveConfig)) {
          res.statusCode = 503;
          res.setHeader('content-type', 'text/plain');
          res.end(`${liveConfig} does not exist: start the live system (scripts/run.sh) first`);
          return;
        }
        res.setHeader('content-type', 'application/json');
        res.setHeader('cache-control', 'no-store');
        res.end(readFileSync(liveConfig));
      });
    },
  };
}

export default defineConfig({
  plugins: [svelte(), devConfig()],
  base: '/',
  build: {
    outDir: 'dist',
    assetsDir: 'assets',
    sourcemap: false,
    emptyOutDir: true,
    target: 'es2022',
  },
  server: {
    port: 5173,
    strictPort: true,
    proxy: {
      '/api': { target: replica, changeOrigin: false },
    },
  },
});
