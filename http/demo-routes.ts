import express, { Router } from 'express';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { packagePath } from '../config/paths.ts';

const clientDir = packagePath('client');
const require = createRequire(import.meta.url);
const scClientBundle = join(
  dirname(require.resolve('socketcluster-client/package.json')),
  'socketcluster-client.min.js',
);

/**
 * The demo page (`GET /`) and the browser client it uses: `client/public/` as static files,
 * `client/warden-client.js`, and socketcluster-client's own browser bundle from node_modules.
 */
export function createDemoRoutes(): Router {
  const router = Router();
  const headers = (response: express.Response) => {
    response.setHeader('X-Content-Type-Options', 'nosniff');
    response.setHeader('Cache-Control', 'no-cache');
  };
  router.get('/vendor/socketcluster-client.min.js', (_request, response) => {
    headers(response);
    response.sendFile(scClientBundle);
  });
  router.get('/warden-client.js', (_request, response) => {
    headers(response);
    response.sendFile(join(clientDir, 'warden-client.js'));
  });
  router.use(
    express.static(join(clientDir, 'public'), {
      index: 'index.html',
      setHeaders: (response) => {
        response.setHeader('X-Content-Type-Options', 'nosniff');
        response.setHeader(
          'Content-Security-Policy',
          "default-src 'self'; connect-src 'self' ws: wss:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
        );
      },
    }),
  );
  return router;
}
